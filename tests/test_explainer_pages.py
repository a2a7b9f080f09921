"""The explainer pages under AppTest: the cell diagram, linked views, training replay, attribution and coverage.

Each test opens a page on the test studio's tiny models (``conftest_app``) and checks what a student sees is
built from the core's numbers; the browser-side behaviour (hover links, the offline lesson) is in
``tests/test_browser.py``.
"""

from __future__ import annotations

import pytest
from conftest_app import studio_folder
from test_pages import gru_key, open_page


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    yield from studio_folder(tmp_path_factory, "explainers")


def players(at) -> list[str]:
    """The HTML of every embedded player (``components.html``) on the page."""
    return [e.proto.srcdoc for e in at.get("iframe")]


def test_cell_page_draws_the_chosen_unit_with_the_replay_values(studio):
    from nmt_core.inspection.cell import cell_steps
    from studio import models

    at = open_page("9_Cell.py")
    at.text_area(key="s").input("the red car is fast").run()
    at.slider(key="unit").set_value(3).run()
    assert not at.exception
    (html,) = players(at)
    ref = next(iter(models.available_models().values()))
    steps = cell_steps(models.gates(ref, "the red car is fast"), "encoder", 3)
    assert html.count('class="frame"') == len(steps)
    assert f"c(t) = {steps[2].values['c']:.3f}" in html and "LSTM · encoder layer 0" in html
    assert len(at.dataframe[0].value) == len(steps)


def test_cell_page_on_a_gru_and_the_decoder(studio):
    at = open_page("9_Cell.py", model=gru_key(studio))
    at.selectbox(key="layer").set_value("decoder · layer 0").run()
    assert not at.exception
    (html,) = players(at)
    assert "GRU · decoder layer 0" in html and "“&lt;s&gt;”" in html  # the first decoder step reads <s>


def test_attribution_page_compares_attention_and_flags_coverage(studio):
    at = open_page("10_Attribution.py")
    at.text_area(key="s").input("the red car is fast").run()
    assert not at.exception
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert len(specs) == 3 and "Attribution (integrated gradients, 16 steps)" in specs[1]
    assert any("Completeness check" in c.value for c in at.caption)
    assert at.metric[0].label == "Same top source token" and " of 6" in at.metric[0].value
    at.segmented_control(key="attr_method").set_value("gradient x input").run()
    assert not at.exception and "Attribution (gradient x input)" in at.get("vega_lite_chart")[1].proto.spec
    assert not any("Completeness check" in c.value for c in at.caption)


def test_attribution_page_without_attention(studio):
    at = open_page("10_Attribution.py", model=gru_key(studio))  # a GRU without attention
    assert not at.exception
    assert any("no attention" in i.value for i in at.info) and len(at.get("vega_lite_chart")) == 1
