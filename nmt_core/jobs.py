"""Background jobs for the studio: training runs and labs in their own processes.

Why a subprocess (style guide Q4): training is compute-bound and would fight the web server for the GIL;
a child process survives page reruns, page switches and browser refreshes, a crash in it stays
contained, and it runs exactly the code path of the terminal (``python -m nmt_core train ...``). The
child talks to the app only through its run directory (``runs.RunDir``: status.json, metrics.jsonl,
STOP, train.log), so any number of browser sessions can watch the same run.

Nothing here imports Streamlit; ``ui_common`` wraps it for the pages.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .config import ExperimentConfig
from .runs import RunDir, read_metrics, run_path

ACTIVE_STATES = ("starting", "running")
#: Children this process started, so finished ones are reaped (no zombies) and their exit seen.
_CHILDREN: dict[int, subprocess.Popen] = {}


class JobLimitError(RuntimeError):
    """Too many jobs are running; the message says which and when they should end."""


# --------------------------------------------------------------------------------------- processes
def pid_alive(pid: int | None) -> bool:
    """True if ``pid`` is a live (not zombie) process running nmt_core (guards against pid reuse)."""
    if not pid:
        return False
    child = _CHILDREN.get(int(pid))
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


def _spawn(args: list[str], log_path: Path, cwd: Path) -> subprocess.Popen:
    """Start ``python -m nmt_core ARGS`` detached from the server (own session), output to a log file."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "nmt_core", *args], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=cwd, env=env, start_new_session=True)
    _CHILDREN[proc.pid] = proc
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


# --------------------------------------------------------------------------------------- run info
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

    def describe(self) -> str:
        """One line for a person: which run, where it is, when it should end."""
        eta = f", about {format_seconds(self.eta_s)} left" if self.eta_s is not None else ""
        return f"run '{self.name}' is {self.state} (step {self.step}/{self.max_steps}{eta})"


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
    if state in ACTIVE_STATES and not pid_alive(status.get("pid")) and not just_started:
        state = "died"
    cfg = _run_config(run)
    max_steps = int(status.get("max_steps") or (cfg or {}).get("train", {}).get("max_steps") or 0)
    step = int(status.get("step") or 0)
    elapsed, eta = _timing(run, state, step, max_steps, cfg)
    best = status.get("best_bleu")
    budget = (cfg or {}).get("train", {}).get("time_budget_s")
    return RunInfo(run.path.name, run.path, state, step, max_steps,
                   None if best is None or best < 0 else float(best), str(status.get("message", "")),
                   eta, elapsed, run.best_checkpoint.exists(), run.last_checkpoint.exists(),
                   float(budget) if isinstance(budget, int | float) and budget > 0 else None)


def _run_config(run: RunDir) -> dict[str, Any] | None:
    for path in (run.config_file, run.path / "requested.yaml"):
        try:
            return yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
    return None


def _timing(run: RunDir, state: str, step: int, max_steps: int, cfg: dict | None):
    frame = read_metrics(run.metrics_file)
    if frame.empty or "elapsed_s" not in frame:
        return None, None
    elapsed = float(frame["elapsed_s"].dropna().iloc[-1]) if frame["elapsed_s"].notna().any() else None
    if state not in ACTIVE_STATES or not elapsed or step <= 0:
        return elapsed, None
    eta = (max_steps - step) * elapsed / step if max_steps > step else 0.0
    budget = (cfg or {}).get("train", {}).get("time_budget_s")
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


# --------------------------------------------------------------------------------------- start / stop
def max_trainings() -> int:
    """How many trainings may run at once on this server (env NMT_STUDIO_MAX_TRAININGS, default 1)."""
    try:
        return max(1, int(os.environ.get("NMT_STUDIO_MAX_TRAININGS", "1")))
    except ValueError:
        return 1


def start_training(cfg: ExperimentConfig, runs_root: str | Path, name: str, *, limit: int | None = None,
                   cwd: str | Path | None = None) -> RunInfo:
    """Write ``cfg`` into a new run folder and start ``python -m nmt_core train`` on it in the background.

    Raises ``JobLimitError`` when ``limit`` runs are already active (the message names them), and
    ``ValueError`` for an unsafe name or a run folder that already holds a run.
    """
    root = Path(runs_root)
    path = run_path(root, name)
    with _launch_lock(root):
        _check_limit(root, limit)
        if (path / "status.json").exists() or (path / "last.pt").exists():
            raise ValueError(f"a run named '{name}' already exists: pick another name or resume it")
        run = RunDir(path).create()
        requested = path / "requested.yaml"
        requested.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True), encoding="utf-8")
        run.clear_stop()
        proc = _spawn(["train", str(requested), "--run-dir", str(path)], run.log_file, Path(cwd or root.parent))
        run.write_status("starting", pid=proc.pid, step=0, max_steps=cfg.train.max_steps, name=name,
                         message="starting the training process")
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
        proc = _spawn(["train", str(run.config_file), "--run-dir", str(path), "--resume"], run.log_file,
                      Path(cwd or root.parent))
        run.write_status("starting", pid=proc.pid, step=info.step, max_steps=info.max_steps, name=name,
                         best_bleu=info.best_bleu if info.best_bleu is not None else -1.0,
                         message="resuming from last.pt")
    return run_info(path)


def _check_limit(root: Path, limit: int | None) -> None:
    limit = max_trainings() if limit is None else limit
    running = active_runs(root)
    if len(running) >= limit:
        lines = "; ".join(r.describe() for r in running)
        raise JobLimitError(f"{len(running)} training(s) already running (limit {limit} per server): {lines}. "
                            "Wait for it to finish or stop it first.")


def stop_run(path: str | Path) -> None:
    """Ask a run to save and exit cleanly (it checks the STOP file every step). A run still "starting"
    (preparing data, before its first step) has nothing to save and would clear the STOP file when its
    loop begins, so it is terminated instead and marked stopped."""
    run = RunDir(path)
    if (run.read_status() or {}).get("state") == "starting" and kill_run(path):
        return
    run.request_stop()


def kill_run(path: str | Path, wait_s: float = 5.0) -> bool:
    """Terminate a run's process group at once (for a run that ignores STOP, or has not begun), wait for
    it to exit and mark the run stopped; True if it was running. Work since the last checkpoint is lost."""
    run = RunDir(path)
    status = run.read_status() or {}
    pid = status.get("pid")
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


def log_tail(path: str | Path, lines: int = 20) -> str:
    """The last lines of a run's ``train.log`` (progress bars' carriage returns folded)."""
    try:
        text = RunDir(path).log_file.read_bytes()[-20000:].decode("utf-8", errors="replace")
    except OSError:
        return ""
    text = "\n".join(line.split("\r")[-1] for line in text.splitlines())
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------------------- labs
def start_lab(name: str, out_dir: str | Path, *, budget: str = "small", cwd: str | Path | None = None) -> int:
    """Run ``python -m nmt_core lab NAME --budget B --out OUT`` in the background; returns the pid.
    Progress goes to ``OUT/<name>.log``; the lab writes its CSV tables into OUT when done."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = out / f"{name}.log"
    log.write_text("", encoding="utf-8")
    proc = _spawn(["lab", name, "--budget", budget, "--out", str(out)], log, Path(cwd or out))
    (out / f"{name}.pid").write_text(str(proc.pid), encoding="utf-8")
    return proc.pid


def lab_running(name: str, out_dir: str | Path) -> bool:
    try:
        pid = int((Path(out_dir) / f"{name}.pid").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return pid_alive(pid)
