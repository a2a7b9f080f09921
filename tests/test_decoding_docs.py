"""The decoding table in docs/benchmarks.md is the saved runs' own table (``bench/decoding_table.py`` over
docs/decoding/*.json, each a ``bench/train_throughput.py --decode-from WORK --peer --fast`` run)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ["beam-1thread-round1", "beam-1thread-round2", "beam-2threads"]
TEXT_ONLY = ["text-only-1thread-round1", "text-only-1thread-round2", "text-only-2threads"]


def test_the_docs_table_is_the_runs_table():
    sys.path.insert(0, str(ROOT / "bench"))
    from decoding_table import load, table

    for names in (RUNS, TEXT_ONLY):
        runs = load([str(ROOT / "docs" / "decoding" / f"{name}.json") for name in names])
        assert table(runs) in (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")


def test_both_toolkits_decoded_the_same_test_set_on_the_cpu():
    sys.path.insert(0, str(ROOT / "bench"))
    from decoding_table import load

    for _, doc in load([str(ROOT / "docs" / "decoding" / f"{name}.json") for name in RUNS + TEXT_ONLY]):
        assert doc["decode"]["device"] == "cpu" and doc["decode"]["sentences"] == 1000
        assert doc["peer"]["beam5"]["sentences_per_s"] > 0


def test_text_only_search_changed_no_output_and_the_sentences_say_what_the_runs_say():
    sys.path.insert(0, str(ROOT / "bench"))
    from decoding_table import ROWS, load

    path = lambda name: str(ROOT / "docs" / "decoding" / f"{name}.json")  # noqa: E731
    before, after = load([path(n) for n in RUNS]), load([path(n) for n in TEXT_ONLY])
    for (_, old), (_, new) in zip(before, after):  # the same translations: the same BLEU in every mode
        assert all(old["decode"][mode]["bleu"] == new["decode"][mode]["bleu"] for mode in ROWS)
    one = lambda runs, side, mode="beam5": sorted(d[side][mode]["sentences_per_s"]  # noqa: E731
                                                   for name, d in runs if "1 thread" in name)
    ratio = lambda runs, mode: sorted(d["decode"][mode]["sentences_per_s"] / d["peer"]["beam5"]["sentences_per_s"]  # noqa: E731
                                      for name, d in runs if "1 thread" in name)
    text = " ".join((ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8").split())
    span = lambda v, f="{:.1f}": f"{f.format(v[0])}–{f.format(v[-1])}"  # noqa: E731
    assert f"JoeyNMT itself decoded {span(one(after, 'peer'))} sentences/s with one thread" in text
    assert (f"against {span(one(before, 'peer'))} in the first runs, while ours went from "
            f"{span(one(before, 'decode'))} to {span(one(after, 'decode'))}.") in text
    exact = sorted(d["decode"]["beam5"]["sentences_per_s"] / d["peer"]["beam5"]["sentences_per_s"] for _, d in after)
    assert f"Exact beam search: {span(exact, '{:.2f}')}× here" in text and max(exact) < 3
    fast = ratio(after, "beam5, int8 + shortlist, heuristic stop")
    assert f"heuristic stop: {span(fast, '{:.2f}')}× with one thread" in text


def test_the_text_only_gain_is_the_saved_runs():
    saved = json.loads((ROOT / "docs" / "decoding" / "text-only-gain.json").read_text(encoding="utf-8"))
    summary, figures = saved["summary"], saved["figures"]
    batched = summary["text-only gain, batched (plain / text-only time)"]
    alone = summary["text-only gain, one at a time (plain / text-only time)"]
    bench = " ".join((ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8").split())
    trace_doc = " ".join((ROOT / "docs" / "beam-trace.md").read_text(encoding="utf-8").split())
    assert (f"text-only search is {batched:.2f}× the traced search batched and {alone:.2f}× one sentence at a "
            "time") in bench
    assert (f"{figures['beam 5 text only, batched']['sentences_per_s']} against "
            f"{figures['beam 5, batched']['sentences_per_s']} sentences/s batched") in bench
    assert f"{batched:.2f}x faster batched and {alone:.2f}x one at a time" in trace_doc
