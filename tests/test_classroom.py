"""In front of a class: token what-ifs, side-by-side decoding, projector mode, state that follows the sentence,
checkpoint upload, charts that fit, and links that start no work when locked (AppTest; the browser checks are
in tests/test_browser.py)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from conftest_app import studio_folder, tiny_checkpoint
from streamlit.testing.v1 import AppTest

from nmt_core.translator import Translator

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    yield from studio_folder(tmp_path_factory, "classroom-studio")


def open_page(page: str | None = None, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query)
    at.run()
    if page:
        at.switch_page(f"pages/{page}").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def test_blocking_the_models_own_token_gives_another_translation(studio):
    at = open_page("1_Translate.py")
    own = at.code[0].value
    assert at.text_input(key="wi_tok").value.strip()  # the model's own first token, ready to block
    texts = [c.value for c in at.code]
    assert texts.count(own) >= 2  # the best translation and the what-if's "model's own choice"
    with_change = next(c.value for c in at.code if c.value != own)
    assert with_change.split()[0] != own.split()[0]  # blocked: another first word
    captions = " ".join(c.value for c in at.caption)
    assert "score" in captions and "(-" in captions  # the changed search scores no better than the free one


def test_forcing_a_token_puts_it_at_that_step(studio):
    at = open_page("1_Translate.py")
    at.segmented_control(key="wi_do").set_value("force").run()
    at.number_input(key="wi_step").set_value(1).run()
    at.text_input(key="wi_tok").input("la").run()
    assert not at.exception
    assert any(c.value.split()[:1] == ["la"] for c in at.code)
    at.text_input(key="wi_tok").input("zzzunknownzzz").run()
    assert not at.exception and any("not in the model's target vocabulary" in w.value for w in at.warning)


def test_side_by_side_shows_each_setting_and_where_they_part(studio):
    at = open_page("1_Translate.py")
    table = next(d.value for d in at.dataframe if "parts ways at" in d.value.columns)
    assert list(table["setting"]) == ["greedy", "beam 5, no penalty", "beam 5, GNMT α=0.6, exact stop"]
    assert {"translation", "score", "stopped at step", "stop reason"} <= set(table.columns)
    assert table["parts ways at"].iloc[0] == "same output"  # the first setting against itself
    at.segmented_control(key="sbs_n").set_value(4).run()
    table = next(d.value for d in at.dataframe if "parts ways at" in d.value.columns)
    assert len(table) == 4 and table["setting"].iloc[3] == "beam 12, length-normalised, heuristic stop"


def test_comparison_table_finds_the_first_difference():
    from studio.what_ifs import DEFAULTS, comparison_table

    class Hyp:
        def __init__(self, pieces):
            self.pieces, self.tokens, self.text, self.score, self.logprob = pieces, pieces, " ".join(pieces), -1, -1

    class Result:
        def __init__(self, pieces):
            self.hypotheses = [Hyp(pieces)]
            self.best = self.hypotheses[0]
            self.trace = type("T", (), {"stop_step": 3, "stop_reason": "bound"})()

    table = comparison_table(list(DEFAULTS[:3]), [Result(("a", "b", "c")), Result(("a", "x", "c")),
                                                  Result(("a", "b", "c", "d"))])
    assert list(table["parts ways at"]) == ["same output", "piece 2", "piece 4"]


def test_projector_mode_enlarges_every_chart(studio):
    normal = specs(open_page("2_Attention.py"))
    big = specs(open_page("2_Attention.py", projector="1"))
    assert len(normal) == len(big) >= 1
    assert big[0]["config"]["axis"]["labelFontSize"] >= 16
    assert big[0]["height"] > normal[0]["height"]
    at = open_page("2_Attention.py")
    at.sidebar.toggle(key="projector").set_value(True).run()
    assert specs(at)[0]["config"]["axis"]["labelFontSize"] >= 16


def test_charts_fill_their_column(studio):
    for spec in specs(open_page("1_Translate.py")):
        if "layer" in spec or "mark" in spec:
            assert spec["width"] == "container" and spec["autosize"]["type"] == "fit-x"


def test_a_chart_faceted_by_encoding_keeps_its_natural_size(studio):
    """The saturation histogram (row and column encodings) drew 0 px wide in Chromium when given the container's
    width: a facet cannot fit the column, so it keeps its cells' width."""
    at = open_page("3_Gates.py")
    at.text_area(key="s").input("the red car is fast").run()
    faceted = [s for s in specs(at) if "row" in s.get("encoding", {}) or "column" in s.get("encoding", {})]
    assert faceted and all(isinstance(s["width"], int | float) and s["autosize"]["type"] != "fit-x" for s in faceted)


