"""Training snapshots: the model at a few log-spaced steps, so a student can scrub back through its training.

Why log-spaced: the change a student wants to see happens early and fast (attention going from a flat wash to a
diagonal, "<unk> <unk> ." turning into words), then slows down; doubling the step between snapshots (25, 50,
100, 200, ...) spends them where the change is. Why bounded: at most ``MAX_SNAPSHOTS`` per run (by default
``train.snapshots`` = 10), each stored like a shipped model (int8 matrices with a float32 scale per row,
``checkpoint.compact_payload``): a 5-million-parameter run keeps about 5 MB per snapshot. The final model is the
run's own best/last checkpoint, so it is not copied again.

Each snapshot is an ordinary checkpoint file (``snapshots/step-000100.pt``), loaded and checked by
``checkpoint.load_checkpoint`` like any other, whose ``metrics`` hold the step, the training loss of the last
logged window, the seconds trained and a quick dev BLEU (greedy, the first ``SNAPSHOT_BLEU_SENTENCES`` dev
sentences: a few seconds, so snapshots cost a run well under 5% of a 10-minute budget; measured in
docs/explainers.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checkpoint import Checkpoint, compact_payload, load_checkpoint, make_payload, save_checkpoint

FIRST_STEP = 25
MAX_SNAPSHOTS = 16
SNAPSHOT_BLEU_SENTENCES = 100
_NAME = re.compile(r"^step-(\d{6,})\.pt$")


def snapshot_steps(count: int, first: int = FIRST_STEP) -> list[int]:
    """The steps at which a run keeps a snapshot: ``first`` doubling, ``count`` of them (``count`` ≤ MAX)."""
    if not 0 <= count <= MAX_SNAPSHOTS:
        raise ValueError(f"train.snapshots must be in 0..{MAX_SNAPSHOTS}, got {count}")
    return [first * 2 ** k for k in range(count)]


def snapshot_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "snapshots"


def save_snapshot(run_dir: str | Path, cfg, model, tokenizers, step: int, metrics: dict[str, Any]) -> Path:
    """Write the model at ``step`` as a compact (int8) checkpoint with ``metrics``; returns the file."""
    folder = snapshot_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step-{step:06d}.pt"
    payload = make_payload(cfg, model, tokenizers, step=step, metrics=metrics, history=[])
    save_checkpoint(compact_payload(payload, "int8"), path)
    return path


@dataclass(frozen=True)
class Snapshot:
    step: int
    path: Path

    def load(self, device: str = "cpu") -> Checkpoint:
        return load_checkpoint(self.path, device)


def list_snapshots(run_dir: str | Path) -> list[Snapshot]:
    """The run's snapshots in step order (files with other names are ignored)."""
    folder = snapshot_dir(run_dir)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [Snapshot(step, path) for step, path in sorted(found)][:MAX_SNAPSHOTS]
