"""Every studio page under Streamlit's AppTest: it loads on the default model and its main interaction works.

AppTest runs the scripts in this process, so the environment variables the app reads (checkpoints folder,
runs folder) point at a per-session temporary folder built by ``conftest_app.build_studio_env``.
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest
import torch
from conftest_app import studio_folder
from streamlit.testing.v1 import AppTest

from nmt_core import jobs
from nmt_core.runs import log_tail, run_info

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    yield from studio_folder(tmp_path_factory, "studio")


def open_page(page: str | None = None, *, model: str | None = None, **query: str) -> AppTest:
    """Run the app, go to ``page`` and pick ``model`` (a key of ``studio.models.available_models()``).
    ``query`` becomes the URL's query parameters (AppTest does not feed them to URL-bound widgets, so the
    links themselves are tested in the browser; locked mode reads them directly)."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query)
    at.run()
    if page:
        at.switch_page(f"pages/{page}").run()
    if model:
        at.sidebar.selectbox(key="model").set_value(model).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def gru_key(studio: Path) -> str:
    return "tiny-gru (shipped)"


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def test_home_shows_the_model_card(studio):
    at = open_page()
    assert at.title[0].value == "NMT Studio"
    labels = [m.label for m in at.metric]
    assert "Parameters" in labels and "Dev BLEU" in labels
    assert len(charts(at)) == 1  # the training curves from the checkpoint's history
    assert len(at.sidebar.selectbox(key="model").options) >= 2
    from studio import layout

    guide = [c.value for c in at.main.caption]
    assert all(what in guide for *_, what in layout.PAGES[1:])  # the guide lists every page, not the first 8


def test_translate_beam_tree_and_beam_size(studio):
    at = open_page("1_Translate.py")
    assert at.code[0].value.strip()  # the best translation
    tree = charts(at)[0]
    assert "layer" in tree and len(at.dataframe) >= 1
    at.slider(key="beam_size").set_value(3).run()
    assert not at.exception
    assert len(at.dataframe[0].value) <= 3  # the n-best list shrank with the beam
    assert "stop" not in [w.key for w in at.selectbox]  # no length penalty: both rules are the same
    at.selectbox(key="lp").set_value("norm").run()  # a length penalty offers the stopping rule
    exact_caption = next(c.value for c in at.caption if "search stopped at step" in c.value)
    at.selectbox(key="stop").set_value("heuristic").run()
    assert not at.exception
    heuristic_caption = next(c.value for c in at.caption if "search stopped at step" in c.value)
    step = lambda caption: int(caption.split("stopped at step ")[1].split()[0])  # noqa: E731
    assert step(heuristic_caption) <= step(exact_caption)
    at.selectbox(key="lp").set_value("none").run()
    at.segmented_control(key="mode").set_value("greedy").run()
    assert not at.exception and len(at.dataframe[0].value) == 1
    at.slider(key="step").set_value(1).run()  # step through the search
    assert not at.exception
    at.text_input(key="prefix").input("la").run()
    at.text_input(key="mine").input("el coche rojo es rápido").run()
    assert not at.exception
    assert any(m.label == "Model score of your translation" for m in at.metric)


def test_translate_fast_mode_is_reported_and_offered_only_where_it_can_run(studio):
    at = open_page("1_Translate.py")
    exact = at.code[0].value
    assert at.toggle(key="shortlist").disabled  # the toy checkpoint carries no shortlist, and says how to add one
    assert any("has no shortlist" in c.value for c in at.caption)
    at.toggle(key="int8").set_value(True).run()
    assert not at.exception
    note = next(c.value for c in at.caption if c.value.startswith("Fast mode:"))
    assert "int8" in note and "exact model" in note
    assert ("same translation" in note) == (at.code[0].value == exact)


