"""The run directory: how a training process talks to the outside world through plain files.

A training run (started from the terminal or from the studio, in its own process) owns one folder:

* ``config.yaml``   written first: the full experiment config
* ``metrics.jsonl`` one JSON object per logged step, appended and flushed (readers skip a partial line)
* ``status.json``   state, pid, step, message; rewritten atomically (temp file + rename)
* ``STOP``          created by anyone who wants the run to save and exit cleanly
* ``last.pt`` / ``best.pt`` checkpoints, written atomically
* ``train.log``     the process's own output when started by the studio

Plain files survive page reruns, browser refreshes and server restarts, and can be read by a human.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

STATES = ("starting", "running", "finished", "stopped", "failed")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_file = property(lambda self: self.path / "config.yaml")
    metrics_file = property(lambda self: self.path / "metrics.jsonl")
    status_file = property(lambda self: self.path / "status.json")
    stop_file = property(lambda self: self.path / "STOP")
    last_checkpoint = property(lambda self: self.path / "last.pt")
    best_checkpoint = property(lambda self: self.path / "best.pt")
    log_file = property(lambda self: self.path / "train.log")

    def create(self) -> RunDir:
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    # ---- metrics
    def append_metrics(self, record: dict[str, Any]) -> None:
        with open(self.metrics_file, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()

    def read_metrics(self) -> pd.DataFrame:
        return read_metrics(self.metrics_file)

    # ---- status
    def write_status(self, state: str, **fields: Any) -> None:
        if state not in STATES:
            raise ValueError(f"unknown run state {state!r}")
        record = {"state": state, "pid": os.getpid(), "updated_at": time.time(), **fields}
        write_json_atomic(self.status_file, record)

    def read_status(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.status_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    # ---- leftovers of a killed writer
    def remove_temp_files(self) -> int:
        """Delete the temp files (``.last.pt.*.tmp``, ...) that atomic writes leave behind when the process is
        killed mid-write; returns how many. Only for the run's owner, before it starts writing."""
        removed = 0
        for tmp in self.path.glob(".*.tmp"):
            tmp.unlink(missing_ok=True)
            removed += 1
        return removed

    # ---- stop flag
    def request_stop(self) -> None:
        self.stop_file.touch()

    def stop_requested(self) -> bool:
        return self.stop_file.exists()

    def clear_stop(self) -> None:
        self.stop_file.unlink(missing_ok=True)


def read_metrics(path: str | Path) -> pd.DataFrame:
    """All complete JSON lines of a metrics file as a DataFrame (empty if none yet)."""
    rows = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # a writer is mid-line
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        pass
    return pd.DataFrame(rows)


def write_json_atomic(path: str | Path, record: dict[str, Any]) -> None:
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def safe_run_name(name: str) -> str:
    """Validate a user-chosen run name: it must not escape the runs directory (no '/', '..', etc.)."""
    if not _SAFE_NAME.match(name or "") or ".." in name:
        raise ValueError(f"invalid run name {name!r}: use letters, digits, '.', '_' or '-' (max 80), "
                         "starting with a letter or digit")
    return name


def run_path(runs_root: str | Path, name: str) -> Path:
    """The folder for run ``name`` inside ``runs_root``, guaranteed to stay inside it."""
    root = Path(runs_root).resolve()
    path = (root / safe_run_name(name)).resolve()
    if path.parent != root:
        raise ValueError(f"run name {name!r} escapes the runs directory")
    return path
