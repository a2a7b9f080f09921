"""Using a trained model: text in, text out, and corpus-level scores.

The facade the CLI, the studio and notebooks share (JoeyNMT's hub_interface idea): it owns the
conventions (normalisation, length caps, batching, detokenisation) so callers pass plain strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sacrebleu
import torch

from .batching import make_batch, sorted_batches
from .checkpoint import Checkpoint, load_checkpoint
from .device import pick_device
from .search import greedy_search
from .text import normalize

#: Inputs longer than this many pieces are cut (with a notice), keeping decode time bounded.
MAX_INPUT_PIECES = 200


@dataclass(frozen=True)
class PreparedSource:
    text: str  # the normalised sentence
    ids: list[int]  # piece ids, truncated to MAX_INPUT_PIECES
    truncated: bool


class Translator:
    def __init__(self, checkpoint: Checkpoint, device: str | torch.device | None = None):
        self.checkpoint = checkpoint
        self.device = torch.device(device) if device is not None else next(checkpoint.model.parameters()).device
        self.model = checkpoint.model.to(self.device).eval()
        self.tokenizers = checkpoint.tokenizers

    @classmethod
    def from_path(cls, path: str | Path, device: str = "auto") -> Translator:
        dev = pick_device(device)
        return cls(load_checkpoint(path, dev), dev)

    def prepare(self, sentence: str) -> PreparedSource:
        text = normalize(sentence)
        ids = self.tokenizers.src.encode(text)
        return PreparedSource(text, ids[:MAX_INPUT_PIECES], len(ids) > MAX_INPUT_PIECES)

    @torch.no_grad()
    def translate(self, sentences: list[str], *, batch_size: int = 64, max_ratio: float = 2.0) -> list[str]:
        """Greedy translations, in input order. Empty inputs give empty outputs."""
        prepared = [self.prepare(s) for s in sentences]
        outputs = [""] * len(prepared)
        todo = [i for i, p in enumerate(prepared) if p.ids]
        for chunk in sorted_batches([len(prepared[i].ids) for i in todo], batch_size):
            index = [todo[k] for k in chunk]
            batch = make_batch([prepared[i].ids for i in index]).to(self.device)
            for i, ids in zip(index, greedy_search(self.model, batch.src, batch.src_lengths, max_ratio=max_ratio)):
                outputs[i] = self.tokenizers.tgt.decode(ids)
        return outputs


def corpus_scores(hypotheses: list[str], references: list[str]) -> dict[str, float]:
    """BLEU and chrF from sacrebleu (the reference implementation; never re-implemented here)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    bleu = sacrebleu.corpus_bleu(hypotheses, [references])
    chrf = sacrebleu.corpus_chrf(hypotheses, [references])
    return {"bleu": round(bleu.score, 2), "chrf": round(chrf.score, 2), "sentences": len(hypotheses)}
