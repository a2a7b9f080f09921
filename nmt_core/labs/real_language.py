"""Labs on real English→German: the bottleneck and greedy-vs-beam measured on the shipped Tatoeba models.

Why the shipped models: the lecture's figures are about real language, and training two real models for a
live lab does not fit a lesson; the shipped pair (``tatoeba-en-de`` with attention, ``tatoeba-en-de-noattn``
without, the same recipe otherwise) already differs only in attention. Both are scored on held-out test pairs no
sentence of which occurs in their training data: the checkpoint's own test sample (1,000 pairs) or, with
``data/tatoeba/deu.txt`` present and the full budget, the whole 2,000-pair test split.

One caveat is measured, not hidden: the no-attention model trained for 20 minutes, the attention model for 57;
the ``models`` table gives both, so a reader can weigh the difference (``docs/labs.md``).

``bottleneck-en-de`` tables: ``bleu_by_length`` (variant, bucket, lo, hi, sentences, bleu, chrf) and ``models``.
``greedy-vs-beam-en-de`` tables: ``sentences``, ``wins``, ``summary`` as in the toy lab.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..checkpoint import Checkpoint, load_checkpoint
from ..translator import Translator
from .bottleneck import bleu_by_length
from .common import LabResult, Progress, Stopwatch, say
from .greedy_vs_beam import compare, summarise
from .variants import bleu

ROOT = Path(__file__).resolve().parents[2]
MODELS = {"attention": "tatoeba-en-de", "no attention": "tatoeba-en-de-noattn"}
#: test sentences per budget (``full``: every pair of the test split, when the corpus is here)
SENTENCES = {"tiny": 12, "small": 400, "full": None}


def _checkpoint(name: str, checkpoints: Path) -> Checkpoint:
    path = checkpoints / f"{name}.pt"
    if not path.exists():
        raise ValueError(f"{path} is missing: the real-language labs use the shipped English-German models")
    return load_checkpoint(path)


def test_pairs(ckpt: Checkpoint, budget: str) -> tuple[list[str], list[str], str]:
    """Held-out (source, reference) pairs: the whole test split for ``full`` when the corpus is readable, else
    the checkpoint's stored sample; cut to the budget's size."""
    limit = SENTENCES[budget]
    if limit is None:
        try:
            from ..data import make_splits

            test = make_splits(ckpt.config.data)[0].test
            return test.src, test.tgt, "the whole test split"
        except (OSError, ValueError):
            pass
    sample = ckpt.extra.get("test_sample") or {}
    src, tgt = list(sample.get("src", [])), list(sample.get("tgt", []))
    if not src:
        raise ValueError("the checkpoint carries no test sample and the corpus is not here")
    n = len(src) if limit is None else min(limit, len(src))
    return src[:n], tgt[:n], str(sample.get("source", "the checkpoint's test sample"))


def run_bottleneck(budget: str = "small", *, seed: int = 0, work_dir=None, progress: Progress = None,
                   checkpoints: Path | None = None) -> LabResult:
    """BLEU by source length for the shipped attention and no-attention models (greedy decoding)."""
    clock, folder = Stopwatch(), checkpoints or ROOT / "checkpoints"
    buckets, models, source = [], [], ""
    for variant, name in MODELS.items():
        ckpt = _checkpoint(name, folder)
        src, refs, source = test_pairs(ckpt, budget)
        hyps = Translator(ckpt, "cpu").translate(src)
        table = bleu_by_length(src, hyps, refs)
        table.insert(0, "variant", variant)
        buckets.append(table)
        trained = max((h.get("elapsed_s", 0) for h in ckpt.history), default=0)
        models.append({"variant": variant, "checkpoint": f"{name}.pt", "steps": ckpt.step,
                       "training_minutes": round(trained / 60, 1), "test_bleu": bleu(hyps, refs),
                       "test_sentences": len(src)})
        say(progress, f"bottleneck-en-de: {variant}: BLEU {models[-1]['test_bleu']} on {len(src)} sentences")
    tables = {"bleu_by_length": pd.concat(buckets, ignore_index=True), "models": pd.DataFrame(models)}
    info = {"data": source, "decoding": "greedy", "seconds": clock.seconds()}
    return LabResult("bottleneck-en-de", budget, tables, "bleu_by_length", info)


def run_greedy_vs_beam(budget: str = "small", *, seed: int = 0, work_dir=None, progress: Progress = None,
                       checkpoints: Path | None = None, beam_size: int = 5) -> LabResult:
    """Greedy against beam search (k = 5, no length penalty) on the shipped attention model."""
    clock = Stopwatch()
    ckpt = _checkpoint(MODELS["attention"], checkpoints or ROOT / "checkpoints")
    src, refs, source = test_pairs(ckpt, budget)
    sentences = pd.DataFrame(compare(ckpt, src, refs, beam_size=beam_size))
    wins, summary = summarise(sentences, beam_size)
    say(progress, f"greedy-vs-beam-en-de: {summary.iloc[0].to_dict()}")
    info = {"data": source, "beam_size": beam_size, "length_penalty": "none", "seconds": clock.seconds()}
    return LabResult("greedy-vs-beam-en-de", budget, {"sentences": sentences, "wins": wins, "summary": summary},
                     "wins", info)

