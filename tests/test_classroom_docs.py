"""The classroom figures in docs/benchmarks.md#classroom-load are the load script's own tables
(``scripts/class_load.py --report`` over docs/classroom/*.json), and the runs they come from had no errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ["burst-30", "work-30-translate", "work-30-four-pages", "burst-30-two-replicas", "burst-30-four-pages"]
HISTORY = ["burst-30-arrow", "burst-30-before-priority", "burst-30-before-priority-2", "burst-30-after-priority-2"]


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
    for name in RUNS + HISTORY:
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
    assert "parsed again each time: about\n11 ms per run per rerun" in text and all(10 <= p < 12 for p in per_run)
    forty = next(r for r in rows if r["runs"] == 40)
    assert (f"had paid {forty['parsed_every_rerun_ms'] / 1000:.2f} s of server CPU for the list, more than a whole\n"
            f"cached Translate rerun; it now pays {forty['cached_ms']:.0f} ms") in text
    assert f"makes N finished runs of {doc['records_per_run']} training records" in text
    costs = json.loads((ROOT / "docs" / "classroom" / "burst-30.json").read_text(encoding="utf-8"))["costs"]
    hit = next(c for c in costs if c["page"] == "Translate" and "cache hit" in c["kind"])
    assert forty["parsed_every_rerun_ms"] / 1000 > hit["server_cpu_s"]


def _doc(name: str) -> dict:
    return json.loads((ROOT / "docs" / "classroom" / f"{name}.json").read_text(encoding="utf-8"))


def _span(values, fmt: str = "{:.2f}") -> str:
    low, high = (fmt.format(v) for v in (min(values), max(values)))
    return low if low == high else f"{low}–{high}"


def _rounds(*names: str) -> list[dict]:
    return [r for name in names for r in _doc(name)["rounds"]]


def _times(rounds: list[dict], stat: str = "median", what: str = "translation_s") -> list[float]:
    return [r[what][stat] for r in rounds]


def test_the_sentences_around_the_tables_say_what_the_runs_say():
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    flat = " ".join(text.split())
    working = [_doc(n)["working"] for n in ("work-30-translate", "work-30-four-pages")]
    busy = _span([w["server_cores_busy"] for w in working])
    assert f"Median {_span([w['translation_s']['median'] for w in working])} s to see the translation" in flat
    assert f"The server was busy {busy} cores on average" in flat
    per = _span([w["server_cpu_per_interaction_s"] for w in working])
    assert f"30 students kept {busy} cores busy at {per}" in flat
    per_process = 0.6 / (max(w["server_cores_busy"] for w in working) / 30)
    assert f"30 ≈ {per_process:.0f} students" in flat and per_process >= 50  # "about 50 students per studio process"
    after = _rounds("burst-30", "burst-30-after-priority-2")
    before_priority = _rounds("burst-30-before-priority", "burst-30-before-priority-2")
    two, four = _rounds("burst-30-two-replicas"), _rounds("burst-30-four-pages")
    assert (f"Median {_span(_times(after))} s to the translation (p95 {_span(_times(after, 'p95'))} s) over four "
            "rounds, three of them at or under the 1 s target") in flat
    assert sum(m <= 1 for m in _times(after)) == 3 and max(_times(after, "p95")) <= 3
    assert f"The same burst on the code before this stop waited {_span(_times(before_priority))} s" in flat
    assert (f"done after a median of {_span(_times(after, 'median', 'page_s'))} s, against "
            f"{_span(_times(before_priority, 'median', 'page_s'))} s before") in flat
    cpu = lambda rounds: _span([r["server_cpu_s"] for r in rounds], "{:.1f}")  # noqa: E731
    assert f"{cpu(after)} CPU seconds per round against {cpu(before_priority)} before" in flat
    assert f"median of {_span(_times(two))} s (p95 {_span(_times(two, 'p95'))} s)" in flat and max(_times(two)) <= 1
    assert f"after a median of {_span(_times(four))} s (p95 {_span(_times(four, 'p95'))} s)" in flat
    assert max(_times(four)) <= 1  # "met"
    from studio import priority
    waits = priority.WAIT_S
    assert (f"Every wait is bounded ({waits['first']:g} s for a first-result slot, {waits['first results']:g} s for "
            f"the first results, {waits['extras']:g} s for an extras slot;") in flat
    before = [_doc(n)["rounds"] for n in ("burst-30-before-this-stop", "burst-30-before-this-stop-2")]
    cold = _doc("burst-30-cold-after")["rounds"]
    first = sorted(r[0]["first_load_s"]["median"] for r in before)
    assert f"took {first[0]:.1f}–{first[1]:.1f} s (median; two runs" in flat
    assert f"and {cold[0]['first_load_s']['median']:.1f} s after it" in flat
    cpu_before = [x["server_cpu_per_interaction_s"] for r in before for x in r]
    cpu_arrow = [x["server_cpu_per_interaction_s"] for x in _doc("burst-30-arrow-only")["rounds"]]
    cpu_with = cpu_arrow + [x["server_cpu_per_interaction_s"] for n in ("burst-30-arrow", "burst-30-cold-after")
                            for x in _doc(n)["rounds"]]
    assert f"was {_span(cpu_before, '{:.3f}')} s before and {_span(cpu_arrow, '{:.3f}')} s with it" in flat
    assert f"the range is {_span(cpu_with, '{:.3f}')} s, so that one pair overstates the gain" in flat
    assert max(cpu_arrow) < min(cpu_before) and max(cpu_with) > min(cpu_before)  # the pair's gain, and the overlap
    # the rows of the "What made it small" table that come from saved runs
    hit = lambda doc, page: next(c["server_cpu_s"] for c in doc["costs"]  # noqa: E731
                                 if c["page"] == page and "cache hit" in c["kind"])
    for name, label in (("costs-before-arrow", "| the same code, measured again on 2026-11-27"),
                        ("burst-30-arrow", "| and every chart's datasets converted to Arrow once per server"),
                        ("burst-30", "| this stop's code (first results first")):
        row = next(line for line in text.splitlines() if line.startswith(label))
        assert row.endswith(f"| {hit(_doc(name), 'Translate'):.2f} s | {hit(_doc(name), 'Attention'):.2f} s |")
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"see their translation in {_span([w['translation_s']['median'] for w in working])} s" in readme
    assert f"wait {_span(_times(after), '{:.1f}')} s with one process" in readme
    assert f"and {_span(_times(two), '{:.1f}')} s with two" in readme
    deploy = " ".join((ROOT / "docs" / "deploy.md").read_text(encoding="utf-8").split())
    assert f"30 such students kept {busy} cores busy" in deploy and "S ≈ 50" in deploy
    assert "(median; p95 under 0.4 s)" in readme and max(w["translation_s"]["p95"] for w in working) < 0.4
    assert "p95 under 1.1 s for the whole page" in deploy and max(w["page_s"]["p95"] for w in working) < 1.1


def test_the_preloading_figures_are_the_saved_ones():
    """make app's launcher (studio.serve) against plain streamlit run: a class opening a fresh studio at once."""
    def first_page(name: str) -> float:
        rounds = _doc(name)["rounds"][0]
        return (rounds[0] if isinstance(rounds, list) else rounds)["first_load_s"]["median"]

    plain = sorted(first_page(n) for n in ("cold-open-streamlit-run", "cold-open-streamlit-run-2"))
    serve = sorted(first_page(n) for n in ("cold-open-studio-serve", "cold-open-studio-serve-2"))
    flat = " ".join((ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8").split())
    assert (f"The first page took {plain[0]:.2f}–{plain[1]:.2f} s (median) with plain `streamlit run app.py` and "
            f"{serve[0]:.2f}–{serve[1]:.2f} s with `studio.serve`") in flat
    assert serve[1] < 0.6 * plain[0]  # "about half as long" (docs/deploy.md)
    assert "waits about half as long for its first page" in " ".join(
        (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8").split())
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "$(BIN)/python -m studio.serve" in makefile  # the figures are for what make app runs