def test_the_hypothesis_picker_follows_the_sentence(studio):
    """The picker starts again at #1 for a new sentence; its labels are ranks only (a keyed widget keeps its
    identity, so a label holding the text went stale in the browser) and the chosen text is printed from the new
    search."""
    at = open_page("1_Translate.py")
    at.text_area(key="s").input("the red car is fast").run()
    at.selectbox(key="rank").set_value(2).run()
    old_second = next(c.value for c in at.caption if c.value.startswith("#2: "))
    at.text_area(key="s").input("she is tired").run()
    picker = at.selectbox(key="rank")
    assert picker.value == 1 and picker.format_func(1) == "#1"
    best = at.code[0].value
    assert f"#1: {best}" in [c.value for c in at.caption]
    assert all(old_second not in c.value for c in at.caption)


def test_block_chips_follow_the_sentence(studio):
    at = open_page("2_Attention.py")
    at.text_area(key="s").input("the red car is very fast").run()
    at.multiselect(key="block").set_value([3]).run()
    at.text_area(key="s").input("she is tired").run()
    assert not at.exception and at.multiselect(key="block").value == []


def test_locked_links_show_no_button_that_starts_or_stops_work(studio):
    at = open_page("5_Train.py", locked="1")
    keys = {b.key for b in at.button}
    assert not keys & {"tr_start", "tr_stop", "tr_kill", "tr_resume"}
    at = open_page("4_Gradients.py", locked="1")
    assert not [b for b in at.button if (b.key or "").startswith("lab-")]


# ------------------------------------------------------------------------------------------ checkpoint upload
class Upload(io.BytesIO):
    def __init__(self, data: bytes, name: str):
        super().__init__(data)
        self.name, self.size = name, len(data)


def test_an_uploaded_checkpoint_is_usable_on_every_page(studio, tmp_path):
    good = tiny_checkpoint(tmp_path / "mine.pt", cell="gru")
    at = open_page()
    at.file_uploader(key="ckpt_upload").set_value(("mine.pt", good.read_bytes(), "application/octet-stream")).run()
    assert not at.exception
    assert "mine (uploaded)" in at.sidebar.selectbox(key="model").options
    at.sidebar.selectbox(key="model").set_value("mine (uploaded)").run()
    at.switch_page("pages/1_Translate.py").run()
    assert not at.exception and at.code[0].value is not None


@pytest.mark.parametrize("name,data,reason", [
    ("junk.pt", b"hello, I am not a checkpoint", "not a checkpoint"),
    ("foreign.pt", b"PK\x03\x04" + b"\x00" * 200, "not a readable checkpoint"),
    ("notes.txt", b"hello", "must be a .pt file"),
])
def test_bad_uploads_get_one_line_and_the_page_keeps_working(studio, name, data, reason):
    at = open_page()
    at.file_uploader(key="ckpt_upload").set_value((name, data, "application/octet-stream")).run()
    assert not at.exception
    errors = " ".join(e.value for e in at.error).replace("\\", "")  # as the reader sees it (Markdown escapes)
    assert reason in errors and "\n" not in errors
    assert not [o for o in at.sidebar.selectbox(key="model").options if "uploaded" in o]


def test_an_oversized_upload_is_refused_before_it_is_read(studio, monkeypatch):
    from studio import model_upload

    monkeypatch.setattr(model_upload, "MAX_CHECKPOINT_MB", 0.001)
    at = open_page()
    at.file_uploader(key="ckpt_upload").set_value(("big.pt", b"x" * 5000, "application/octet-stream")).run()
    assert any("limit" in e.value for e in at.error)


def test_translator_target_piece_explains_itself(tmp_path):
    tr = Translator.from_path(tiny_checkpoint(tmp_path / "t.pt"), "cpu")
    token, piece, note = tr.target_piece("la")
    assert tr.tokenizers.tgt.id_to_piece(token) == piece and note is None
    with pytest.raises(ValueError, match="not in the model's target vocabulary"):
        tr.target_piece("qqqq")
    with pytest.raises(ValueError, match="type the target word"):
        tr.target_piece("   ")


