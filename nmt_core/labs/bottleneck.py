"""Lab: the bottleneck. Does attention help more as sentences get longer? (Bahdanau et al. 2015, fig. 2)

Two models differ only in attention: ``additive`` attention vs ``none``, where the decoder sees the
source only through the encoder's final state (one fixed vector for the whole sentence). Both are
trained on the same data for the same number of steps; the test split is decoded greedily and
scored with sacrebleu per source-length bucket (whitespace words).

Tables: ``bleu_by_length`` (variant, bucket, lo, hi, sentences, bleu, chrf), ``models`` (variant,
attention, steps, seconds, state, dev_loss, dev_bleu, test_bleu), ``curves`` (metrics.jsonl rows).
"""

from __future__ import annotations

import math
from dataclasses import asdict

import pandas as pd
import sacrebleu

from .common import LabResult, Progress, Stopwatch, say, work_folder
from .variants import (
    BUDGETS,
    Seq2SeqBudget,
    base_config,
    bleu,
    final_dev,
    test_split,
    train_variant,
    translate_with,
    variant_config,
)

VARIANTS = {"attention": {"model.attention": "additive"}, "no attention": {"model.attention": "none"}}
EDGES = (0, 5, 10, 15, 20, math.inf)  # bucket k holds lengths in (EDGES[k], EDGES[k+1]]


def bucket_label(lo: float, hi: float) -> str:
    if math.isinf(hi):
        return f"{int(lo) + 1}+"
    return f"{int(hi)}" if int(lo) + 1 == int(hi) else f"{int(lo) + 1}-{int(hi)}"


def bleu_by_length(src: list[str], hyps: list[str], refs: list[str], edges=EDGES) -> pd.DataFrame:
    """Corpus BLEU/chrF of the sentences in each source-length bucket (empty buckets are left out)."""
    lengths = [len(s.split()) for s in src]
    rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        idx = [i for i, n in enumerate(lengths) if lo < n <= hi]
        if not idx:
            continue
        h, r = [hyps[i] for i in idx], [refs[i] for i in idx]
        rows.append({"bucket": bucket_label(lo, hi), "lo": int(lo) + 1, "hi": None if math.isinf(hi) else int(hi),
                     "sentences": len(idx), "bleu": bleu(h, r),
                     "chrf": round(sacrebleu.corpus_chrf(h, [r]).score, 2)})
    return pd.DataFrame(rows)


def run(budget: str | Seq2SeqBudget = "small", *, seed: int = 0, work_dir=None, progress: Progress = None,
        task: str = "toy-en-es") -> LabResult:
    b = BUDGETS[budget] if isinstance(budget, str) else budget
    clock = Stopwatch()
    base = base_config("bottleneck", task, b, seed)
    test = test_split(base)
    buckets, models, curves = [], [], []
    with work_folder(work_dir) as folder:
        for name, overrides in VARIANTS.items():
            trained = train_variant(variant_config(base, name, overrides), folder, progress)
            hyps = translate_with(trained.checkpoint, test.src)
            table = bleu_by_length(test.src, hyps, test.tgt)
            table.insert(0, "variant", name)
            buckets.append(table)
            test_bleu = bleu(hyps, test.tgt)
            models.append({"variant": name, "attention": trained.config.model.attention, "steps": trained.result.step,
                           "seconds": trained.seconds, "state": trained.result.state, **final_dev(trained),
                           "test_bleu": test_bleu})
            curves.append(trained.metrics)
            say(progress, f"bottleneck: {name}: test BLEU {test_bleu}")
    tables = {"bleu_by_length": pd.concat(buckets, ignore_index=True), "models": pd.DataFrame(models),
              "curves": pd.concat(curves, ignore_index=True)}
    info = {"task": task, "budget_settings": asdict(b), "seconds": clock.seconds(), "test_sentences": len(test)}
    return LabResult("bottleneck", budget if isinstance(budget, str) else "custom", tables, "bleu_by_length", info)
