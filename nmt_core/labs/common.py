"""What every lab shares: the result type, budgets, run folders and progress messages."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

BUDGETS = ("tiny", "small", "full")  # tiny: tests (seconds); small: live in the studio (1-3 min); full: offline

Progress = Callable[[str], None] | None


@dataclass(frozen=True, eq=False)  # holds arrays: no element-wise __eq__
class LabResult:
    """A lab's tables (DataFrames) plus settings, timings and notes in ``info``."""

    name: str
    budget: str
    tables: dict[str, pd.DataFrame]
    main: str  # the key of the headline table (``to_frame()``)
    info: dict[str, Any] = field(default_factory=dict)

    def to_frame(self, table: str | None = None) -> pd.DataFrame:
        return self.tables[table or self.main]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "budget": self.budget, "main": self.main, "info": self.info,
                "tables": {k: json.loads(v.to_json(orient="records")) for k, v in self.tables.items()}}

    def write(self, out_dir: str | Path) -> list[Path]:
        """``<name>_<table>.csv`` for every table and ``<name>_info.json``; returns the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        stem = self.name.replace("-", "_")
        paths = []
        for key, frame in self.tables.items():
            path = out / f"{stem}_{key}.csv"
            frame.to_csv(path, index=False)
            paths.append(path)
        info = out / f"{stem}_info.json"
        info.write_text(json.dumps({"name": self.name, "budget": self.budget, **self.info}, indent=2, default=str),
                        encoding="utf-8")
        return [*paths, info]


def say(progress: Progress, message: str) -> None:
    if progress is not None:
        progress(message)


@contextmanager
def work_folder(work_dir: str | Path | None) -> Iterator[Path]:
    """The given folder (kept), or a temporary one removed afterwards."""
    if work_dir is not None:
        path = Path(work_dir)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="nmt-lab-") as tmp:
        yield Path(tmp)


class Stopwatch:
    def __init__(self):
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 2)
