"""What listing the runs costs each page rerun, in a class that has trained many of them (docs/benchmarks.md,
"Classroom load").

Every page's sidebar lists the runs on every rerun (``nmt_core.runs.list_runs``, for the model picker). Each run's
config and metrics used to be parsed again each time; they are now parsed once per version of the file. This
bench makes N finished runs the size of a student's 10-minute training (``--records`` metrics lines each, the
trainer's own record layout) and times one listing with the parse caches cleared before each call (what every
rerun paid before) and with them warm (what a rerun pays now). The class_load.py figures start from an empty runs
folder, so they do not include this cost.

Run: ``python bench/run_listing.py --json docs/classroom/run-listing.json`` (under a minute).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nmt_core import runs  # noqa: E402
from nmt_core.runs import RunDir, list_runs  # noqa: E402

CONFIG = ROOT / "configs" / "toy-en-es.yaml"


def make_runs(root: Path, count: int, records: int) -> None:
    """``count`` finished runs, each with the toy recipe's config and ``records`` training records."""
    for i in range(count):
        run = RunDir(root / f"student-{i:03d}")
        run.path.mkdir(parents=True)
        run.config_file.write_text(CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
        with run.metrics_file.open("w", encoding="utf-8") as f:
            for k in range(1, records + 1):
                record = {"kind": "train", "step": 25 * k, "epoch": k // 40, "loss": 2.0 + 1 / k, "ppl": 7.4,
                          "grad_norm": 1.1, "grad_norm_max": 1.6, "lr": 1e-3, "src_tokens_per_s": 5200.0,
                          "tgt_tokens_per_s": 5400.0, "elapsed_s": 1.5 * k, "threads": 2}
                f.write(json.dumps(record) + "\n")
                if k % 20 == 0:
                    f.write(json.dumps({"kind": "dev", "step": 25 * k, "epoch": k // 40, "dev_loss": 1.5,
                                        "dev_ppl": 4.5, "bleu": 40.0 + k / 10, "chrf": 60.0}) + "\n")
        run.write_status("finished", step=25 * records, max_steps=25 * records, best_bleu=40.0)


def clear_caches() -> None:
    runs._config_limits.cache_clear()
    runs._last_elapsed.cache_clear()


def time_listing(root: Path, count: int, repeats: int, cold: bool) -> float:
    """Median milliseconds of one ``list_runs`` call."""
    times = []
    list_runs(root)  # warm the caches and the file system
    for _ in range(repeats):
        if cold:
            clear_caches()
        start = time.perf_counter()
        found = list_runs(root)
        times.append((time.perf_counter() - start) * 1e3)
        assert len(found) == count
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", default="10,40,100", help="comma-separated run counts (each 1..500)")
    parser.add_argument("--records", type=int, default=400, help="training records per run (1..20000)")
    parser.add_argument("--repeats", type=int, default=15, help="timed listings per setting (1..100)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    try:
        counts = [int(c) for c in args.runs.split(",") if c.strip()]
    except ValueError:
        parser.error(f"--runs must be comma-separated whole numbers, got {args.runs!r}")
    for name, values, low, high in (("--runs", counts, 1, 500), ("--records", [args.records], 1, 20000),
                                    ("--repeats", [args.repeats], 1, 100)):
        if not values or any(not low <= v <= high for v in values):
            parser.error(f"{name} must be in {low}..{high}, got {values}")
    rows = []
    for count in counts:
        with tempfile.TemporaryDirectory() as work:
            make_runs(Path(work), count, args.records)
            rows.append({"runs": count, "parsed_every_rerun_ms": time_listing(Path(work), count, args.repeats, True),
                         "cached_ms": time_listing(Path(work), count, args.repeats, False)})
        print(f"{count:4d} runs: {rows[-1]['parsed_every_rerun_ms']:8.1f} ms parsed every rerun, "
              f"{rows[-1]['cached_ms']:6.1f} ms cached", flush=True)
    if args.json:
        doc = {"records_per_run": args.records, "repeats": args.repeats, "listings": rows}
        args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
