"""Lab: exploding gradients and gradient clipping (Pascanu, Mikolov & Bengio 2013).

The same vanilla-RNN seq2seq model is trained twice at a deliberately high learning rate with plain
SGD, once without clipping and once with the global gradient norm clipped to 1.0. The gradient-norm
trace (the norm BEFORE clipping, as ``train.py`` logs it) shows the spikes; without clipping one spike
throws the weights far away and the loss jumps, with clipping every step has a bounded length.

Why SGD and not ``train.py``'s Adam: Adam divides every update by a running RMS of that parameter's
gradient, so a gradient 1000× too large still gives an update of about ``lr``; the norms explode but the
loss barely shows it, which would hide the lesson. The lab uses the ordinary training loop
(``train.Trainer``) and only swaps the optimizer.

The third run shows the NaN guard: it is the clipped run with a simulated overflow (one output weight
set to +inf after ``overflow_step``, as an fp16 overflow or a diverging ReLU RNN would do). ``train.py``
notices the non-finite loss at its next log line, stops with a "non-finite loss" message and keeps
the last good checkpoint (``last.pt`` from the last validation before the overflow).

Tables: ``curves`` (metrics.jsonl rows per variant) and ``summary`` (variant, optimizer, lr, clip_norm,
state, message, steps, checkpoint_step, dev_bleu, max_grad_norm, final_loss).
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd
import torch

from ..checkpoint import read_payload
from ..optim import make_scheduler
from ..runs import RunDir
from ..train import Trainer
from .common import LabResult, Progress, Stopwatch, say, work_folder
from .variants import BUDGETS, Seq2SeqBudget, base_config, variant_config

LR = 3.0  # plain SGD; ~1.0 trains smoothly without clipping, 3.0 explodes within a few dozen steps
VARIANTS = {
    "no clipping": {"train.clip_norm": None},
    "clip 1.0": {"train.clip_norm": 1.0},
    "clip 1.0 + simulated overflow": {"train.clip_norm": 1.0},
}
SETTINGS = {  # budget -> (steps, eval_every, overflow_step)
    "tiny": (6, 2, 3),
    "small": (300, 50, 120),
    "full": (1500, 100, 500),
}


def run(budget: str | Seq2SeqBudget = "small", *, seed: int = 0, work_dir=None, progress: Progress = None,
        task: str = "toy-en-es", lr: float = LR) -> LabResult:
    name = budget if isinstance(budget, str) else "small"
    steps, eval_every, overflow_step = SETTINGS[name]
    b = BUDGETS[budget] if isinstance(budget, str) else budget
    b = replace(b, max_steps=steps, log_every=min(b.log_every, 5), size=min(b.size, 3000))
    clock = Stopwatch()
    base = base_config("clipping", task, b, seed)
    common = {"model.cell": "rnn", "train.lr": lr, "train.eval_every": eval_every,
              "train.dev_bleu_sentences": min(100, b.dev_size)}
    curves, summary = [], []
    with work_folder(work_dir) as folder:
        for variant, overrides in VARIANTS.items():
            cfg = variant_config(base, variant, {**common, **overrides})
            run_dir = folder / variant.replace(" ", "_").replace(".", "").replace("+", "and")
            sabotage = overflow_step if "overflow" in variant else None
            result = _train_sgd(cfg, run_dir, sabotage)
            metrics = RunDir(run_dir).read_metrics().drop(columns=["samples"], errors="ignore")
            metrics.insert(0, "variant", variant)
            curves.append(metrics)
            summary.append(_summary(variant, cfg, result, metrics, run_dir))
            say(progress, f"clipping: {variant}: {result.state} at step {result.step} ({result.message[:80]})")
    tables = {"curves": pd.concat(curves, ignore_index=True), "summary": pd.DataFrame(summary)}
    info = {"task": task, "optimizer": "sgd", "lr": lr, "cell": "rnn", "overflow_step": overflow_step,
            "budget_settings": asdict(b), "seconds": clock.seconds(),
            "gradient_quantity": "global L2 norm of all parameter gradients before clipping (train.py)"}
    return LabResult("clipping", name, tables, "summary", info)


def _train_sgd(cfg, run_dir: Path, overflow_step: int | None):
    """``train.Trainer`` with plain SGD instead of Adam; optionally poison a weight after a step."""
    for path in run_dir.glob("*") if run_dir.exists() else ():
        path.unlink()
    holder: dict = {}

    def on_log(record: dict) -> None:
        if overflow_step is not None and record.get("kind") == "train" and record["step"] >= overflow_step:
            with torch.no_grad():
                holder["model"].out.weight[0, 0] = float("inf")  # what an overflow leaves behind

    trainer = Trainer(cfg, run_dir, progress_bar=False, on_log=on_log)
    holder["model"] = trainer.model
    trainer.optimizer = torch.optim.SGD(trainer.model.parameters(), lr=cfg.train.lr)
    trainer.scheduler = make_scheduler(trainer.optimizer, cfg)
    return trainer.train()


def _summary(variant: str, cfg, result, metrics: pd.DataFrame, run_dir: Path) -> dict:
    train_rows = metrics[metrics["kind"] == "train"]
    dev_rows = metrics[metrics["kind"] == "dev"]
    last = RunDir(run_dir).last_checkpoint
    return {"variant": variant, "optimizer": "sgd", "lr": cfg.train.lr, "clip_norm": cfg.train.clip_norm,
            "state": result.state, "message": result.message, "steps": result.step,
            "checkpoint_step": int(read_payload(last)["step"]) if last.exists() else None,
            "dev_bleu": float(dev_rows["bleu"].iloc[-1]) if not dev_rows.empty else float("nan"),
            "max_grad_norm": float(train_rows["grad_norm_max"].max()) if not train_rows.empty else float("nan"),
            "final_loss": float(train_rows["loss"].iloc[-1]) if not train_rows.empty else float("nan")}
