"""Training replay: one sentence through every snapshot of a run, to watch the model learn it.

For each snapshot (``nmt_core.snapshots``) and the final model: the snapshot's own greedy translation, its
attention and its gradient flow, and the dev BLEU it had. Attention and gradients are computed on ONE target, the
final model's translation, so the matrices keep their rows from frame to frame and a student sees the same
matrix sharpen rather than a different matrix each time; the translation each snapshot would itself produce is
shown as text beside it.

The result is plain tables (``TrainingReplay``) that a chart animates in the browser and that a shipped model
stores as JSON beside its checkpoint (``save_json``/``load_json``): a model shipped in the repository cannot
carry a dozen weight snapshots, but it can carry what the replay shows for its example sentences.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..checkpoint import Checkpoint
from ..text import normalize
from .attention import attention_matrix
from .gradients import gradient_flow
from .sentence import prepare

FORMAT = "nmt-studio-training-replay"


@dataclass(frozen=True, eq=False)
class TrainingReplay:
    sentence: str
    target: str  # the final model's translation, which attention and gradients are computed on
    frames: pd.DataFrame  # one row per snapshot: frame, step, label, translation, dev_bleu, train_loss
    attention: pd.DataFrame  # frame, t, s, tgt, src, weight (empty without attention)
    gradients: pd.DataFrame  # frame, layer, direction, s, src, grad_norm: ‖dL/dh_s‖ per encoder state

    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "sentence": self.sentence, "target": self.target,
                "frames": self.frames.to_dict("records"), "attention": self.attention.to_dict("records"),
                "gradients": self.gradients.to_dict("records")}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainingReplay:
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise ValueError("not a training replay (format field missing or wrong)")
        return cls(str(raw["sentence"]), str(raw["target"]), pd.DataFrame(raw["frames"]),
                   pd.DataFrame(raw["attention"]), pd.DataFrame(raw["gradients"]))


def _frame(model, tokenizers, sentence: str, target: str, k: int) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    own = prepare(model, tokenizers, sentence).tgt_text  # the snapshot's own greedy translation
    attention = pd.DataFrame()
    if model.attention is not None:
        attention = attention_matrix(model, tokenizers, sentence, target).to_frame().assign(frame=k)
    flow = gradient_flow(model, tokenizers, sentence, target)
    rows = [{"frame": k, "layer": layer, "direction": direction, "s": s, "src": flow.src_pieces[s],
             "grad_norm": float(v)} for (layer, direction), norms in flow.encoder.items() for s, v in enumerate(norms)]
    return own, attention, pd.DataFrame(rows)


def training_replay(snapshots: list[Checkpoint], final: Checkpoint, sentence: str) -> TrainingReplay:
    """Replay ``sentence`` through ``snapshots`` (step order) and ``final`` (the model the run ended with)."""
    sentence = normalize(sentence)
    models = [*snapshots, final]
    target = prepare(final.model.eval(), final.tokenizers, sentence).tgt_text
    if not target.strip():
        raise ValueError("the final model translates this sentence to nothing: there is no target to replay on")
    frames, attention, gradients = [], [], []
    for k, ckpt in enumerate(models):
        own, att, grad = _frame(ckpt.model.eval(), ckpt.tokenizers, sentence, target, k)
        is_final = k == len(models) - 1
        metrics = ckpt.metrics or {}
        frames.append({"frame": k, "step": int(ckpt.step), "label": f"step {ckpt.step}" + (" (final)" if is_final
                                                                                           else ""),
                       "translation": own, "dev_bleu": metrics.get("bleu" if is_final else "dev_bleu"),
                       "train_loss": metrics.get("train_loss")})
        attention.append(att)
        gradients.append(grad)
    return TrainingReplay(sentence, target, pd.DataFrame(frames), pd.concat(attention, ignore_index=True),
                          pd.concat(gradients, ignore_index=True))


def save_json(replays: list[TrainingReplay], path: str | Path) -> None:
    """The replays of a shipped model's example sentences, as one JSON file beside its checkpoint."""
    Path(path).write_text(json.dumps({"format": FORMAT + "-set", "replays": [r.to_dict() for r in replays]},
                                     ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def load_json(path: str | Path) -> list[TrainingReplay]:
    """Replays stored by ``save_json``; a ValueError naming the file when it is not one."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        if raw.get("format") != FORMAT + "-set":
            raise ValueError("format field missing or wrong")
        return [TrainingReplay.from_dict(r) for r in raw["replays"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise ValueError(f"{path}: not a training replay file ({err})") from None
