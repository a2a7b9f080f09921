"""Lab: depth and direction. 1 vs 2 layers, uni- vs bidirectional encoder, under the same budget.

Four LSTM models with attention are trained on the same data for the same number of steps; only the
encoder's depth (1 or 2 layers, the decoder follows the encoder's depth) and direction change. A
bidirectional encoder sees each word's right context too ("terribly" in "the movie was terribly
exciting"); stacking gives each position a second round of processing (Britz et al. 2017 found 2-4
layers best, with residual connections beyond that). With a short budget, deeper models also pay
for their extra parameters in slower steps: ``seconds`` and ``params`` are part of the story.

Tables: ``models`` (variant, layers, bidirectional, params, steps, seconds, dev_loss, dev_bleu, test_bleu)
and ``curves`` (metrics.jsonl rows per variant).
"""

from __future__ import annotations

from dataclasses import asdict, replace

import pandas as pd

from ..checkpoint import load_checkpoint
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

SMALL_STEPS = 350
VARIANTS = {
    "1 layer, unidirectional": {"model.encoder_layers": 1, "model.decoder_layers": 1, "model.bidirectional": False},
    "1 layer, bidirectional": {"model.encoder_layers": 1, "model.decoder_layers": 1, "model.bidirectional": True},
    "2 layers, unidirectional": {"model.encoder_layers": 2, "model.decoder_layers": 2, "model.bidirectional": False},
    "2 layers, bidirectional": {"model.encoder_layers": 2, "model.decoder_layers": 2, "model.bidirectional": True},
}


def run(budget: str | Seq2SeqBudget = "small", *, seed: int = 0, work_dir=None, progress: Progress = None,
        task: str = "toy-en-es") -> LabResult:
    b = BUDGETS[budget] if isinstance(budget, str) else budget
    if budget == "small":  # four models (two of them deep) must fit a live run of a few minutes
        b = replace(b, max_steps=SMALL_STEPS)
    clock = Stopwatch()
    base = base_config("depth", task, b, seed)
    test = test_split(base)
    models, curves = [], []
    with work_folder(work_dir) as folder:
        for name, overrides in VARIANTS.items():
            trained = train_variant(variant_config(base, name, overrides), folder, progress)
            checkpoint = load_checkpoint(trained.checkpoint, "cpu")
            hyps = translate_with(checkpoint, test.src)
            m = trained.config.model
            models.append({"variant": name, "layers": m.encoder_layers, "bidirectional": m.bidirectional,
                           "params": checkpoint.model.num_parameters(), "steps": trained.result.step,
                           "seconds": trained.seconds, **final_dev(trained),
                           "test_bleu": bleu(hyps, test.tgt)})
            curves.append(trained.metrics)
            say(progress, f"depth: {name}: test BLEU {models[-1]['test_bleu']}")
    tables = {"models": pd.DataFrame(models), "curves": pd.concat(curves, ignore_index=True)}
    info = {"task": task, "budget_settings": asdict(b), "seconds": clock.seconds()}
    return LabResult("depth", budget if isinstance(budget, str) else "custom", tables, "models", info)