def test_translate_bad_input_never_raises(studio):
    at = open_page("1_Translate.py")
    at.segmented_control(key="mode").set_value("greedy").run()  # keeps the 150-token search short
    at.text_area(key="s").input("   ").run()
    assert not at.exception and any("Type a sentence" in i.value for i in at.info)
    at.text_area(key="s").input("the red car " * 100).run()
    assert not at.exception and any("only the first" in w.value for w in at.warning)
    evil = "<script>alert(1)</script> **bold** [x](javascript:alert(1))"
    at.text_area(key="s").input(evil).run()
    assert not at.exception
    rendered = " ".join(m.value for m in at.markdown)
    assert "<script>" not in rendered and "javascript:" not in rendered


def notices(at: AppTest) -> str:
    """The notices and the highlighted source as a reader sees them (Markdown escapes removed)."""
    import html

    raw = " ".join(w.value for w in at.warning) + " " + " ".join(m.value for m in at.markdown)
    return html.unescape(raw.replace("\\", ""))


@pytest.mark.parametrize("page", ["1_Translate.py", "2_Attention.py", "3_Gates.py", "4_Gradients.py", "6_Compare.py",
                                  "9_Cell.py", "10_Attribution.py", "11_Linked_views.py", "13_Cost.py"])
def test_every_sentence_page_says_what_the_model_reads(studio, page):
    """Unknown words, removed characters and cuts are shown above the result, the affected pieces marked."""
    at = open_page(page)
    if page == "1_Translate.py":
        at.segmented_control(key="mode").set_value("greedy").run()
    at.text_area(key="s").input("my grandmother likes the red car").run()
    assert not at.exception
    shown = notices(at)
    assert '"grandmother", "likes"' in shown and "read as <unk>" in shown
    assert ":orange-background[**grandmother likes**]" in shown  # the <unk> piece, highlighted
    at.text_area(key="s").input("the red\x00 car\u200b is fast").run()
    assert not at.exception
    shown = notices(at)
    assert "U+0000 NUL" in shown and "U+200B ZERO WIDTH SPACE" in shown and "<unk>" not in shown
    at.text_area(key="s").input("the red car is fast").run()
    assert not at.exception and not at.get("warning")  # a clean sentence: no notice at all


def test_studio_opens_on_the_real_language_model(tmp_path, monkeypatch):
    from conftest_app import tiny_checkpoint

    from studio import models

    tiny_checkpoint(tmp_path / "toy-en-es.pt")
    tiny_checkpoint(tmp_path / "tatoeba-en-de.pt")
    monkeypatch.setenv("NMT_STUDIO_CHECKPOINTS", str(tmp_path))
    monkeypatch.setattr(models, "DEFAULT_MODEL", "tatoeba-en-de")
    assert list(models.available_models())[:2] == ["tatoeba-en-de (shipped)", "toy-en-es (shipped)"]


def test_attention_heatmap_and_gold_alignment(studio):
    at = open_page("2_Attention.py")
    assert len(charts(at)) >= 2  # heatmap and alignment lines
    at.radio(key="target").set_value("the reference").run()
    assert not at.exception
    assert any(m.label.startswith("AER") for m in at.metric)
    at.multiselect(key="block").set_value([1]).run()
    assert not at.exception and any("hidden" in c.value for c in at.caption)


def test_attention_page_without_attention(studio):
    at = open_page("2_Attention.py", model=gru_key(studio))
    assert any("no attention" in i.value for i in at.info)


def test_gates_unit_picker_and_clamp(studio):
    at = open_page("3_Gates.py")
    assert len(at.latex) >= 4 and len(charts(at)) >= 6
    at.slider(key="unit").set_value(3).run()
    assert not at.exception and any(s.value == "Unit 3 over time" for s in at.subheader)
    at.toggle(key="clamp").set_value(True).run()
    assert not at.exception and any("Before" in c.value for c in at.caption)


def test_gates_on_a_gru(studio):
    at = open_page("3_Gates.py", model=gru_key(studio))
    assert any("GRU" in m.value for m in at.markdown)


