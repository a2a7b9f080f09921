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
