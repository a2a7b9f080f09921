"""The optimizer and the learning-rate schedule of a training run.

Adam (fused where torch has it) and a schedule of linear warm-up, then constant or cosine decay, times the
plateau halvings. The cosine decays over ``max_steps`` or, when the clock ends training first, over the time
budget (the trainer passes how far training is), so a timed run always ends with a small learning rate.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from .config import ExperimentConfig
from .model import Seq2Seq


def make_optimizer(model: Seq2Seq, cfg: ExperimentConfig, device: torch.device) -> torch.optim.Adam:
    """Adam with the fused implementation (one kernel over all parameters) where torch has it for this
    device, else the multi-tensor (``foreach``) one. Same update as the per-parameter loop, fewer kernels:
    see docs/benchmarks.md for what each choice measured."""
    fused = device.type in ("cuda", "cpu")
    return torch.optim.Adam(model.parameters(), lr=cfg.train.lr, fused=fused or None, foreach=None if fused else True)


def make_scheduler(optimizer: torch.optim.Optimizer, cfg: ExperimentConfig,
                   progress: Callable[[int], float] | None = None,
                   scale: Callable[[], float] | None = None) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then constant or cosine decay, times ``scale()`` (the plateau halvings).

    ``progress(step)`` is how far training is, from 0 to 1; by default ``step / max_steps``. The trainer
    passes the larger of that and ``elapsed / time_budget_s``, so a run cut by its time budget still ends
    with a decayed learning rate: over a fixed number of minutes that is what gives the best model."""
    t = cfg.train
    progress = progress or (lambda step: min(1.0, step / max(1, t.max_steps)))

    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / t.warmup_steps) if t.warmup_steps else 1.0
        if t.lr_schedule == "cosine":
            warm *= 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress(step))))
        return warm * (scale() if scale is not None else 1.0)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