def test_gradients_page_and_stored_lab_results(studio):
    from studio import paths

    at = open_page("4_Gradients.py")
    shipped = any(Path(paths.ROOT, folder, "vanishing_accuracy.csv").exists() for folder in ("labs", "docs/labs"))
    assert len(charts(at)) >= (4 if shipped else 2)  # gradient norms, salience (+ stored lab results)
    assert shipped or any("has not been run" in i.value for i in at.info)
    labs = Path(studio, "runs", "_labs")  # a live run's tables (newer) take precedence over shipped ones
    labs.mkdir(parents=True, exist_ok=True)
    (labs / "vanishing_accuracy.csv").write_text("variant,cell,lag,accuracy\nrnn,rnn,5,1.0\nrnn,rnn,20,0.12\n"
                                                 "lstm,lstm,5,1.0\nlstm,lstm,20,0.98\n")
    (labs / "vanishing_gradients.csv").write_text("variant,lag,stage,k,grad_norm,relative\n"
                                                  "rnn,20,trained,0,1.0,1.0\nrnn,20,trained,10,0.001,0.001\n")
    at = open_page("4_Gradients.py")
    assert len(charts(at)) >= 4 and any("_labs" in c.value for c in at.caption)


def test_train_start_limit_and_stop(studio):
    at = open_page("5_Train.py")
    at.text_input(key="tr_name").input("tiny-one").run()
    for key, value in {"tr_size": 300, "tr_dev": 30, "tr_emb": 8, "tr_hidden": 8, "tr_steps": 100000,
                       "tr_eval": 50, "tr_budget": 120, "tr_batch": 16}.items():
        at.number_input(key=key).set_value(value)
    at.button(key="tr_start").click().run()
    assert not at.exception
    assert [w.value for w in at.warning if not w.value.startswith("Busy: run 'tiny-one'")] == []
    assert at.session_state["run"] == "tiny-one"
    run = Path(studio, "runs", "tiny-one")
    assert (run / "requested.yaml").exists()
    # a second training is refused while the first runs, with the reason
    at.text_input(key="tr_name").input("tiny-two").run()
    at.button(key="tr_start").click().run()
    assert any("already running" in w.value and "tiny-one" in w.value for w in at.warning)
    # Stop: a run still preparing its data is terminated at once (the browser test stops a running one,
    # which saves a checkpoint first)
    at.run()
    at.button(key="tr_stop").click().run()
    assert not at.exception
    deadline = time.time() + 60  # only needed if the run got past "starting" (it then saves before exiting)
    while run_info(run).active and time.time() < deadline:
        time.sleep(0.3)
    info = run_info(run)
    assert info.state == "stopped" and not info.active, (info, log_tail(run))
    at.run()
    assert not [b for b in at.button if b.key == "tr_stop"]  # no Stop button for a stopped run


def test_train_on_an_uploaded_csv(studio, monkeypatch):
    import yaml

    monkeypatch.setenv("NMT_STUDIO_RUNS", str(Path(studio, "runs-upload")))
    at = open_page("5_Train.py")
    at.radio(key="tr_source").set_value("One file (TSV/CSV)").run()
    rows = "".join(f"the {w} car is fast,el coche {w} es rápido\n" for w in ("red", "big", "old", "new") * 10)
    at.file_uploader(key="tr_file").set_value(("../../my data.csv", b"en,es\n" + rows.encode(), "text/csv")).run()
    at.selectbox(key="tr_src_col").set_value("en")
    at.selectbox(key="tr_tgt_col").set_value("es")
    at.text_input(key="tr_name").input("from-csv").run()
    at.button(key="tr_start").click().run()
    assert not at.exception and not [w.value for w in at.warning if not w.value.startswith("Busy")]
    run = Path(studio, "runs-upload", "from-csv")
    spec = yaml.safe_load((run / "requested.yaml").read_text())["data"]["corpus"]
    assert spec == {"format": "csv", "src_column": "en", "tgt_column": "es", "path": str(run / "data" / "corpus.csv")}
    assert (run / "data" / "corpus.csv").read_bytes().startswith(b"en,es\n")  # saved under the run, fixed name
    jobs.kill_run(run)