def test_a_class_opening_the_studio_at_once_checks_each_checkpoint_once(tmp_path, monkeypatch):
    """12 sessions listing the models in the same instant: one validates the file, the others wait for its
    answer (an lru_cache alone lets every concurrent caller miss and check the file again). A session asking
    about another file whose answer is known does not wait behind that check."""
    import threading
    import time

    from studio import model_checks

    model_checks.forget()
    calls = []

    def slow_check(path):
        calls.append(path)
        if path.endswith("slow.pt"):
            time.sleep(0.5)

    monkeypatch.setattr(model_checks, "validate_checkpoint", slow_check)
    slow, known = str(tmp_path / "slow.pt"), str(tmp_path / "known.pt")
    assert model_checks.problem(known, 1.0, 7) is None
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(model_checks.problem(slow, 1.0, 7))) for _ in range(12)]
    for t in threads:
        t.start()
    started = time.perf_counter()
    assert model_checks.problem(known, 1.0, 7) is None
    assert time.perf_counter() - started < 0.25  # answered while the slow check runs
    for t in threads:
        t.join()
    assert answers == [None] * 12 and calls == [known, slow]
    model_checks.forget()


def test_a_check_that_fails_for_another_reason_is_tried_again(tmp_path, monkeypatch):
    from studio import model_checks

    model_checks.forget()
    outcomes = [MemoryError("no memory right now"), None]

    def flaky(path):
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    monkeypatch.setattr(model_checks, "validate_checkpoint", flaky)
    path = str(tmp_path / "x.pt")
    with pytest.raises(MemoryError):
        model_checks.problem(path, 1.0, 7)
    assert model_checks.problem(path, 1.0, 7) is None and outcomes == []  # not remembered as an answer
    model_checks.forget()


def _two_ways(projector: bool) -> None:
    """An app that shows one chart as Streamlit would send it and as ``downloads`` sends it (converted once)."""
    import altair as alt
    import pandas as pd
    import streamlit as st

    from studio import downloads

    st.session_state["projector"] = projector
    frame = pd.DataFrame({"x": [1, 2, 3], "y": [0.5, 0.25, 0.125], "token": ["a", "b", "▁c"]})
    line = alt.Chart(frame).mark_line().encode(x="x", y="y")
    fig = alt.layer(line, alt.Chart(frame).mark_text().encode(x="x", y="y", text="token")).properties(width=300)
    natural = downloads._natural_spec(fig)
    spec, fits = downloads.on_screen(natural, projector)
    st.vega_lite_chart(spec, width="stretch" if fits else "content")
    downloads._show(downloads.chart_payload(natural, cached=True), frame, "cached")
    downloads._show(downloads.chart_payload(natural, cached=False), frame, "uncached")


@pytest.mark.parametrize("projector", [False, True])
def test_charts_converted_once_reach_the_browser_as_streamlit_sends_them(projector):
    at = AppTest.from_function(_two_ways, args=(projector,), default_timeout=60).run()
    assert not at.exception, [e.message for e in at.exception]
    plain, cached, uncached = (c.proto for c in at.get("vega_lite_chart"))
    for other in (cached, uncached):
        assert json.loads(other.spec) == json.loads(plain.spec)
        assert {d.name: d.data.data for d in other.datasets} == {d.name: d.data.data for d in plain.datasets}
    assert plain.datasets and all(d.data.data for d in plain.datasets)


def test_a_chart_payload_keeps_the_whole_spec_for_the_figure_downloads():
    import altair as alt
    import pandas as pd

    from studio import downloads

    frame = pd.DataFrame({"x": [1, 2], "y": [3.0, 4.0]})
    natural = downloads._natural_spec(alt.Chart(frame).mark_point().encode(x="x", y="y"))
    for cached in (True, False):
        payload = downloads.chart_payload(natural, cached=cached)
        assert json.loads(payload.spec_json()) == natural  # the SVG/PNG buttons render this, datasets included
        assert "datasets" not in payload.view and set(payload.arrow) == set(natural["datasets"])
