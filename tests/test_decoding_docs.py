"""The decoding table in docs/benchmarks.md is the saved runs' own table (``bench/decoding_table.py`` over
docs/decoding/*.json, each a ``bench/train_throughput.py --decode-from WORK --peer --fast`` run)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ["beam-1thread-round1", "beam-1thread-round2", "beam-2threads"]


def test_the_docs_table_is_the_runs_table():
    sys.path.insert(0, str(ROOT / "bench"))
    from decoding_table import load, table

    runs = load([str(ROOT / "docs" / "decoding" / f"{name}.json") for name in RUNS])
    assert table(runs) in (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")


def test_both_toolkits_decoded_the_same_test_set_on_the_cpu():
    sys.path.insert(0, str(ROOT / "bench"))
    from decoding_table import load

    for _, doc in load([str(ROOT / "docs" / "decoding" / f"{name}.json") for name in RUNS]):
        assert doc["decode"]["device"] == "cpu" and doc["decode"]["sentences"] == 1000
        assert doc["peer"]["beam5"]["sentences_per_s"] > 0
