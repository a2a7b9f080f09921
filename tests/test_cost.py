"""The cost X-ray (``nmt_core.inspection.cost``, ``nmt_core.viz.cost``, pages/13_Cost.py): the parts are timed on a
real search and add up to about the whole step, the FLOPs are the analytic formulas (recomputed here, independently,
for the tiny model), int8 and the shortlist say what they change, and the page shows the sentence it generates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest_app import studio_folder
from test_pages import open_page

from nmt_core import tasks
from nmt_core.checkpoint import make_payload, read_payload, save_checkpoint
from nmt_core.fast_mode import FastMode
from nmt_core.inspection import cost
from nmt_core.inspection.cost import COMPONENTS, REST, decoding_cost, explain, step_flops, timing_note
from nmt_core.limits import LimitError
from nmt_core.shortlist import build_shortlist
from nmt_core.translator import Translator
from nmt_core.viz.cost import COMPONENT_COLOURS, cost_chart

SENTENCE = "the red car is fast"


@pytest.fixture()
def translator(tmp_path, tiny_config, tiny_model, tiny_tokenizers, tiny_pairs) -> Translator:
    """The tiny model as a checkpoint on disk, with a shortlist built from its training pairs (small lists, so
    the shortlist really is shorter than the vocabulary)."""
    src = [tiny_tokenizers.src.encode(s) for s in tiny_pairs[0]]
    tgt = [tiny_tokenizers.tgt.encode(t) for t in tiny_pairs[1]]
    cfg = tiny_config.model
    shortlist = build_shortlist(src, tgt, cfg.src_vocab_size, cfg.tgt_vocab_size, frequent=2, per_source=1)
    payload = make_payload(tiny_config, tiny_model, tiny_tokenizers, step=1)
    save_checkpoint({**payload, "shortlist": shortlist.to_payload()}, tmp_path / "m.pt")
    return Translator.from_path(tmp_path / "m.pt", "cpu")


def expected_flops(cfg, s: int, v: int) -> dict[str, int]:
    """The textbook count for the tiny LSTM (bidirectional encoder, additive attention, input feeding), per
    hypothesis and step: the cell's 4 gates read [embedding; feed; h]; attention projects the query (H x H) and,
    per source position, scores (H) and reads the context (2H); combine reads [context (2H); s (H)]."""
    e, h = cfg.embedding_size, cfg.hidden_size
    return {"recurrent cell": 2 * 4 * h * (e + h + h), "attention": 2 * h * h + s * (2 * h + 2 * 2 * h),
            "combine": 2 * (2 * h + h) * h, "output layer": 2 * h * v, "embedding": 0, "log-softmax": 0,
            "search bookkeeping": 0}


def test_parts_are_timed_on_the_real_search_and_add_up(translator):
    report = decoding_cost(translator, SENTENCE, beam_size=3, repeats=3)
    parts = report.components[report.components.component != REST]
    assert list(parts.component) == list(COMPONENTS)
    assert (parts.ms_per_step > 0).all() and report.step_ms > 0
    # consistency, not speed: the parts are the step cut apart (a factor of 20 only catches double counting; a loaded
    # machine moves the ratio a lot)
    assert report.step_ms / 20 < report.parts_ms < report.step_ms * 20
    rest = report.row(REST)["ms_per_step"]
    assert rest == pytest.approx(report.step_ms - report.parts_ms)
    assert report.timed_steps == report.steps > 0
    assert len(report.per_step) == report.steps * (len(COMPONENTS) + 1)
    # the search it timed is beam search's own: the same best translation
    assert report.translation == translator.decode([SENTENCE], beam_size=3)[0].best.text
    assert report.mode == "exact" and report.sentence == SENTENCE and report.repeats == 3


def test_the_parts_compute_what_the_step_computes(translator):
    """The component calls, chained, give the shared decoding step's log-probabilities (so the timed parts are
    the step, not an imitation of it)."""
    from nmt_core.batching import make_batch
    from nmt_core.decoding import next_token_logprobs

    with torch.inference_mode():
        batch = make_batch([translator.prepare(SENTENCE).ids])
        search, _ = cost._start(translator.model, batch.src, batch.src_lengths, 2, cost._Clock(torch.device("cpu")), 1)
        live, fin = cost.initial_beams(translator.model, search.enc, 1, 2, int(search.limits.max()))
        live, fin, _ = cost._whole_step(search, live, fin, 1)
        calls = cost._component_calls(search, live, fin, 2)
        expected, _, _ = next_token_logprobs(translator.model, live.y, live.state, search.enc, search.bans)
        assert torch.allclose(calls["log-softmax"](), expected)


def test_flops_are_the_analytic_formulas(translator):
    cfg = translator.model.cfg
    s = len(translator.prepare(SENTENCE).ids) + 1  # with </s>
    report = decoding_cost(translator, SENTENCE, beam_size=4, repeats=1)
    want = expected_flops(cfg, s, cfg.tgt_vocab_size)
    for name, flops in want.items():
        row = report.row(name)
        assert row["mflop_per_row"] == pytest.approx(flops / 1e6)
        assert row["mflop_per_step"] == pytest.approx(4 * flops / 1e6)
        assert row["flop_share"] == pytest.approx(flops / sum(want.values()))
    assert report.row(REST)["mflop_per_step"] == 0 and report.scored_pieces == report.vocab_size == cfg.tgt_vocab_size
    assert step_flops(cfg, s) == {n: want[n] for n in COMPONENTS}
    e, h = cfg.embedding_size, cfg.hidden_size  # once per sentence: both encoder directions, keys (2H -> H), bridge
    once = s * (2 * 2 * 4 * h * (e + h) + 2 * 2 * h * h) + 2 * 2 * 2 * h * h
    assert report.sentence_mflop == pytest.approx(once / 1e6)


def test_flops_of_a_gru_without_attention_and_a_deeper_dot_decoder():
    from nmt_core.config import ModelConfig

    gru = ModelConfig(cell="gru", attention="none", embedding_size=8, hidden_size=6, input_feeding=False,
                      src_vocab_size=20, tgt_vocab_size=30)
    assert step_flops(gru, 5) == {"embedding": 0, "recurrent cell": 2 * 3 * 6 * (8 + 6), "attention": 0,
                                  "combine": 2 * 6 * 6, "output layer": 2 * 6 * 30, "log-softmax": 0,
                                  "search bookkeeping": 0}
    dot = ModelConfig(cell="rnn", attention="dot", bidirectional=False, decoder_layers=2, embedding_size=8,
                      hidden_size=6, src_vocab_size=20, tgt_vocab_size=30)
    flops = step_flops(dot, 5)
    assert flops["recurrent cell"] == 2 * 6 * (8 + 6 + 6) + 2 * 6 * (6 + 6)  # layer 2 reads layer 1's h
    assert flops["attention"] == 5 * (2 * 6 + 2 * 6)  # no query projection; scores and context per position


def test_shortlist_scores_the_kept_pieces_only(translator):
    cfg = translator.model.cfg
    src = translator.prepare(SENTENCE).ids
    kept = translator.fast_models.shortlist.for_sources([src])
    assert 4 < len(kept) < cfg.tgt_vocab_size
    report = decoding_cost(translator, SENTENCE, beam_size=2, fast=FastMode(shortlist=True), repeats=1)
    assert report.scored_pieces == len(kept) and report.vocab_size == cfg.tgt_vocab_size
    assert report.row("output layer")["mflop_per_row"] == pytest.approx(2 * cfg.hidden_size * len(kept) / 1e6)
    assert report.row("recurrent cell")["mflop_per_row"] == pytest.approx(
        expected_flops(cfg, len(src) + 1, 0)["recurrent cell"] / 1e6)
    exact = decoding_cost(translator, SENTENCE, beam_size=2, repeats=1)
    text = explain(exact, report)
    out = exact.row("output layer")
    assert text.startswith(f"The output layer is {out['time_share']:.0%} of this step's time and "
                           f"{out['flop_share']:.0%} of its FLOPs (V = {cfg.tgt_vocab_size:,} target pieces)")
    assert f"with the shortlist it scores {len(kept):,} pieces" in text


def test_int8_says_int8_and_keeps_the_flops(translator):
    exact = decoding_cost(translator, SENTENCE, beam_size=2, repeats=1)
    report = decoding_cost(translator, SENTENCE, beam_size=2, fast=FastMode(int8=True), repeats=1)
    assert report.int8 and report.mode == "int8"
    arithmetic = dict(zip(report.components.component, report.components.arithmetic))
    assert arithmetic["output layer"] == arithmetic["recurrent cell"] == arithmetic["combine"] == "int8"
    assert arithmetic["attention"].startswith("int8 query projection")
    assert set(dict(zip(exact.components.component, exact.components.arithmetic)).values()) & {"int8"} == set()
    assert list(report.components.mflop_per_step) == list(exact.components.mflop_per_step)
    assert "int8" in timing_note(report) and "same FLOPs" in explain(exact, report)


def test_the_work_is_bounded(translator, monkeypatch):
    with pytest.raises(LimitError, match="beam_size"):
        decoding_cost(translator, SENTENCE, beam_size=65)
    with pytest.raises(LimitError, match="repeats"):
        decoding_cost(translator, SENTENCE, repeats=cost.MAX_REPEATS + 1)
    with pytest.raises(LimitError, match="repeats"):
        decoding_cost(translator, SENTENCE, repeats=0)
    monkeypatch.setattr(cost, "MAX_TIMED_STEPS", 2)
    report = decoding_cost(translator, SENTENCE, beam_size=2, repeats=1)
    assert report.timed_steps == 2 < report.steps  # the untrained model runs on; only 2 steps are timed
    assert "the first 2 of" in timing_note(report)


def test_chart_puts_the_modes_side_by_side_in_the_palette(translator):
    exact = decoding_cost(translator, SENTENCE, beam_size=2, repeats=1)
    fast = decoding_cost(translator, SENTENCE, beam_size=2, fast=FastMode(int8=True, shortlist=True), repeats=1)
    spec = cost_chart([exact, fast]).to_dict()
    time_panel, flop_panel = spec["vconcat"]
    assert time_panel["facet"]["column"]["sort"] == ["exact", "int8 + shortlist"]
    colour = time_panel["spec"]["layer"][0]["encoding"]["color"]["scale"]
    assert colour["domain"] == [*COMPONENTS, REST]
    assert colour["range"] == [COMPONENT_COLOURS[c] for c in colour["domain"]]
    assert REST not in json.dumps(flop_panel["spec"]["layer"][0]["encoding"]["color"])


# --------------------------------------------------------------------------------------- the page
@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """The test studio plus a copy of its toy model that carries a shortlist."""
    for folder in studio_folder(tmp_path_factory, "cost"):
        ckpts = folder / "checkpoints"
        shutil.copy2(ckpts / "toy-en-es.pt", ckpts / "toy-listed.pt")
        payload = read_payload(ckpts / "toy-listed.pt")
        pairs = tasks.generate("toy-en-es", size=300, seed=3)
        translator = Translator.from_path(ckpts / "toy-listed.pt", "cpu")
        cfg = translator.model.cfg
        shortlist = build_shortlist([translator.tokenizers.src.encode(s) for s in pairs.src],
                                    [translator.tokenizers.tgt.encode(t) for t in pairs.tgt],
                                    cfg.src_vocab_size, cfg.tgt_vocab_size, frequent=3, per_source=2)
        save_checkpoint({**payload, "shortlist": shortlist.to_payload()}, ckpts / "toy-listed.pt")
        yield folder


def test_page_is_registered():
    from studio import layout

    assert "pages/13_Cost.py" in [page for page, *_ in layout.PAGES]
    assert Path(__file__).resolve().parents[1].joinpath("pages", "13_Cost.py").is_file()


def test_page_shows_the_lesson_chart_and_table(studio):
    from studio import cost_view, models

    at = open_page("13_Cost.py")
    at.text_area(key="s").input(SENTENCE).run()
    assert not at.exception
    assert at.toggle(key="shortlist").proto.disabled  # the toy model has no shortlist: off, and it says why
    assert any("has no shortlist" in c.value for c in at.caption)
    at.toggle(key="int8").set_value(True).run()
    assert not at.exception
    ref = models.available_models()["toy-en-es (shipped)"]
    exact = cost_view.cost(ref, SENTENCE, 5, FastMode())
    fast = cost_view.cost(ref, SENTENCE, 5, FastMode(int8=True))  # the page's cached measurements
    assert at.info[0].value == explain(exact, fast)
    assert len(at.get("vega_lite_chart")) == 1 and len(at.dataframe[0].value) == 2 * (len(COMPONENTS) + 1)
    assert [c.value for c in at.caption if c.value.startswith(("exact:", "int8:"))] == [timing_note(exact),
                                                                                     timing_note(fast)]


def test_page_with_a_shortlist(studio):
    at = open_page("13_Cost.py", model="toy-listed (shipped)")
    at.text_area(key="s").input(SENTENCE).run()
    at.toggle(key="shortlist").set_value(True).run()
    assert not at.exception
    assert not at.toggle(key="shortlist").proto.disabled
    assert "with the shortlist it scores" in at.info[0].value
    assert set(at.dataframe[0].value["mode"]) == {"exact", "shortlist"}