def test_train_upload_is_saved_safely(studio, monkeypatch):
    monkeypatch.setenv("NMT_STUDIO_MAX_UPLOAD_MB", "1")
    from studio import paths, uploads

    class Upload(io.BytesIO):
        name = "../../evil.tsv"
        size = 20

    saved = uploads.save_upload(Upload(b"a b\tc d\n"), Path(studio, "runs", "x"), "corpus.tsv")
    assert saved == Path(studio, "runs", "x", "data", "corpus.tsv") and saved.read_bytes() == b"a b\tc d\n"
    big = Upload(b"")
    big.size = int(paths.MAX_UPLOAD_MB * 2**20) + 1
    with pytest.raises(ValueError, match="limit"):
        uploads.save_upload(big, Path(studio, "runs", "x"), "corpus.tsv")


def test_compare_two_models_and_bleu_by_length(studio):
    at = open_page("6_Compare.py")
    assert len(at.code) >= 2  # one translation per model
    at.slider(key="nt").set_value(50)
    at.toggle(key="bleu").set_value(True).run()
    assert not at.exception
    table = at.dataframe[-1].value
    assert set(table["model"]) and len(charts(at)) >= 2
    assert table.groupby("model").bucket.nunique().min() >= 2  # the sentences span lengths, not the shortest 50
    assert any(c.value.startswith("50 sentences evenly spaced through") for c in at.caption)


def test_compare_spreads_its_sentences_and_cuts_equal_buckets():
    from studio.corpora import length_edges, spread

    assert spread(10, 3) == [0, 3, 6] and spread(3, 5) == [0, 1, 2]
    assert spread(1000, 200)[-1] == 995  # reaches the end of a length-sorted file
    src = [" ".join("w" * k for _ in range(k)) for k in (2, 2, 3, 4, 4, 5, 6, 6, 7)]
    edges = length_edges(src)
    assert edges[0] == 1 and edges[-1] == 7 and len(edges) == 4  # three buckets covering 2..7 words
    assert length_edges(["a b", "c d"]) == (1, 2)  # one length: one bucket


def test_data_page_browse_and_pieces(studio):
    at = open_page("7_Data.py")
    assert any(m.label == "Train pairs" for m in at.metric)
    at.text_input(key="q").input("car").run()
    assert not at.exception
    at.selectbox(key="corpus").set_value("built-in task: dates").run()
    assert not at.exception and len(charts(at)) == 1


def test_locked_link_hides_controls(studio):
    at = open_page("1_Translate.py", locked="1", s="the red car", beam_size="2", n="2")
    assert not at.text_area
    assert not [s for s in at.slider if s.key in ("beam_size", "n")]
    assert any("the red car" in t.value for t in at.text)
    assert len(at.dataframe[0].value) == 2  # n-best from the link
    assert any("Locked" in i.value for i in at.sidebar.info)


def test_stop_before_training_began_terminates_the_process(studio):
    from nmt_core.config import ExperimentConfig

    cfg = ExperimentConfig.from_dict({"name": "early", "data": {"task": "toy-en-es", "size": 200, "dev_size": 20,
                                                                "test_size": 20},
                                      "model": {"embedding_size": 8, "hidden_size": 8}, "train": {"max_steps": 50}})
    runs = Path(studio, "runs-early")
    info = jobs.start_training(cfg, runs, "early", limit=1)
    assert info.state == "starting" and info.active
    with pytest.raises(ValueError, match="already exists"):
        jobs.start_training(cfg, runs, "early", limit=5)
    jobs.stop_run(info.path)  # no STOP file dance: the process is terminated and the run marked stopped
    after = run_info(info.path)
    assert after.state == "stopped" and not after.active and "terminated" in after.message
    with pytest.raises(ValueError, match="no last.pt"):
        jobs.resume_training(runs, "early")


