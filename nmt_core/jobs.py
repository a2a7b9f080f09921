"""Background jobs for the studio: training runs and labs in their own processes.

Why a subprocess (style guide Q4): training is compute-bound and would fight the web server for the GIL;
a child process survives page reruns, page switches and browser refreshes, a crash in it stays
contained, and it runs exactly the code path of the terminal (``python -m nmt_core train ...``). The
child talks to the app only through its run directory (``runs.RunDir``: status.json, metrics.jsonl,
STOP, train.log), so any number of browser sessions can watch the same run.

Nothing here imports Streamlit; ``studio`` wraps it for the pages.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from .config import ExperimentConfig
from .runs import (
    CHILDREN,
    HOST,
    REMOTE_HEARTBEAT_S,
    RunDir,
    RunInfo,
    active_runs,
    on_this_host,
    pid_alive,
    run_info,
    run_path,
)


class JobLimitError(RuntimeError):
    """Too many jobs are running; the message says which and when they should end."""


# --------------------------------------------------------------------------------------- processes
def _spawn(args: list[str], log_path: Path, cwd: Path) -> subprocess.Popen:
    """Start ``python -m nmt_core ARGS`` detached from the server (own session), output to a log file."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NMT_STUDIO_JOB": "1"}  # the CLI then keeps a STOP it finds
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "nmt_core", *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=cwd, env=env, start_new_session=True)
    CHILDREN[proc.pid] = proc
    return proc


