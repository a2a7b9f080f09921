"""The explainer pages under AppTest: the cell diagram, linked views, training replay, attribution and coverage.

Each test opens a page on the test studio's tiny models (``conftest_app``) and checks what a student sees is
built from the core's numbers; the browser-side behaviour (hover links, the offline lesson) is in
``tests/test_browser.py``.
"""

from __future__ import annotations

import json

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


@pytest.fixture(scope="module")
def replay_run(studio):
    """A tiny run with three snapshots in the test studio's runs folder (it shows up in the model picker)."""
    from test_training_replay import tiny

    from nmt_core.train import train

    result = train(tiny(snapshots=3), studio / "runs" / "replayed", progress_bar=False)
    assert result.state == "finished"
    return studio / "runs" / "replayed"


def test_linked_views_share_one_selection_across_every_view(studio):
    at = open_page("11_Linked_views.py")
    at.text_area(key="s").input("the red car is fast").run()
    assert not at.exception
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    params = {p["name"]: p for p in spec["params"]}
    assert params["target"]["select"]["on"] == "pointerover" and params["source"]["select"]["fields"] == ["s"]
    assert len(params["target"]["views"]) >= 5  # strip, attention, salience, decoder rows, beam tree
    at.selectbox(key="linked_gate").set_value("c").run()
    assert not at.exception
    assert "decoder layer 0 · c" in json.dumps(json.loads(at.get("vega_lite_chart")[0].proto.spec), ensure_ascii=False)
    assert any(b.label.startswith("Lesson file") for b in at.sidebar.get("download_button"))
    assert {"SVG figure", "PNG figure"} <= {b.label for b in at.main.get("download_button")}


def test_the_interactive_figures_render_to_svg_in_their_first_state(studio):
    """The SVG/PNG buttons of the linked views and the replay hand vl-convert a chart with shared selections and a
    bound slider: it must draw them (the files hold the first state)."""
    from nmt_core.inspection.linked import linked_sentence
    from nmt_core.viz.linked import linked_views
    from studio import downloads, models

    translator = models.translator(models.available_models()["toy-en-es (shipped)"])
    spec = json.dumps(linked_views(linked_sentence(translator, "the red car is fast")).to_dict())
    svg = downloads.figure_bytes(spec, "svg").decode("utf-8")
    assert svg.startswith("<svg") and "coche" in svg and "Attention" in svg


def test_training_replay_page_scrubs_a_runs_snapshots(studio, replay_run):
    from nmt_core.checkpoint import load_checkpoint
    from nmt_core.snapshots import list_snapshots

    at = open_page("12_Training_replay.py", model="replayed (your run)")  # on the run's first example sentence
    assert not at.exception
    frames = at.dataframe[0].value
    final = load_checkpoint(replay_run / "best.pt").step  # the best checkpoint is the last frame
    assert list(frames.step) == [s.step for s in list_snapshots(replay_run) if s.step < final] + [final]
    assert len(frames) >= 2 and frames.label.iloc[-1].endswith("(final)")
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    (param,) = [p for p in spec["params"] if p["name"] == "snapshot"]
    assert param["bind"]["max"] == len(frames) - 1
    assert {"SVG figure", "PNG figure"} <= {b.label for b in at.main.get("download_button")}


def test_training_replay_page_reads_a_shipped_models_stored_replays(studio, replay_run):
    from nmt_core.checkpoint import load_checkpoint
    from nmt_core.inspection.training_replay import save_json, training_replay
    from nmt_core.snapshots import list_snapshots

    snaps = [s.load() for s in list_snapshots(replay_run)]
    final = load_checkpoint(replay_run / "best.pt")
    save_json([training_replay(snaps, final, s) for s in ("a big dog", "the red car")],
              studio / "checkpoints" / "toy-en-es.replay.json")
    at = open_page("12_Training_replay.py")
    assert not at.exception
    assert at.selectbox(key="replay_s").options == ["a big dog", "the red car"]
    at.selectbox(key="replay_s").set_value("the red car").run()
    assert not at.exception and len(at.dataframe[0].value) == 4


def test_no_snapshots_says_how_to_get_them(studio, replay_run):
    from nmt_core.checkpoint import load_checkpoint
    from nmt_core.inspection.training_replay import save_json, training_replay
    from nmt_core.snapshots import list_snapshots

    stored = studio / "checkpoints" / "toy-en-es.replay.json"
    if not stored.exists():  # written by the test above when the whole module runs
        snaps = [s.load() for s in list_snapshots(replay_run)]
        save_json([training_replay(snaps, load_checkpoint(replay_run / "best.pt"), "a big dog")], stored)
    at = open_page("12_Training_replay.py", model=gru_key(studio))
    assert not at.exception and any("has no snapshots" in i.value for i in at.info)
    assert any("toy-en-es (shipped)" in i.value for i in at.info)


def test_the_lesson_file_holds_every_view_and_no_network_address(studio):
    from studio import lesson_export, models

    ref = models.available_models()["toy-en-es (shipped)"]
    page = lesson_export.build(ref, "the red car is fast")
    for section in ("Every view, linked", "Beam search, step by step", "The cell, live", "Attention vs attribution",
                    "Coverage"):
        assert f"<h2>{section}</h2>" in page
    assert "<script src=" not in page and "cdn.jsdelivr" not in page
    assert lesson_export.file_name("My grandmother / likes jazz!") == "lesson-my-grandmother-likes-jazz.html"


def test_the_linked_views_fit_a_laptop_page(studio):
    """At 1280 pixels the page's main column beside the sidebar is about 820 pixels wide: the whole linked figure,
    labels included, must fit it, also for a long sentence (the state panels once stood side by side, 1,218 px)."""
    import re

    from nmt_core.inspection.linked import linked_sentence
    from nmt_core.viz.linked import linked_views
    from studio import downloads, models

    translator = models.translator(models.available_models()["toy-en-es (shipped)"])
    for sentence in ("the red car is fast", "the big red car and the small blue house and the old green tree are fast"):
        spec = json.dumps(linked_views(linked_sentence(translator, sentence)).to_dict())
        svg = downloads.figure_bytes(spec, "svg").decode("utf-8")
        width = float(re.search(r'<svg[^>]* width="([\d.]+)"', svg).group(1))
        assert width <= 800, (sentence, width)
