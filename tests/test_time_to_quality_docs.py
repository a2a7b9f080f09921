"""The time-to-quality figures on screen and in the docs are the benchmark's own numbers.

``bench/time_to_quality.py --json docs/time-to-quality.json`` measures; ``--report`` prints the table that
docs/benchmarks.md holds; the Train page's caption (``studio.train_form.recipe_evidence``) reads the same file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "docs" / "time-to-quality.json"


def saved() -> dict:
    return json.loads(RESULT.read_text(encoding="utf-8"))


def test_the_docs_table_is_the_reports_table():
    sys.path.insert(0, str(ROOT / "bench"))
    from time_to_quality import table

    result = saved()
    minutes = sorted({r["minutes"] for r in result["ours"] + result["peer"]})
    assert table(result["ours"], result["peer"], minutes) in (ROOT / "docs" / "benchmarks.md").read_text("utf-8")


def test_the_train_pages_caption_quotes_the_file():
    from studio.train_form import recipe_evidence

    result = saved()
    ours = {r["minutes"]: r for r in result["ours"]}
    peer = {r["minutes"]: r for r in result["peer"]}
    caption = recipe_evidence()
    assert caption is not None
    assert f"test BLEU {ours[10]['bleu']:.1f} in 10 minutes" in caption
    assert f"{peer[10]['bleu']:.1f} in 10 minutes" in caption
    assert f"{result['about']['sizes']['train']:,} Tatoeba" in caption