def test_an_ordinary_link_says_what_it_could_not_use(studio):
    """Outside locked mode too, a link's bad values are shown, not silently replaced by the widget's default."""
    at = open_page("1_Translate.py", beam_size="99999", lp="foo", s="x" * 5000)
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("The link's beam size") and "99999 is outside 1..12; using 12" in w for w in warnings)
    assert any("'foo' is not one of the choices" in w for w in warnings)
    assert any("5,000 characters, cut to the first 2,000" in w for w in warnings)
    assert at.slider(key="beam_size").value == 12  # what the link was brought to, as in locked mode
    at = open_page("1_Translate.py", beam_size="abc")
    assert any("'abc' is not a value here; using 5" in w.value for w in at.warning)
    at = open_page("1_Translate.py", beam_size="3")
    assert not [w for w in at.warning if "The link's" in w.value]  # a good link: not a word


def test_a_link_choice_that_follows_the_sentence_resets_without_a_crash(studio):
    """``rank`` follows the search: when the sentence changes it starts again from 1. It used to be dropped by
    deleting its query parameter, which Streamlit refuses for a widget-bound one (the page crashed)."""
    at = open_page("1_Translate.py", rank="#2", n="2")
    at.text_area(key="s").input("the blue house").run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="rank").value == 1


def test_links_are_read_as_the_core_reads_them(studio):
    """Forms the widget itself would not parse, read and kept (no warning: nothing was changed): an option in its
    plain form (the app writes "#2"), a boolean as 1; a cleared choice (empty) stays cleared."""
    at = open_page("1_Translate.py", rank="2", n="2")
    assert at.selectbox(key="rank").value == 2 and not [w for w in at.warning if "The link's" in w.value]
    at = open_page("10_Attribution.py", attr_method="")
    assert not [w for w in at.warning if "The link's" in w.value]  # a cleared choice is a valid link
    assert not at.exception


def test_data_page_shows_the_stored_test_pairs_when_the_corpus_is_elsewhere(tmp_path, monkeypatch):
    """A fresh clone has the shipped English-German checkpoints but not their corpus (data/ is not in the
    repository): the Data page shows the held-out pairs the checkpoint carries, not only an error."""
    from conftest_app import tiny_checkpoint

    from nmt_core.checkpoint import save_checkpoint

    path = tiny_checkpoint(tmp_path / "ckpts" / "elsewhere.pt")
    payload = torch.load(path, weights_only=False)
    payload["config"]["data"] = {**payload["config"]["data"], "task": None,
                                 "corpus": {"format": "tsv", "path": str(tmp_path / "not-here.tsv")}}
    payload["test_sample"] = {"src": ["the red car", "the big house is old"], "tgt": ["el coche rojo", "la casa"],
                              "source": "2 pairs of the test split"}
    save_checkpoint(payload, path)
    monkeypatch.setenv("NMT_STUDIO_CHECKPOINTS", str(path.parent))
    monkeypatch.setenv("NMT_STUDIO_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("NMT_STUDIO_DEFAULT_MODEL", "elsewhere")
    at = open_page("7_Data.py", split="train")  # a split carried over from another corpus: only "test" is here
    assert not at.error
    assert any("Shown instead: the held-out test pairs the checkpoint carries (2," in i.value for i in at.info)
    assert list(at.dataframe[0].value["src"]) == ["the red car", "the big house is old"]  # the test split, shown
    assert {m.label: m.value for m in at.metric} == {"Train pairs": "—", "Dev pairs": "—", "Test pairs": "2",
                                                     "Dropped by cleaning": "—"}  # not "0 train pairs"
    assert len(charts(at)) == 1
    (tmp_path / "not-here.tsv").write_text("just one column\n", encoding="utf-8")  # there, but unreadable
    at = open_page("7_Data.py")
    assert any(e.value.startswith("Cannot read this corpus") for e in at.error) and not at.info
