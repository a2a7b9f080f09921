"""Kill a training process with SIGKILL, again and again, and check that it always resumes cleanly.

    python scripts/kill_loop.py --kills 50 --max-seconds 600 [--seed 0] [--workdir DIR] [--json out.json]

Each round starts ``python -m nmt_core train`` on a tiny config that validates and checkpoints every 2 steps
(``--resume`` once a ``last.pt`` exists), then SIGKILLs its process group:

* ``random`` rounds (one in three) at a random moment 0.2-8 s (``--random-max``) after the start: during
  start-up (imports, data, tokenizer), training, validation or saving, wherever it lands;
* ``save`` rounds when a checkpoint temp file (``.last.pt.*.tmp`` / ``.best.pt.*.tmp``) appears, i.e. in the
  middle of ``save_checkpoint`` (after a random 0-3 ms more). A temp file still there after the kill
  proves the kill landed inside the save.

After every kill it checks that ``last.pt`` (and ``best.pt``) load with ``load_checkpoint``, that the step
of ``last.pt`` never goes back, that ``status.json`` and ``metrics.jsonl`` still parse; in the next round
that the resumed process's first logged step is exactly ``last.pt``'s step + 1. At the end one more
``--resume`` runs to completion. Everything runs on this machine, in a temporary folder; nothing listens
on the network. Exit status 0 when every check passed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nmt_core.checkpoint import CheckpointError, load_checkpoint  # noqa: E402
from nmt_core.runs import RunDir, read_metrics  # noqa: E402

CONFIG = {
    "name": "kill-loop",
    "data": {"task": "toy-en-es", "size": 400, "dev_size": 16, "test_size": 16},
    "tokenizer": {"type": "word", "vocab_size": 1000},
    "model": {"embedding_size": 32, "hidden_size": 64, "dropout": 0.0},
    "train": {"batch_size": 16, "max_steps": 1_000_000, "eval_every": 2, "log_every": 1,
              "dev_bleu_sentences": 8, "threads": 1, "lr_schedule": "constant"},
}
TMP_GLOBS = (".last.pt.*.tmp", ".best.pt.*.tmp")


def tmp_files(run: Path) -> set[str]:
    return {p.name for pattern in TMP_GLOBS for p in run.glob(pattern)}


def metrics_records(run: RunDir, offset: int) -> list[dict]:
    """Complete JSON lines appended to metrics.jsonl after byte ``offset``."""
    try:
        data = run.metrics_file.read_bytes()[offset:]
    except FileNotFoundError:
        return []
    out = []
    for line in data.split(b"\n")[:-1]:
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def metrics_size(run: RunDir) -> int:
    try:
        return run.metrics_file.stat().st_size
    except FileNotFoundError:
        return 0


def spawn(cfg: Path, run: RunDir, resume: bool, log, extra: list[str] | None = None) -> subprocess.Popen:
    args = [sys.executable, "-m", "nmt_core", "train", str(cfg), "--run-dir", str(run.path), "--device", "cpu"]
    args += ["--resume"] if resume else []
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(args + (extra or []), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def kill(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # our own child's process group only
    proc.wait(timeout=30)


def wait_for_save(run: Path, proc: subprocess.Popen, before: set[str], rng: random.Random, timeout: float) -> bool:
    """Poll (every ~0.5 ms) until the n-th new checkpoint temp file appears (n = 1..4 at random, so the run
    also makes progress between kills); False on timeout or process exit."""
    wanted, seen = rng.randint(1, 4), set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            names = os.listdir(run)
        except FileNotFoundError:
            names = []
        seen |= {n for n in names if n.endswith(".tmp") and n.startswith((".last.pt.", ".best.pt."))} - before
        if len(seen) >= wanted:
            time.sleep(rng.uniform(0, 0.003))
            return True
        time.sleep(0.0005)
    return False


def check_files(run: RunDir) -> tuple[int | None, list[str]]:
    """(step of last.pt or None, problems) after a kill."""
    problems, step = [], None
    if run.last_checkpoint.exists():
        try:
            ckpt = load_checkpoint(run.last_checkpoint)
            step = ckpt.step
            if not ckpt.extra.get("training_state"):
                problems.append("last.pt has no training state")
        except CheckpointError as err:
            problems.append(f"last.pt does not load: {err}")
    if run.best_checkpoint.exists():
        try:
            load_checkpoint(run.best_checkpoint)
        except CheckpointError as err:
            problems.append(f"best.pt does not load: {err}")
    if run.status_file.exists() and run.read_status() is None:
        problems.append("status.json does not parse")
    try:
        read_metrics(run.metrics_file)
    except Exception as err:  # noqa: BLE001 - any failure to read is a finding
        problems.append(f"metrics.jsonl does not read: {err}")
    return step, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--max-seconds", type=float, default=600, help="stop starting new rounds after this")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--random-max", type=float, default=8.0, help="latest random kill, seconds after the start")
    parser.add_argument("--workdir", help="where the run folder goes (default: a new temporary folder)")
    parser.add_argument("--json", help="write the summary and every round here")
    args = parser.parse_args(argv)

    import yaml

    rng = random.Random(args.seed)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="kill-loop-"))
    work.mkdir(parents=True, exist_ok=True)
    cfg = work / "config.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG, sort_keys=False), encoding="utf-8")
    run = RunDir(work / "run")
    log = open(work / "train.log", "ab")  # noqa: SIM115 - shared by every round, closed at the end
    started = time.monotonic()
    rounds: list[dict] = []
    failures: list[str] = []
    last_step: int | None = None

    def first_step(offset: int) -> int | None:
        """The first training step the process started after ``offset`` logged (None: it logged none)."""
        return next((r["step"] for r in metrics_records(run, offset) if r.get("kind") == "train"), None)

    print(f"kill loop: {args.kills} kills, at most {args.max_seconds:g} s, work folder {work}", flush=True)
    for i in range(1, args.kills + 1):
        if time.monotonic() - started > args.max_seconds:
            print(f"time limit reached after {i - 1} kills", flush=True)
            break
        mode = "random" if i % 3 == 1 else "save"
        resume = run.last_checkpoint.exists()
        before_tmp = tmp_files(run.path)
        offset = metrics_size(run)
        t0 = time.monotonic()
        proc = spawn(cfg, run, resume, log)
        if mode == "random":
            deadline = t0 + rng.uniform(0.2, args.random_max)
            while time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.005)
            landed = True
        else:
            landed = wait_for_save(run.path, proc, before_tmp, rng, timeout=60)
        exited_early = proc.poll()
        status = run.read_status() or {}
        training = status.get("pid") == proc.pid and status.get("state") == "running"
        kill(proc)
        t_kill = time.monotonic() - t0
        new_tmp = tmp_files(run.path) - before_tmp
        phase = "saving" if new_tmp else ("training" if training else "start-up")
        row = {"round": i, "mode": mode, "resumed": resume, "kill_after_s": round(t_kill, 3), "phase": phase,
               "last_before": last_step, "tmp_left": sorted(new_tmp), "resume_ok": None, "resumed_at": None}
        if exited_early is not None:
            failures.append(f"round {i}: the process exited by itself with code {exited_early}")
        if mode == "save" and not landed:
            row["note"] = "no temp file seen within 60 s"
        first = first_step(offset)
        if first is not None:  # it trained: it must have continued right after the checkpoint it started from
            expected = (last_step if resume else 0) + 1
            row["resumed_at"], row["resume_ok"] = first, first == expected
            if first != expected:
                failures.append(f"round {i}: first step {first}, expected {expected}")
        step, problems = check_files(run)
        row["last_after"] = step
        row["loads"] = not problems
        if step is not None and last_step is not None and step < last_step:
            problems.append(f"last.pt went back from step {last_step} to {step}")
        failures += [f"round {i}: {p}" for p in problems]
        if step is not None:
            last_step = step
        rounds.append(row)
        print(f"#{i:>3} {mode:6s} {phase:9s} killed after {t_kill:5.2f}s  last.pt step {str(row['last_before']):>5} -> "
              f"{str(step):>5}  loads={'yes' if not problems else 'NO'}  tmp left={len(new_tmp)}", flush=True)

    # the final resume runs to completion
    final_ok, final_step = False, None
    if last_step is not None:
        offset = metrics_size(run)
        proc = spawn(cfg, run, True, log, ["--set", f"train.max_steps={last_step + 4}"])
        try:
            code = proc.wait(timeout=180)
        except subprocess.TimeoutExpired:
            kill(proc)
            code = -9
        if first_step(offset) != last_step + 1:
            failures.append(f"final resume: first step {first_step(offset)}, expected {last_step + 1}")
        try:
            final_step = load_checkpoint(run.last_checkpoint).step
        except CheckpointError as err:
            failures.append(f"final: last.pt does not load: {err}")
        status = run.read_status() or {}
        final_ok = code == 0 and status.get("state") == "finished" and final_step == last_step + 4
        if not final_ok:
            failures.append(f"final resume: exit {code}, status {status.get('state')}, step {final_step}, "
                            f"expected {last_step + 4}")
    else:
        failures.append("no checkpoint was ever written")
    log.close()

    phases = {p: sum(r["phase"] == p for r in rounds) for p in ("start-up", "training", "saving")}
    verified = [r for r in rounds if r["resume_ok"] is not None and r["resumed"]]
    summary = {
        "kills": len(rounds), "phases": phases, "elapsed_s": round(time.monotonic() - started, 1),
        "all_loads": all(r["loads"] for r in rounds), "resumes_verified": len(verified),
        "resumes_exact": sum(bool(r["resume_ok"]) for r in verified), "final_resume_ok": final_ok,
        "final_step": final_step, "tmp_files_left": len(tmp_files(run.path)), "failures": failures,
        "work": str(work),
    }
    print("\n| # | mode | phase at kill | killed after (s) | last.pt step before -> after | loads | "
          "first step logged (ok = checkpoint + 1) | temp file left |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rounds:
        resumed = "-" if r["resume_ok"] is None else f"{r['resumed_at']} ({'ok' if r['resume_ok'] else 'WRONG'})"
        print(f"| {r['round']} | {r['mode']} | {r['phase']} | {r['kill_after_s']:.2f} | {r['last_before']} -> "
              f"{r['last_after']} | {'yes' if r['loads'] else 'NO'} | {resumed} | {len(r['tmp_left'])} |")
    print(f"\nsummary: {json.dumps({k: v for k, v in summary.items() if k != 'failures'})}")
    print("failures: " + ("none" if not failures else "\n  " + "\n  ".join(failures)))
    if args.json:
        Path(args.json).write_text(json.dumps({**summary, "rounds": rounds}, indent=1), encoding="utf-8")
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
