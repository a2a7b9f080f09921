"""Shared pieces of the labs that train full seq2seq models with ``train.train``.

A lab describes its variants as config overrides on one base experiment, trains each in its own run
folder (so the usual metrics.jsonl / checkpoints exist and the studio can show them), then decodes the
test split with the trained model. The budget fixes data size, model size and steps for every variant.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import sacrebleu

from .. import corpus
from ..checkpoint import Checkpoint, load_checkpoint
from ..config import ExperimentConfig, apply_overrides
from ..data import make_splits
from ..runs import RunDir
from ..splits import Splits
from ..train import TrainResult, train
from ..translator import Translator
from .common import Progress, Stopwatch, say


@dataclass(frozen=True)
class Seq2SeqBudget:
    """Everything a budget fixes for every variant of a lab."""

    size: int  # generated pairs (before the dev/test split)
    dev_size: int
    test_size: int
    embedding: int
    hidden: int
    max_steps: int  # the same number of updates for every variant
    time_cap_s: float  # safety stop per variant (reported when it triggers)
    log_every: int = 20
    batch_size: int = 64
    extra: dict[str, Any] = field(default_factory=dict)  # lab-specific settings


BUDGETS = {
    "tiny": Seq2SeqBudget(size=300, dev_size=20, test_size=40, embedding=8, hidden=8, max_steps=4, time_cap_s=60,
                          log_every=2, batch_size=16),
    "small": Seq2SeqBudget(size=6000, dev_size=200, test_size=500, embedding=48, hidden=64, max_steps=600,
                           time_cap_s=75),
    "full": Seq2SeqBudget(size=20000, dev_size=500, test_size=1000, embedding=64, hidden=128, max_steps=3000,
                          time_cap_s=900),
}


def base_config(name: str, task: str, b: Seq2SeqBudget, seed: int, **options: Any) -> ExperimentConfig:
    """A config every variant starts from; only the final validation runs (eval_every > max_steps)."""
    raw = {
        "name": name,
        "data": {"task": task, "size": b.size, "seed": seed + 1, "dev_size": b.dev_size, "test_size": b.test_size,
                 "task_options": options},
        "tokenizer": {"type": "word", "vocab_size": 4000},
        "model": {"cell": "lstm", "embedding_size": b.embedding, "hidden_size": b.hidden, "dropout": 0.0},
        "train": {"batch_size": b.batch_size, "lr": 2e-3, "max_steps": b.max_steps, "time_budget_s": b.time_cap_s,
                  "eval_every": b.max_steps + 1, "log_every": b.log_every, "dev_bleu_sentences": b.dev_size,
                  "seed": seed + 1},
    }
    return ExperimentConfig.from_dict(raw)


def variant_config(base: ExperimentConfig, name: str, overrides: dict[str, Any]) -> ExperimentConfig:
    """``base`` with dotted overrides, e.g. {"model.attention": "none"}."""
    raw = copy.deepcopy(base.to_dict())
    apply_overrides(raw, [f"{k}={v if v is not None else 'null'}" for k, v in overrides.items()])
    raw["name"] = name
    return ExperimentConfig.from_dict(raw)


@dataclass(frozen=True, eq=False)  # holds arrays: no element-wise __eq__
class TrainedVariant:
    name: str
    config: ExperimentConfig
    result: TrainResult
    metrics: pd.DataFrame  # metrics.jsonl rows with a "variant" column
    seconds: float

    @property
    def checkpoint(self) -> Path | None:
        """best.pt if a validation improved, else last.pt, else None (e.g. failed before any save)."""
        run = RunDir(self.result.run_dir)
        for path in (run.best_checkpoint, run.last_checkpoint):
            if path.exists():
                return path
        return None


def train_variant(cfg: ExperimentConfig, work_dir: Path, progress: Progress) -> TrainedVariant:
    clock = Stopwatch()
    run_dir = work_dir / cfg.name.replace(" ", "_")
    if run_dir.exists():  # a lab run starts fresh (old metrics would be appended to)
        for path in run_dir.iterdir():
            if path.is_file():
                path.unlink()
    result = train(cfg, run_dir, progress_bar=False)
    metrics = RunDir(run_dir).read_metrics().drop(columns=["samples"], errors="ignore")
    metrics.insert(0, "variant", cfg.name)
    seconds = clock.seconds()
    say(progress, f"{cfg.name}: {result.state} after {result.step} steps in {seconds:.0f}s ({result.message})")
    return TrainedVariant(cfg.name, cfg, result, metrics, seconds)


def splits(cfg: ExperimentConfig) -> Splits:
    """The train/dev/test pairs exactly as training split them (same generation, cleaning and seed)."""
    return make_splits(cfg.data)[0]


def test_split(cfg: ExperimentConfig) -> corpus.ParallelCorpus:
    return splits(cfg).test


def dev_split(cfg: ExperimentConfig) -> corpus.ParallelCorpus:
    return splits(cfg).dev


def translate_with(checkpoint: Path | Checkpoint, sentences: list[str]) -> list[str]:
    """Greedy translations by a saved model (on the CPU: small models, short sentences)."""
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint, "cpu")
    return Translator(ckpt, "cpu").translate(sentences)


def final_dev(variant: TrainedVariant) -> dict[str, Any]:
    """The last dev validation's numbers (NaN when training failed before validating)."""
    dev = variant.metrics[variant.metrics.get("kind", pd.Series(dtype=str)) == "dev"]
    if dev.empty:
        return {"dev_loss": float("nan"), "dev_bleu": float("nan")}
    last = dev.iloc[-1]
    return {"dev_loss": float(last["dev_loss"]), "dev_bleu": float(last["bleu"])}


def bleu(hyps: list[str], refs: list[str]) -> float:
    """Corpus BLEU (sacrebleu). ``force``: the built-in tasks are whitespace-tokenised on purpose, so
    sacrebleu's "did you forget to detokenize?" warning does not apply."""
    return round(sacrebleu.corpus_bleu(list(hyps), [list(refs)], force=True).score, 2)