@contextmanager
def _launch_lock(root: Path) -> Iterator[None]:
    """Serialise "check the limit, then launch" across sessions and server processes."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".launch.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------- start / stop
def max_trainings() -> int:
    """How many trainings may run at once on this server (env NMT_STUDIO_MAX_TRAININGS, default 1)."""
    try:
        return max(1, int(os.environ.get("NMT_STUDIO_MAX_TRAININGS", "1")))
    except ValueError:
        return 1


def start_training(cfg: ExperimentConfig, runs_root: str | Path, name: str, *, limit: int | None = None,
                   cwd: str | Path | None = None, owner: str | None = None, per_owner: int | None = None) -> RunInfo:
    """Write ``cfg`` into a new run folder and start ``python -m nmt_core train`` on it in the background.

    Raises ``JobLimitError`` when ``limit`` runs are already active (the message names them), or when
    ``owner`` already has ``per_owner`` active runs, and ``ValueError`` for an unsafe name or a run folder that
    already holds a run. ``owner`` is recorded in the run folder (the studio lets only the owner stop it).
    """
    root = Path(runs_root)
    path = run_path(root, name)
    with _launch_lock(root):
        _check_limit(root, limit)
        _check_owner_limit(root, owner, per_owner)
        if (path / "status.json").exists() or (path / "last.pt").exists():
            raise ValueError(f"a run named '{name}' already exists: pick another name or resume it")
        run = RunDir(path).create()
        if owner:
            run.owner_file.write_text(owner, encoding="utf-8")
        requested = path / "requested.yaml"
        requested.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True), encoding="utf-8")
        run.clear_stop()
        fields = dict(step=0, max_steps=cfg.train.max_steps, name=name, message="starting the training process")
        run.write_status("starting", pid=None, **fields)  # before the child exists, so its own writes win
        proc = _spawn(["train", str(requested), "--run-dir", str(path)], run.log_file, Path(cwd or root.parent))
        _record_pid(run, proc.pid, fields)
    return run_info(path)


def resume_training(runs_root: str | Path, name: str, *, limit: int | None = None,
                    cwd: str | Path | None = None) -> RunInfo:
    """Continue a stopped/finished/died run from its ``last.pt`` (same folder, same config)."""
    root = Path(runs_root)
    path = run_path(root, name)
    with _launch_lock(root):
        info = run_info(path)
        if info.active:
            raise ValueError(f"run '{name}' is already {info.state}")
        if not info.has_last:
            raise ValueError(f"run '{name}' has no last.pt to resume from")
        _check_limit(root, limit)
        run = RunDir(path)
        run.clear_stop()
        fields = dict(step=info.step, max_steps=info.max_steps, name=name, message="resuming from last.pt",
                      best_bleu=info.best_bleu if info.best_bleu is not None else -1.0)
        run.write_status("starting", pid=None, **fields)
        proc = _spawn(["train", str(run.config_file), "--run-dir", str(path), "--resume"], run.log_file,
                      Path(cwd or root.parent))
        _record_pid(run, proc.pid, fields)
    return run_info(path)


def _check_owner_limit(root: Path, owner: str | None, per_owner: int | None) -> None:
    """One student may not fill the server: at most ``per_owner`` active runs per owner."""
    if owner is None or per_owner is None:
        return
    mine = [r for r in active_runs(root) if r.owner == owner]
    if len(mine) >= per_owner:
        raise JobLimitError(f"you already have {len(mine)} training(s) running ({mine[0].describe()}); this server "
                            f"allows {per_owner} per person: stop it or wait until it ends")


def _record_pid(run: RunDir, pid: int, fields: dict[str, Any]) -> None:
    """Add the child's pid to the "starting" status, unless the child has already written its own status (it
    writes "running" with its pid once its loop begins; that must never be overwritten with "starting")."""
    if (run.read_status() or {}).get("state") == "starting":
        run.write_status("starting", pid=pid, **fields)


def _check_limit(root: Path, limit: int | None) -> None:
    limit = max_trainings() if limit is None else limit
    running = active_runs(root)
    if len(running) >= limit:
        lines = "; ".join(r.describe() for r in running)
        raise JobLimitError(f"{len(running)} training(s) already running (limit {limit} per server): {lines}. "
                            "Wait for it to finish or stop it first.")


def stop_run(path: str | Path) -> None:
    """Ask a run to save and exit cleanly: the STOP file, which the trainer checks before its first step and
    after every step, and never clears at start (so a stop asked for before the process began wins). A run
    still "starting" (reading data, training its tokenizer) has nothing to save yet, so it is also terminated
    at once and marked stopped."""
    run = RunDir(path)
    run.request_stop()
    status = run.read_status() or {}
    if status.get("state") == "starting" and on_this_host(status):  # another replica's run: the STOP file suffices
        kill_run(path)


def kill_run(path: str | Path, wait_s: float = 5.0) -> bool:
    """Terminate a run's process group at once (for a run that ignores STOP, or has not begun), wait for
    it to exit and mark the run stopped; True if it was running. Work since the last checkpoint is lost."""
    run = RunDir(path)
    status = run.read_status() or {}
    pid = status.get("pid")
    if not on_this_host(status):  # another replica's pid: signalling it here would hit an unrelated process
        raise JobLimitError(f"{run.path.name} runs on {status.get('host')}, another server of this studio: use "
                            "Stop (every server sees the STOP file), or terminate it there")
    if not pid_alive(pid):
        return False
    try:
        os.killpg(os.getpgid(int(pid)), 15)
    except (ProcessLookupError, PermissionError):
        return False
    deadline = time.time() + wait_s
    while pid_alive(pid) and time.time() < deadline:
        time.sleep(0.05)
    latest = run.read_status() or status
    run.write_status("stopped", **{k: v for k, v in latest.items() if k not in ("state", "updated_at", "message")},
                     message="terminated (work since the last checkpoint is lost)")
    return True


# --------------------------------------------------------------------------------------- labs
def start_lab(name: str, out_dir: str | Path, *, budget: str = "small", cwd: str | Path | None = None) -> int:
    """Run ``python -m nmt_core lab NAME --budget B --out OUT`` in the background; returns the pid.
    Progress goes to ``OUT/<name>.log``; the lab writes its CSV tables into OUT when done."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = out / f"{name}.log"
    log.write_text("", encoding="utf-8")
    proc = _spawn(["lab", name, "--budget", budget, "--out", str(out)], log, Path(cwd or out))
    (out / f"{name}.pid").write_text(f"{proc.pid} {HOST}", encoding="utf-8")
    return proc.pid


def lab_running(name: str, out_dir: str | Path) -> bool:
    """Whether the lab's process is alive: by its pid here; for a lab another replica started (another host), by
    its log having grown in the last ``REMOTE_HEARTBEAT_S`` seconds."""
    out = Path(out_dir)
    try:
        pid, _, host = (out / f"{name}.pid").read_text(encoding="utf-8").strip().partition(" ")
        pid_number = int(pid)
    except (OSError, ValueError):
        return False
    if host and host != HOST:  # alive while its log grows, and until it writes its info file (its last act)
        info = out / f"{name.replace('-', '_')}_info.json"
        try:
            started = (out / f"{name}.pid").stat().st_mtime
            if info.is_file() and info.stat().st_mtime >= started:
                return False
            return time.time() - (out / f"{name}.log").stat().st_mtime < REMOTE_HEARTBEAT_S
        except OSError:
            return False
    return pid_alive(pid_number)
