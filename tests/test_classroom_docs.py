"""The classroom figures in docs/benchmarks.md#classroom-load are the load script's own tables
(``scripts/class_load.py --report`` over docs/classroom/*.json), and the runs they come from had no errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ["burst-30", "work-30-translate", "work-30-four-pages", "burst-30-two-replicas"]


def test_the_docs_tables_are_the_runs_tables():
    sys.path.insert(0, str(ROOT / "scripts"))
    from class_load import report

    doc = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for name in RUNS:
        saved = json.loads((ROOT / "docs" / "classroom" / f"{name}.json").read_text(encoding="utf-8"))
        for line in report(saved).splitlines():
            if line.startswith("| ") and not line.startswith("| run ") and not line.startswith("| page "):
                assert line in doc, line


def test_the_measured_runs_are_30_students_without_errors():
    for name in RUNS:
        saved = json.loads((ROOT / "docs" / "classroom" / f"{name}.json").read_text(encoding="utf-8"))
        assert saved["students"] == 30
        runs = [*(saved.get("rounds") or []), *([saved["working"]] if saved.get("working") else [])]
        assert runs and all(not r["errors"] for r in runs)


def test_the_run_listing_figures_are_the_saved_ones():
    doc = json.loads((ROOT / "docs" / "classroom" / "run-listing.json").read_text(encoding="utf-8"))
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    rows = doc["listings"]
    for r in rows:
        assert f"| {r['runs']} | {r['parsed_every_rerun_ms']:,.1f} ms | {r['cached_ms']:,.1f} ms |" in text
    per_run = [r["parsed_every_rerun_ms"] / r["runs"] for r in rows]
    assert f"parsed again each time: {min(per_run):.0f}–{max(per_run):.0f}\nms per run per rerun" in text
    forty = next(r for r in rows if r["runs"] == 40)
    assert (f"had paid {forty['parsed_every_rerun_ms'] / 1000:.2f} s of server CPU for the list, more than a whole\n"
            f"cached Translate rerun; it now pays {forty['cached_ms']:.0f} ms") in text
    assert f"makes N finished runs of {doc['records_per_run']} training records" in text
    costs = json.loads((ROOT / "docs" / "classroom" / "burst-30.json").read_text(encoding="utf-8"))["costs"]
    hit = next(c for c in costs if c["page"] == "Translate" and "cache hit" in c["kind"])
    assert forty["parsed_every_rerun_ms"] / 1000 > hit["server_cpu_s"]
