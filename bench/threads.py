"""Where a second thread is won or lost in training: OpenMP's wait policy, other work on the machine, and the
hand-written teacher-forcing loop (issue 17, item 6; docs/benchmarks.md, "Threads").

Run: ``python bench/threads.py [--seconds 20] [--json docs/threads/threads.json]`` on an otherwise idle machine
(about 8 minutes on 2 cores); ``--report docs/threads`` prints the tables docs/benchmarks.md holds, with the
JoeyNMT comparison from ``train_throughput.py --peer --json`` (docs/threads/small-1thread.json and
small-2threads.json). Every measurement runs in its own child process, because libgomp reads
``OMP_WAIT_POLICY`` once, when torch loads it.

1. **Products**: GFLOP/s of the small model's per-step matrix products (64 rows) and of its output layer, with
   1 and 2 threads, under libgomp's default wait (spin, then sleep), ``PASSIVE`` (sleep at once) and ``ACTIVE``.
2. **Training**: small-configuration steps per second (the bench's data and model, batch 64) with 1 thread,
   2 spinning threads, 2 ``PASSIVE`` threads and the thread governor (``nmt_core/threads.py``), on an idle
   machine and with one busy loop of another process on the second core; and with the readable teacher-forcing
   loop instead of the hand-written one (``nmt_core/teacher_forcing.py``), 1 and 2 threads.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHAPES = {"decoder gates (64,512)x(512,1024)": (64, 512, 1024), "gates backward (64,1024)x(1024,512)": (64, 1024, 512),
          "encoder step (64,256)x(256,1024)": (64, 256, 1024), "combine (64,768)x(768,256)": (64, 768, 256),
          "output layer (704,256)x(256,8000)": (704, 256, 8000)}
POLICIES = {"default (spin, then sleep)": {}, "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
            "ACTIVE": {"OMP_WAIT_POLICY": "ACTIVE"}}
# (label, threads setting, wait policy, teacher forcing path)
TRAINING = [("1 thread", 1, {}, "hand-written"), ("2 threads", 2, {}, "hand-written"),
            ("2 threads, PASSIVE", 2, {"OMP_WAIT_POLICY": "PASSIVE"}, "hand-written"),
            ("governed (threads unset)", None, {}, "hand-written")]
READABLE = [("1 thread, readable loop", 1, {}, "readable"), ("2 threads, readable loop", 2, {}, "readable")]


def worker_products(threads: int) -> dict[str, float]:
    import torch

    torch.set_num_threads(threads)
    out = {}
    for name, (m, k, n) in SHAPES.items():
        a, b, bias = torch.randn(m, k), torch.randn(k, n), torch.randn(n)
        for _ in range(10):
            torch.addmm(bias, a, b)
        reps, start = max(20, int(2e9 / (2 * m * k * n))), time.perf_counter()
        for _ in range(reps):
            torch.addmm(bias, a, b)
        out[name] = round(2 * m * k * n * reps / (time.perf_counter() - start) / 1e9, 1)
    return out


def worker_training(threads: int | None, path: str, seconds: float) -> dict:
    import train_throughput as tt

    from nmt_core import teacher_forcing
    from nmt_core.train import Trainer

    if path == "readable":
        teacher_forcing.can_run = lambda model: False
    cfg = tt.experiment("small", Path(os.environ["BENCH_TSV"]), threads, 10**6, 0, "cpu")
    trainer = Trainer(cfg, Path(os.environ["BENCH_RUN_DIR"]), progress_bar=False)
    batches = trainer._batches()
    trainer.model.train()
    for _ in range(5):
        trainer._train_step(*next(batches)[2:])
        trainer.threads.update()
    used, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds:
        trainer._train_step(*next(batches)[2:])
        used.append(trainer.threads.update())
    wall = time.perf_counter() - start
    return {"steps_per_s": round(len(used) / wall, 2), "steps": len(used),
            "threads_used": {str(k): used.count(k) for k in sorted(set(used))},
            "other_cores_seen": round(trainer.threads.others, 2)}


def child(args: list[str], env: dict[str, str]) -> dict:
    cmd = [sys.executable, __file__, "--worker", *args]
    out = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def busy_loops(n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]


# --------------------------------------------------------------------------------------- the docs' tables
def training_table(doc: dict) -> str:
    """Steps per second of each training setting, on an idle machine and beside one busy loop."""
    rows = {}
    for r in doc["training"]:
        rows.setdefault(r["label"], {})[r["busy_loops"]] = r
    lines = ["| small configuration, batch 64 | idle machine, steps/s | one busy loop beside it, steps/s |",
             "|---|---:|---:|"]
    for label, by_load in rows.items():
        cells = []
        for others in (0, 1):
            r = by_load.get(others)
            used = "" if r is None else ", ".join(f"{k} thread{'s' * (k != '1')}" for k in r["threads_used"])
            cells.append("" if r is None else f"{r['steps_per_s']:.2f} ({used})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def peer_table(runs: dict[int, dict]) -> str:
    """Ours against JoeyNMT 2.3.0 at 1 and 2 threads, from two ``train_throughput.py --peer --json`` files."""
    lines = ["| | " + " | ".join(f"ours, {t} thread{'s' * (t > 1)} | JoeyNMT | ratio" for t in runs) + " |",
             "|---|" + "---:|---:|---:|" * len(runs)]
    for key, label in (("src_tgt_tokens_per_s", "training, source+target tokens/s"),
                       ("src_tgt_tokens_per_cpu_s", "per CPU-second"), ("dev_ppl", "dev perplexity after 310 steps")):
        cells = []
        for doc in runs.values():
            ours, peer = doc["ours"][key], doc["peer"][key]
            ratio = "" if key == "dev_ppl" else f"**{ours / peer:.2f}**"
            cells.append(f"{ours:,} | {peer:,} | {ratio}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    cells = [f"{d['ours']['fraction_of_peak']:.1%} of {d['ours']['matmul_peak_gflops']} GFLOP/s | |"
             for d in runs.values()]
    lines.append("| achieved FLOP/s, fraction of the measured matmul peak | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(folder: Path) -> str:
    """The two tables of docs/benchmarks.md's Threads section, from the JSON files in ``folder``."""
    doc = json.loads((folder / "threads.json").read_text(encoding="utf-8"))
    runs = {t: json.loads((folder / f"small-{t}thread{'s' * (t > 1)}.json").read_text(encoding="utf-8"))
            for t in (1, 2)}
    return "\n\n".join([training_table(doc), peer_table(runs)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="timed training seconds per measurement")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--report", type=Path, metavar="FOLDER",
                        help="print the docs' tables from FOLDER/threads.json and FOLDER/small-*.json, measure nothing")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.report:
        print(report(args.report))
        return
    if args.worker:
        kind, *rest = args.worker
        threads = None if rest[0] == "none" else int(rest[0])
        print(json.dumps(worker_products(threads) if kind == "products" else
                         worker_training(threads, rest[1], float(rest[2]))))
        return
    import tempfile

    import train_throughput as tt

    cache = tt.DEFAULT_CACHE  # the same corpus as train_throughput.py, made once
    cache.mkdir(parents=True, exist_ok=True)
    tsv, _ = tt.prepare_corpus(cache, tt.DEFAULT_ZIP)
    results = {"load_average_start": os.getloadavg()[0], "products": {}, "training": []}
    for policy, env in POLICIES.items():
        for threads in (1, 2):
            figures = child(["products", str(threads)], env)
            results["products"][f"{policy}, {threads} thread{'s' * (threads > 1)}"] = figures
            shown = ", ".join(f"{k.split(' (')[0]} {v}" for k, v in figures.items())
            print(f"{policy:28s} {threads} thread(s), GFLOP/s: {shown}", flush=True)
    for others in (0, 1):
        loops = busy_loops(others)
        try:
            for label, threads, env, path in TRAINING + (READABLE if others == 0 else []):
                with tempfile.TemporaryDirectory() as run_dir:
                    fig = child(["training", str(threads or "none"), path, str(args.seconds)],
                                {**env, "BENCH_RUN_DIR": run_dir, "BENCH_TSV": str(tsv)})
                fig.update(label=label, busy_loops=others)
                results["training"].append(fig)
                print(f"busy loops {others}, {label:28s}: {fig['steps_per_s']:5.2f} steps/s, threads used "
                      f"{fig['threads_used']}, other processes seen {fig['other_cores_seen']} cores", flush=True)
        finally:
            for p in loops:
                p.kill()
    results["load_average_end"] = os.getloadavg()[0]
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
