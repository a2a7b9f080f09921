"""The run directory: how a training process talks to the outside world through plain files.

A training run (started from the terminal or from the studio, in its own process) owns one folder:

* ``config.yaml``   written first: the full experiment config
* ``metrics.jsonl`` one JSON object per logged step, appended and flushed (readers skip a partial line)
* ``status.json``   state, pid, step, message; rewritten atomically (temp file + rename)
* ``STOP``          created by anyone who wants the run to save and exit cleanly
* ``last.pt`` / ``best.pt`` checkpoints, written atomically
* ``train.log``     the process's own output when started by the studio

Plain files survive page reruns, browser refreshes and server restarts, and can be read by a human.
``run_info`` reads one folder into what the studio shows (state, step, ETA); ``jobs.py`` starts and stops
the processes.
"""

from __future__ import annotations

import functools
import json
import os
import re
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

STATES = ("starting", "running", "finished", "stopped", "failed")
ACTIVE_STATES = ("starting", "running")
#: This machine's name, written beside every pid: a pid means something only on the host that wrote it. Replicas
#: of the studio in separate containers share the runs folder (docs/deploy.md) but not their process tables.
HOST = socket.gethostname()
#: A run written by another host counts as alive while its status is younger than this (a training rewrites its
#: status at every logged step and every validation; deploy/ recipes keep the default log_every).
REMOTE_HEARTBEAT_S = 900.0
#: Child processes this process started (``jobs``), so finished ones are seen as ended, not as zombies.
CHILDREN: dict[int, subprocess.Popen] = {}
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    config_file = property(lambda self: self.path / "config.yaml")
    metrics_file = property(lambda self: self.path / "metrics.jsonl")
    status_file = property(lambda self: self.path / "status.json")
    owner_file = property(lambda self: self.path / "owner")  # who started the run (a hashed browser id)
    stop_file = property(lambda self: self.path / "STOP")
    last_checkpoint = property(lambda self: self.path / "last.pt")
    best_checkpoint = property(lambda self: self.path / "best.pt")
    log_file = property(lambda self: self.path / "train.log")

    def create(self) -> RunDir:
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    # ---- metrics
    def append_metrics(self, record: dict[str, Any]) -> None:
        """One JSON line, flushed. A line a killed process left half-written is ended first, so it costs only
        itself, never the record after it."""
        with open(self.metrics_file, "a+b") as f:
            if f.tell() > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    f.write(b"\n")
            f.write((json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
            f.flush()

    def read_metrics(self) -> pd.DataFrame:
        return read_metrics(self.metrics_file)

    def mark_resume(self, step: int) -> None:
        """Record that a new process continues from the checkpoint of ``step``: the records a killed or stopped
        process wrote after that step are trained again, and ``read_metrics`` drops them. The file itself stays
        append-only, so a kill at any moment loses nothing."""
        self.append_metrics({"kind": "resume", "step": int(step)})

    # ---- status
    def write_status(self, state: str, **fields: Any) -> None:
        if state not in STATES:
            raise ValueError(f"unknown run state {state!r}")
        record = {"state": state, "pid": os.getpid(), "host": HOST, "updated_at": time.time(), **fields}
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
    """The complete JSON lines of a metrics file as a DataFrame (empty if none yet), each step once: at a
    ``resume`` record (``RunDir.mark_resume``) the records after its step, which the resumed process trains
    again, are dropped, and the resume records themselves are not rows."""
    rows: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.endswith("\n"):
                    break  # a writer is mid-line
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and record.get("kind") == "resume":
                    rows = [r for r in rows if _step(r) <= _step(record)]
                elif isinstance(record, dict):
                    rows.append(record)
    except FileNotFoundError:
        pass
    return pd.DataFrame(rows)


def _step(record: dict[str, Any]) -> int:
    try:
        return int(record.get("step", 0))
    except (TypeError, ValueError):
        return 0


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


# --------------------------------------------------------------------------------------- reading a run
def pid_alive(pid: int | None) -> bool:
    """True if ``pid`` is a live (not zombie) process running nmt_core (guards against pid reuse)."""
    if not pid:
        return False
    child = CHILDREN.get(int(pid))
    if child is not None and child.poll() is not None:
        return False
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, PermissionError, OverflowError):
        return False
    proc = Path(f"/proc/{pid}")
    if proc.exists():  # Linux: rule out zombies and recycled pids
        try:
            if ") Z" in (proc / "stat").read_text():
                return False
            return b"nmt_core" in (proc / "cmdline").read_bytes()
        except OSError:
            return False
    return True


def on_this_host(status: dict[str, Any]) -> bool:
    """Whether the process a status names runs here (older statuses name no host: they were written here)."""
    return status.get("host", HOST) == HOST


def status_alive(status: dict[str, Any]) -> bool:
    """Is the process behind an active status still there? Here: its pid says (``pid_alive``). On another host
    (a replica in another container): its pid cannot be checked, so a status rewritten in the last
    ``REMOTE_HEARTBEAT_S`` seconds counts as alive; never "died" just because this replica cannot see it."""
    if on_this_host(status):
        return pid_alive(status.get("pid"))
    try:
        return time.time() - float(status.get("updated_at", 0)) < REMOTE_HEARTBEAT_S
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class RunInfo:
    """What the studio shows about one run directory."""

    name: str
    path: Path
    state: str  # starting | running | finished | stopped | failed | died | new
    step: int
    max_steps: int
    best_bleu: float | None
    message: str
    eta_s: float | None  # seconds left (None when unknown or not running)
    elapsed_s: float | None
    has_best: bool
    has_last: bool
    budget_s: float | None = None  # the run's time budget, when it has one
    owner: str | None = None  # who started it (studio/identity.py), None for runs started from a terminal

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def progress(self) -> float:
        """Fraction done: by steps, or by the clock when a time budget ends the run sooner."""
        done = 0.0 if not self.max_steps else self.step / self.max_steps
        if self.budget_s and self.elapsed_s:
            done = max(done, self.elapsed_s / self.budget_s)
        return min(1.0, done)

    def position(self) -> str:
        """Where the run is, by both of its limits: "step 694/100,000 · 10 min 00 s of its 10 min 00 s time budget".
        Why both: a run
        that stops on its time budget would otherwise show a full progress bar next to a small step count."""
        where = f"step {self.step:,}/{self.max_steps:,}"
        if self.budget_s:
            where += f" · {format_seconds(self.elapsed_s or 0)} of its {format_seconds(self.budget_s)} time budget"
        return where

    def describe(self) -> str:
        """One line for a person: which run, where it is, when it should end."""
        eta = f", about {format_seconds(self.eta_s)} left" if self.eta_s is not None else ""
        return f"run '{self.name}' is {self.state} ({self.position()}{eta})"


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def run_info(path: str | Path) -> RunInfo:
    """Read a run directory's status, metrics and config into a ``RunInfo`` (never raises on bad files)."""
    run = RunDir(path)
    status = run.read_status() or {}
    state = status.get("state", "new")
    # A process gone without saying so (killed, machine restarted) "died"; a "starting" status younger
    # than a few seconds may belong to a child that has not begun yet.
    just_started = state == "starting" and time.time() - float(status.get("updated_at", 0)) < 10
    if state in ACTIVE_STATES and not status_alive(status) and not just_started:
        state = "died"
    config_steps, budget = _run_limits(run)
    max_steps = int(status.get("max_steps") or config_steps or 0)
    step = int(status.get("step") or 0)
    elapsed, eta = _timing(run, state, step, max_steps, budget)
    best = status.get("best_bleu")
    return RunInfo(run.path.name, run.path, state, step, max_steps,
                   None if best is None or best < 0 else float(best), str(status.get("message", "")),
                   eta, elapsed, run.best_checkpoint.exists(), run.last_checkpoint.exists(), budget, _owner(run))


def _owner(run: RunDir) -> str | None:
    try:
        return run.owner_file.read_text(encoding="utf-8").strip()[:64] or None
    except OSError:
        return None


def _run_limits(run: RunDir) -> tuple[int, float | None]:
    """(train.max_steps, train.time_budget_s) of the run's config, else of its request: (0, None) without one."""
    for path in (run.config_file, run.path / "requested.yaml"):
        stamp = _stamp(path)
        try:
            limits = None if stamp is None else _config_limits(str(path), *stamp)
        except OSError:  # gone or unreadable right now: not remembered, read again next time
            limits = None
        if limits is not None:
            return limits
    return 0, None


def _stamp(path: Path) -> tuple[int, int] | None:
    """(mtime in ns, size) of a file, or None when it is missing: the key under which its parse is cached."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


# Why cached: every page of the studio lists the runs on every rerun (the sidebar's model picker), and parsing
# each run's YAML and metrics again made that cost 11 ms per run per rerun, paid by every student's click in a
# class that has trained a few dozen runs (docs/benchmarks.md, "Classroom load"). A file is read again as soon as
# its mtime or size changes, so a running training's figures stay live. Only immutable values are cached, and a
# file that cannot be read raises (OSError is not cached).
@functools.lru_cache(maxsize=1024)
def _config_limits(path: str, mtime_ns: int, size: int) -> tuple[int, float | None] | None:
    try:
        cfg = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return None
    train = cfg.get("train") if isinstance(cfg, dict) else None
    if not isinstance(train, dict):
        return None if not isinstance(cfg, dict) else (0, None)
    steps, budget = train.get("max_steps"), train.get("time_budget_s")
    return (steps if isinstance(steps, int) and not isinstance(steps, bool) and steps > 0 else 0,
            float(budget) if isinstance(budget, int | float) and not isinstance(budget, bool) and budget > 0 else None)


@functools.lru_cache(maxsize=1024)
def _last_elapsed(path: str, mtime_ns: int, size: int) -> float | None:
    """The training seconds of a metrics file's last record that has them (see ``_config_limits`` for why cached)."""
    frame = read_metrics(path)
    if frame.empty or "elapsed_s" not in frame or not frame["elapsed_s"].notna().any():
        return None
    return float(frame["elapsed_s"].dropna().iloc[-1])


def _timing(run: RunDir, state: str, step: int, max_steps: int, budget: float | None):
    stamp = _stamp(run.metrics_file)
    elapsed = None if stamp is None else _last_elapsed(str(run.metrics_file), *stamp)
    if elapsed is None:
        return None, None
    if state not in ACTIVE_STATES or not elapsed or step <= 0:
        return elapsed, None
    eta = (max_steps - step) * elapsed / step if max_steps > step else 0.0
    if budget:
        eta = min(eta, max(0.0, float(budget) - elapsed))
    return elapsed, eta


def list_runs(runs_root: str | Path) -> list[RunInfo]:
    """Every run directory under ``runs_root`` (folders with a status or config), newest first."""
    root = Path(runs_root)
    if not root.is_dir():
        return []
    dirs = [p for p in root.iterdir() if p.is_dir() and ((p / "status.json").exists() or (p / "config.yaml").exists()
                                                         or (p / "requested.yaml").exists())]
    dirs.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [run_info(p) for p in dirs]


def active_runs(runs_root: str | Path) -> list[RunInfo]:
    return [r for r in list_runs(runs_root) if r.active]


def log_tail(path: str | Path, lines: int = 20) -> str:
    """The last lines of a run's ``train.log`` (progress bars' carriage returns folded)."""
    try:
        text = RunDir(path).log_file.read_bytes()[-20000:].decode("utf-8", errors="replace")
    except OSError:
        return ""
    text = "\n".join(line.split("\r")[-1] for line in text.splitlines())
    return "\n".join(text.splitlines()[-lines:])
