"""Figures quoted in the docs are the measurement files' own numbers (the scripts write the JSON; these tests read
the prose): the hostile-link load run in docs/robustness.md and the attention-vs-attribution run in
docs/explainers.md."""

from __future__ import annotations

import json
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_the_hostile_link_figures_are_the_runs():
    run = json.loads((DOCS / "expensive-link-load.json").read_text(encoding="utf-8"))
    text = (DOCS / "robustness.md").read_text(encoding="utf-8")
    assert f"| {run['idle_median_s']:.1f} s |" in text
    assert f"{run['loaded_median_s']:.1f} s (**{run['ratio']:.2f}×**" in text
    assert f"{run['attack_max_s']:.1f} s" in text and f"{run['peak_rss_mb']:.0f} MB" in text
    assert run["ratio"] <= 2 and run["peak_rss_mb"] < 1536 and not run.get("failures")


def test_the_attribution_figures_are_the_benchmarks():
    run = json.loads((DOCS / "attention-vs-attribution.json").read_text(encoding="utf-8"))
    text = (DOCS / "explainers.md").read_text(encoding="utf-8")
    assert f"**{round(run['same_top_share'] * 100)} %**" in text
    assert f"**{run['spearman_mean']:.2f}** (median {run['spearman_median']:.2f})" in text
    assert f"{run['never_attended']} of the {run['source_tokens']:,} source tokens" in text
    assert f"({run['target_tokens']:,} target tokens)" in text


def test_the_real_language_depth_table_is_the_runs():
    runs = json.loads((DOCS / "labs" / "depth-en-de-runs.json").read_text(encoding="utf-8"))["runs"]
    text = (DOCS / "labs.md").read_text(encoding="utf-8")
    for run, name in zip(runs, ("1 layer", "2 layers")):
        assert f"| {name} | {run['parameters']:,} | {run['steps']:,} | {run['dev_bleu']:.2f} |" in text
    one, two = runs
    assert f"ends {one['test_bleu'] - two['test_bleu']:.1f} BLEU lower" in text and one["test_bleu"] > two["test_bleu"]
