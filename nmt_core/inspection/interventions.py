"""What-if experiments: change one thing inside the model, decode again, and see what changed.

Two kinds of intervention (``model.Intervention``):

* ``blocked_source``: attention may not look at these source positions (their scores are set to −inf
  before the softmax, so the remaining weights are renormalised).
* ``clamp_gates``: (side, layer, direction, gate, unit, value) fixes one unit of one gate at every
  step, e.g. an LSTM forget gate at 0 (the unit forgets everything each step) or an output gate at 0
  (the unit's h is exactly 0). Clamping runs on the replay path, since the fused kernel cannot be clamped.

Both decodings are greedy. Besides the two outputs, the result reports how the intervened model scores
the *original* output (``after_score_of_before``): an intervention can hurt without changing the argmax.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..equations import GATE_NAMES
from ..model import Intervention, Seq2Seq
from ..tokenizer import TokenizerPair
from .sentence import Decoded, greedy, prepare, teacher_forced


@dataclass(frozen=True, eq=False)  # holds arrays: no element-wise __eq__
class InterventionResult:
    intervention: Intervention
    src_pieces: tuple[str, ...]  # (S,) with "</s>"
    before_pieces: tuple[str, ...]  # greedy output without the intervention (no </s>)
    after_pieces: tuple[str, ...]  # greedy output with it
    before_text: str
    after_text: str
    before_log_probs: np.ndarray  # per step (the final </s> step included when produced)
    after_log_probs: np.ndarray
    after_score_of_before: float  # log p(original output | x) under the intervened model (same steps)
    attention_before: np.ndarray | None  # (steps, S)
    attention_after: np.ndarray | None

    @property
    def before_score(self) -> float:
        """Sum of log-probabilities of the original output (the model score greedy maximised locally)."""
        return float(self.before_log_probs.sum())

    @property
    def after_score(self) -> float:
        return float(self.after_log_probs.sum())

    @property
    def changed(self) -> bool:
        return self.before_pieces != self.after_pieces

    @property
    def first_change(self) -> int | None:
        """The first output position where the two decodings differ (None if identical)."""
        for t, (a, b) in enumerate(zip(self.before_pieces, self.after_pieces)):
            if a != b:
                return t
        return None if not self.changed else min(len(self.before_pieces), len(self.after_pieces))

    def to_frame(self) -> pd.DataFrame:
        """One row per output step: t, before, after, same, before_logp, after_logp."""
        n = max(len(self.before_log_probs), len(self.after_log_probs))
        pad = lambda seq, k: [*seq, "</s>", *[""] * k][:n]  # noqa: E731
        logp = lambda a: [*map(float, a), *[float("nan")] * (n - len(a))]  # noqa: E731
        before, after = pad(self.before_pieces, n), pad(self.after_pieces, n)
        return pd.DataFrame({"t": range(n), "before": before, "after": after,
                             "same": [a == b for a, b in zip(before, after)],
                             "before_logp": logp(self.before_log_probs), "after_logp": logp(self.after_log_probs)})

    def to_dict(self) -> dict:
        arr = lambda a: None if a is None else np.round(np.asarray(a, dtype=float), 6).tolist()  # noqa: E731
        return {"intervention": {"blocked_source": list(self.intervention.blocked_source),
                                 "clamp_gates": [list(c) for c in self.intervention.clamp_gates]},
                "src_pieces": list(self.src_pieces), "before": self.before_text, "after": self.after_text,
                "before_pieces": list(self.before_pieces), "after_pieces": list(self.after_pieces),
                "before_score": self.before_score, "after_score": self.after_score,
                "after_score_of_before": self.after_score_of_before, "changed": self.changed,
                "first_change": self.first_change, "attention_before": arr(self.attention_before),
                "attention_after": arr(self.attention_after)}


def clamp_gate(side: str, layer: int, direction: int, gate: str, unit: int, value: float) -> Intervention:
    """An Intervention that fixes one unit of one gate, e.g. clamp_gate("decoder", 0, 0, "o", 3, 0.0)."""
    return Intervention(clamp_gates=((side, layer, direction, gate, unit, float(value)),))


def keep_only_source(position: int, source_length: int) -> Intervention:
    """Block every source position but one (``source_length`` counts the final </s>)."""
    return Intervention(blocked_source=tuple(s for s in range(source_length) if s != position))


def intervene(model: Seq2Seq, tokenizers: TokenizerPair, src_text: str, intervention: Intervention,
              *, max_ratio: float = 2.0) -> InterventionResult:
    """Greedy-decode ``src_text`` with and without ``intervention`` and report the difference."""
    prep = prepare(model, tokenizers, src_text, None, max_ratio=max_ratio)
    validate(model, intervention, len(prep.src_ids))
    max_len = int(len(prep.src_ids) * max_ratio) + 5
    before = greedy(model, prep.src_ids, max_len=max_len)
    after = greedy(model, prep.src_ids, max_len=max_len, intervention=intervention)
    with torch.no_grad():
        rescored = teacher_forced(model, prep, trace=bool(intervention.clamp_gates), intervention=intervention)
    tgt = tokenizers.tgt
    return InterventionResult(
        intervention, prep.src_pieces,
        tuple(tgt.display_pieces(before.ids)), tuple(tgt.display_pieces(after.ids)),
        tgt.decode(before.ids), tgt.decode(after.ids),
        np.asarray(before.log_probs), np.asarray(after.log_probs),
        float(rescored.log_probs[:len(before.log_probs)].sum()), _attention(before), _attention(after))


def _attention(decoded: Decoded) -> np.ndarray | None:
    return None if decoded.attention is None else np.asarray(decoded.attention)


def validate(model: Seq2Seq, intervention: Intervention, source_length: int) -> None:
    """Reject interventions that name gates, layers or units the model does not have."""
    cfg = model.cfg
    blocked = set(intervention.blocked_source)
    if blocked:
        if model.attention is None:
            raise ValueError("this model has no attention: there is nothing to block")
        if blocked >= set(range(source_length)):
            raise ValueError("at least one source position must stay visible to attention")
        bad = [s for s in blocked if not 0 <= s < source_length]
        if bad:
            raise ValueError(f"source positions {bad} are outside 0..{source_length - 1}")
    for side, layer, direction, gate, unit, _ in intervention.clamp_gates:
        layers = cfg.encoder_layers if side == "encoder" else cfg.decoder_layers
        directions = 2 if side == "encoder" and cfg.bidirectional else 1
        checks = [
            (side in ("encoder", "decoder"), f"side must be 'encoder' or 'decoder', got {side!r}"),
            (gate in GATE_NAMES[cfg.cell], f"a {cfg.cell} has no gate {gate!r}; it has {GATE_NAMES[cfg.cell]}"),
            (0 <= layer < layers, f"{side} layer {layer} does not exist (0..{layers - 1})"),
            (0 <= direction < directions, f"{side} direction {direction} does not exist (0..{directions - 1})"),
            (0 <= unit < cfg.hidden_size, f"unit {unit} does not exist (0..{cfg.hidden_size - 1})"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
