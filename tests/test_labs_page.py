"""The Labs page: a chart for every lab, and captions that never claim more than their numbers show."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest_app import studio_folder
from streamlit.testing.v1 import AppTest

from nmt_core.labs.claims import CLAIMS, verdict
from studio.lab_view import CATALOGUE

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    yield from studio_folder(tmp_path_factory, "labs-studio")


def test_every_lab_has_a_claim_a_view_and_a_runner():
    from nmt_core.labs import LABS

    assert set(CATALOGUE) == set(CLAIMS) == set(LABS)


def test_the_labs_page_shows_a_chart_for_every_stored_lab(studio):
    from studio import labs

    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page("pages/8_Labs.py").run()
    assert not at.exception, [e.message for e in at.exception]
    stored = [name for name in CATALOGUE if labs.lab_tables(name)[1]]
    charts = at.get("vega_lite_chart")
    assert len(charts) >= len(stored) >= 5
    measured = [m.value for m in at.markdown if m.value.startswith("**Measured**")]
    assert len(measured) == len(stored)


def _bottleneck(short_att, short_none, long_att, long_none) -> dict[str, pd.DataFrame]:
    rows = [("attention", "1-5", 1, short_att), ("no attention", "1-5", 1, short_none),
            ("attention", "21+", 21, long_att), ("no attention", "21+", 21, long_none)]
    return {"bleu_by_length": pd.DataFrame(rows, columns=["variant", "bucket", "lo", "bleu"])}


def test_the_bottleneck_caption_needs_the_numbers():
    assert verdict("bottleneck", _bottleneck(90, 80, 70, 20)).supported is True
    assert verdict("bottleneck", _bottleneck(55.6, 1.7, 18.6, 1.9)).supported is False  # the old Compare chart
    assert verdict("bottleneck", _bottleneck(90, 80, 20, 30)).supported is False  # attention loses on long ones
    assert verdict("bottleneck", {"bleu_by_length": pd.DataFrame(
        [("attention", "1-5", 1, 9.0), ("no attention", "1-5", 1, 5.0)],
        columns=["variant", "bucket", "lo", "bleu"])}).supported is None  # one bucket: cannot tell


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_every_stored_verdict_agrees_with_its_table(name):
    """For the results shipped with the repository: the verdict's numbers are the table's numbers."""
    from studio import labs

    folder, tables = labs.lab_tables(name)
    assert tables, f"no stored results for {name}: every lab ships its tables (docs/labs.md has the commands)"
    judged = verdict(name, tables)
    assert judged.supported is not None, judged.measured
    if name.startswith("bottleneck"):
        wide = tables["bleu_by_length"].pivot_table(index="lo", columns="variant", values="bleu").sort_index()
        longest = wide.iloc[-1]
        assert f"attention {longest['attention']:.1f}" in judged.measured
        assert judged.supported == bool(longest["attention"] > longest["no attention"] and
                                        longest["attention"] - longest["no attention"] >=
                                        wide.iloc[0]["attention"] - wide.iloc[0]["no attention"])
    info = json.loads((folder / f"{name.replace('-', '_')}_info.json").read_text())
    assert "seconds" in info


def test_a_lab_does_not_read_the_tables_of_a_lab_whose_name_extends_its_own():
    """greedy_vs_beam_* also matches greedy_vs_beam_en_de_*: the toy lab must read only its own tables."""
    from studio import labs

    for name in ("greedy-vs-beam", "bottleneck"):
        _, tables = labs.lab_tables(name)
        assert tables and not any(t.startswith("en_de") for t in tables), sorted(tables)


def test_the_vanishing_verdict_names_the_lstm_that_carries_it():
    """A plain LSTM no better than the RNN must not sit silently under a supported mark for "an LSTM about 100"."""
    rows = [("rnn", 5, 1.0), ("rnn", 10, 0.5), ("lstm", 5, 1.0), ("lstm", 10, 0.5),
            ("lstm (open forget gate)", 5, 1.0), ("lstm (open forget gate)", 100, 0.95)]
    judged = verdict("vanishing", {"accuracy": pd.DataFrame(rows, columns=["variant", "lag", "accuracy"])})
    assert judged.supported is True
    assert "Only the lstm (open forget gate) reaches further than the RNN" in judged.measured
    assert "the plain LSTM does not" in judged.measured
    rows[3] = ("lstm", 10, 0.95)  # the plain LSTM also beats the RNN: nothing to add
    judged = verdict("vanishing", {"accuracy": pd.DataFrame(rows, columns=["variant", "lag", "accuracy"])})
    assert "Only the" not in judged.measured


def test_the_bottleneck_verdict_says_its_measure_and_the_relative_loss():
    judged = verdict("bottleneck", _bottleneck(38.0, 20.1, 25.0, 9.3))
    assert judged.supported is False  # attention's absolute lead shrinks: 17.9 -> 15.7
    assert "Attention's lead: 17.9 BLEU on the shortest, 15.7 on the longest (the verdict's measure)" in judged.measured
    assert "the shortest keep 53% of attention's BLEU, the longest 37%" in judged.measured


def test_column_help_names_columns_the_stored_tables_have():
    """The help on empty cells must sit on a column a lab table really shows (it once read as a bare "None")."""
    from studio import labs
    from studio.lab_view import CATALOGUE, COLUMN_HELP

    shown = set()
    for name, (_, _, main) in CATALOGUE.items():
        tables = labs.lab_tables(name)[1]
        if main in tables:
            shown |= set(tables[main].columns)
    assert set(COLUMN_HELP) <= shown
