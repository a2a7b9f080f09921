"""Fast mode (``nmt_core.fast_mode``, ``nmt_core.shortlist``): the shortlist covers its own training references,
a shortlist of every piece changes nothing, int8 stays close to the exact model, and the CLI reports what it
approximated."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt_core import tasks
from nmt_core.checkpoint import load_checkpoint, make_payload, read_payload, save_checkpoint
from nmt_core.cli import main
from nmt_core.fast_mode import FastMode, FastModeError, FastModels, int8_model, to_positions
from nmt_core.shortlist import SPECIALS, Shortlist, ShortlistError, build_shortlist
from nmt_core.tokenizer import EOS_ID
from nmt_core.translator import Translator

TOY = Path(__file__).resolve().parents[1] / "checkpoints" / "toy-en-es.pt"
needs_toy = pytest.mark.skipif(not TOY.is_file(), reason="the shipped toy model is not in this checkout")


@pytest.fixture(scope="module")
def toy_pairs():
    pairs = tasks.generate("toy-en-es", size=400, seed=7)
    return pairs.src, pairs.tgt


@pytest.fixture(scope="module")
def toy_translator():
    return Translator(load_checkpoint(TOY, "cpu"), "cpu")


def _ids(translator, src, tgt):
    return ([translator.tokenizers.src.encode(s) for s in src], [translator.tokenizers.tgt.encode(t) for t in tgt])


@needs_toy
def test_shortlist_covers_every_training_reference(toy_translator, toy_pairs):
    src, tgt = _ids(toy_translator, *toy_pairs)
    cfg = toy_translator.model.cfg
    shortlist = build_shortlist(src, tgt, cfg.src_vocab_size, cfg.tgt_vocab_size, frequent=5, per_source=2)
    assert shortlist.settings["added_for_coverage"] > 0  # small lists: the coverage pass had work to do
    for s_ids, t_ids in zip(src, tgt):
        kept = set(shortlist.for_sources([s_ids]).tolist())
        assert set(t_ids) <= kept and set(SPECIALS) <= kept
    # stored and read back (as a checkpoint stores it): the same lists
    again = Shortlist.from_payload(shortlist.to_payload(), cfg.src_vocab_size, cfg.tgt_vocab_size)
    assert np.array_equal(again.targets, shortlist.targets) and np.array_equal(again.offsets, shortlist.offsets)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.lists(st.integers(4, 30), min_size=1, max_size=8),
                          st.lists(st.integers(4, 40), min_size=1, max_size=8)), min_size=1, max_size=30),
       st.integers(0, 5), st.integers(0, 3))
def test_shortlist_coverage_property(pairs, frequent, per_source):
    """Any corpus, any list sizes: every reference piece is in its source's shortlist, specials first."""
    src, tgt = [p[0] for p in pairs], [p[1] for p in pairs]
    shortlist = build_shortlist(src, tgt, 31, 41, frequent=frequent, per_source=per_source)
    for s_ids, t_ids in zip(src, tgt):
        ids = shortlist.for_sources([s_ids]).tolist()
        assert ids == sorted(ids) and ids[:4] == list(SPECIALS) and set(t_ids) <= set(ids)


def test_stored_shortlist_is_checked():
    good = build_shortlist([[4, 5]], [[6, 7]], 8, 10, frequent=1, per_source=1).to_payload()
    Shortlist.from_payload(good, 8, 10)
    with pytest.raises(ShortlistError, match="built for 10 target pieces"):
        Shortlist.from_payload(good, 8, 12)
    with pytest.raises(ShortlistError, match="outside 0..9"):
        Shortlist.from_payload({**good, "targets": good["targets"] + 20}, 8, 10)
    with pytest.raises(ShortlistError, match="offsets"):
        Shortlist.from_payload({**good, "offsets": good["offsets"][:-1]}, 8, 10)
    with pytest.raises(ShortlistError, match="not a mapping"):
        Shortlist.from_payload([1, 2], 8, 10)


@needs_toy
def test_full_shortlist_reproduces_the_exact_search(toy_translator, toy_pairs):
    """A shortlist holding every piece is the exact model on positions = ids: the same n-best lists, scores and
    trace, which checks the position <-> id mapping end to end (beam, greedy, prefix, constraints)."""
    cfg = toy_translator.model.cfg
    everything = Shortlist(np.arange(cfg.tgt_vocab_size), np.zeros(cfg.src_vocab_size + 1, np.int64),
                           np.zeros(0, np.int64), cfg.tgt_vocab_size, {})
    sentences = list(toy_pairs[0][:12])
    exact = toy_translator.decode(sentences, beam_size=4, nbest=3, record=True, batch_size=5)
    toy_translator.fast_models = FastModels(toy_translator.model)
    toy_translator.fast_models.shortlist = everything
    fast = toy_translator.decode(sentences, beam_size=4, nbest=3, record=True, batch_size=5,
                                 fast=FastMode(shortlist=True))
    for a, b in zip(exact, fast):
        assert [h.tokens for h in a.hypotheses] == [h.tokens for h in b.hypotheses]
        assert [h.pieces for h in a.hypotheses] == [h.pieces for h in b.hypotheses]
        assert np.allclose([h.score for h in a.hypotheses], [h.score for h in b.hypotheses], atol=1e-5)
        assert np.array_equal(a.trace.token, b.trace.token) and a.trace.pieces == b.trace.pieces
        assert np.array_equal(a.trace.rejected.token, b.trace.rejected.token)
    greedy = toy_translator.translate(sentences, fast=FastMode(shortlist=True))
    assert greedy == toy_translator.translate(sentences)
    target = toy_translator.tokenizers.tgt
    prefixed = toy_translator.decode(sentences[:3], beam_size=3, prefix="la", fast=FastMode(shortlist=True))
    assert all(r.best.tokens[0] == target.encode("la")[0] for r in prefixed)
    blocked = toy_translator.decode(sentences[:1], beam_size=3, fast=FastMode(shortlist=True),
                                    constraints={0: {"block": [exact[0].best.tokens[0]]}})
    assert blocked[0].best.tokens[0] != exact[0].best.tokens[0]
    toy_translator.fast_models = FastModels(toy_translator.model)


@needs_toy
@pytest.mark.parametrize("fast", [FastMode(), FastMode(int8=True), FastMode(shortlist=True),
                                  FastMode(int8=True, shortlist=True)], ids=str)
def test_text_only_decoding_equals_the_traced_one(toy_translator, toy_pairs, fast):
    """What ``translate`` and ``evaluate`` run (``trace=False``) finds the traced search's hypotheses, in every
    fast mode (a shortlist's positions mapped back to ids without a trace to map)."""
    sentences = list(toy_pairs[0][:20])
    cfg = toy_translator.model.cfg
    toy_translator.fast_models = FastModels(toy_translator.model)
    if fast.shortlist:  # the shipped toy model has none: every other piece, with the specials and what it writes
        used = {t for r in toy_translator.decode(sentences, beam_size=4) for h in r.hypotheses for t in h.tokens}
        kept = sorted(set(SPECIALS) | used | set(range(0, cfg.tgt_vocab_size, 2)))
        toy_translator.fast_models.shortlist = Shortlist(np.asarray(kept), np.zeros(cfg.src_vocab_size + 1, np.int64),
                                                         np.zeros(0, np.int64), cfg.tgt_vocab_size, {})
    options = dict(beam_size=4, nbest=2, length_penalty="gnmt", alpha=1.0, batch_size=7, fast=fast)
    traced, text_only = (toy_translator.decode(sentences, trace=t, **options) for t in (True, False))
    translated = toy_translator.translate(sentences, beam_size=4, length_penalty="gnmt", alpha=1.0, fast=fast)
    toy_translator.fast_models = FastModels(toy_translator.model)
    for a, b in zip(traced, text_only):
        assert [(h.tokens, h.score, h.logprob, h.text) for h in a.hypotheses] == \
               [(h.tokens, h.score, h.logprob, h.text) for h in b.hypotheses]
        assert a.trace is not None and b.trace is None
        assert a.scored_pieces == b.scored_pieces and (a.scored_pieces is None) == (not fast.shortlist)
    assert translated == [r.best.text for r in traced]


@needs_toy
def test_int8_stays_close_to_the_exact_model(toy_translator, toy_pairs):
    sentences = list(toy_pairs[0][:40])
    exact = toy_translator.translate(sentences, beam_size=4)
    fast = toy_translator.translate(sentences, beam_size=4, fast=FastMode(int8=True))
    assert sum(a == b for a, b in zip(exact, fast)) >= 0.9 * len(sentences)
    model = toy_translator.fast_models.int8()
    assert model is toy_translator.fast_models.int8()  # built once, shared
    exact_modules = (toy_translator.model.out, toy_translator.model.combine, toy_translator.model.decoder.layers)
    assert model.out is not exact_modules[0] and model.decoder.layers is not exact_modules[2]
    assert toy_translator.model.decoder.layers[0].__class__ is torch.nn.LSTM  # the exact model keeps its modules
    assert toy_translator.translate(sentences, beam_size=4) == exact  # and its outputs, after the int8 build


def test_int8_refuses_a_model_off_the_cpu(tiny_model):
    with pytest.raises(FastModeError, match="CPU only"):
        int8_model(tiny_model.to("meta"))


def test_shortlist_flag_without_a_shortlist_says_how_to_add_one(tmp_path, tiny_config, tiny_model, tiny_tokenizers,
                                                                 monkeypatch, capsys):
    path = tmp_path / "m.pt"
    save_checkpoint(make_payload(tiny_config, tiny_model, tiny_tokenizers, step=1), path)
    monkeypatch.setattr("sys.stdin", io.StringIO("the red car\n"))
    assert main(["translate", "--checkpoint", str(path), "--device", "cpu", "--shortlist"]) == 2
    assert "no shortlist" in capsys.readouterr().err


def test_cli_builds_a_shortlist_and_decodes_with_it(tmp_path, tiny_config, tiny_model, tiny_tokenizers, tiny_pairs,
                                                    monkeypatch, capsys):
    path = tmp_path / "m.pt"
    save_checkpoint(make_payload(tiny_config, tiny_model, tiny_tokenizers, step=1), path)
    (tmp_path / "train.src").write_text("\n".join(tiny_pairs[0]) + "\n", encoding="utf-8")
    (tmp_path / "train.tgt").write_text("\n".join(tiny_pairs[1]) + "\n", encoding="utf-8")
    assert main(["shortlist", str(path), "--src", str(tmp_path / "train.src"), "--tgt", str(tmp_path / "train.tgt"),
                 "--frequent", "3", "--per-source", "2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["pairs"] == len(tiny_pairs[0]) and summary["per_source"] == 2
    assert "shortlist" in read_payload(path)
    monkeypatch.setattr("sys.stdin", io.StringIO("the red car\na dog\n"))
    assert main(["translate", "--checkpoint", str(path), "--device", "cpu", "--beam", "3", "--int8",
                 "--shortlist"]) == 0
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 2
    reported = json.loads(out.err.split("fast mode: ", 1)[1].splitlines()[0])
    assert reported["mode"] == "int8 + shortlist" and reported["shortlist_settings"]["frequent"] == 3
    (tmp_path / "ref.txt").write_text("el coche rojo\nun perro\n", encoding="utf-8")
    (tmp_path / "src.txt").write_text("the red car\na dog\n", encoding="utf-8")
    assert main(["evaluate", "--checkpoint", str(path), "--device", "cpu", "--src", str(tmp_path / "src.txt"),
                 "--ref", str(tmp_path / "ref.txt"), "--beam", "2", "--shortlist"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["fast"]["mode"] == "shortlist" and report["sentences"] == 2
    assert "fast mode:" in captured.err  # never silent, on stderr too
    assert main(["evaluate", "--checkpoint", str(path), "--device", "cpu", "--src", str(tmp_path / "src.txt"),
                 "--ref", str(tmp_path / "ref.txt"), "--shortlist", "--record"]) == 2
    assert "--record" in capsys.readouterr().err  # an approximated score never lands on the model card
    assert main(["shortlist", str(path), "--src", str(tmp_path / "train.src"), "--tgt", str(tmp_path / "train.tgt"),
                 "--per-source", "5000"]) == 2
    assert "--per-source" in capsys.readouterr().err


@needs_toy
def test_partial_shortlist_equals_masking_the_other_pieces(toy_translator, toy_pairs):
    """The independent reference for a real (non-identity) position map: the exact model with the output bias of
    every piece outside the shortlist at -1e30 has the same softmax as the shortlist model, so beam search must
    give the same tokens, scores and trace."""
    import copy

    cfg = toy_translator.model.cfg
    sentences = list(toy_pairs[0][:10])
    used = {t for r in toy_translator.decode(sentences, beam_size=3) for h in r.hypotheses for t in h.tokens}
    rng = np.random.default_rng(0)
    kept = sorted(set(SPECIALS) | used | set(rng.choice(cfg.tgt_vocab_size, cfg.tgt_vocab_size // 3).tolist()))
    assert len(kept) < cfg.tgt_vocab_size
    fixed = Shortlist(np.asarray(kept), np.zeros(cfg.src_vocab_size + 1, np.int64), np.zeros(0, np.int64),
                      cfg.tgt_vocab_size, {})
    masked = copy.deepcopy(toy_translator.model)
    outside = torch.ones(cfg.tgt_vocab_size, dtype=torch.bool)
    outside[kept] = False
    with torch.no_grad():
        masked.out.bias[outside] = -1e30
    reference = Translator(copy.copy(toy_translator.checkpoint), "cpu")
    reference.model, reference.fast_models = masked, FastModels(masked)
    expected = reference.decode(sentences, beam_size=3, nbest=2, record=True, batch_size=4)
    toy_translator.fast_models = FastModels(toy_translator.model)
    toy_translator.fast_models.shortlist = fixed
    found = toy_translator.decode(sentences, beam_size=3, nbest=2, record=True, batch_size=4,
                                  fast=FastMode(shortlist=True))
    toy_translator.fast_models = FastModels(toy_translator.model)
    for a, b in zip(expected, found):
        assert [h.tokens for h in a.hypotheses] == [h.tokens for h in b.hypotheses]
        assert np.allclose([h.score for h in a.hypotheses], [h.score for h in b.hypotheses], atol=1e-4)
        assert np.array_equal(a.trace.token, b.trace.token) and a.trace.pieces == b.trace.pieces


@needs_toy
def test_a_damaged_shortlist_never_stops_the_exact_model(toy_translator, toy_pairs):
    """A checkpoint whose stored shortlist is bad (a hostile or damaged file) still translates exactly; asking for
    the shortlist says why it cannot be used, in one line."""
    sentences = list(toy_pairs[0][:3])
    expected = toy_translator.translate(sentences)
    good = build_shortlist([[4, 5]], [[6, 7]], 8, 10).to_payload()
    for bad in ({**good, "tgt_vocab_size": 3}, {**good, "frequent": torch.tensor(5)},
                {**good, "targets": good["targets"].view(1, -1)}, {**good, "settings": 5},
                {**good, "frequent": good["frequent"].float()}):
        toy_translator.fast_models = FastModels(toy_translator.model, bad, "toy.pt")
        assert toy_translator.translate(sentences) == expected
        with pytest.raises(ShortlistError, match="toy.pt"):
            toy_translator.translate(sentences, fast=FastMode(shortlist=True))
        assert "shortlist_error" in toy_translator.fast_models.describe(FastMode(shortlist=True))
    toy_translator.fast_models = FastModels(toy_translator.model)


def test_positions_refuse_an_absent_piece():
    ids = torch.tensor([0, 1, 2, 3, 10, 20])
    assert to_positions(ids, [10, 3]) == [4, 3]
    with pytest.raises(ValueError, match="not in the shortlist"):
        to_positions(ids, [15])


@needs_toy
def test_the_bench_hands_fast_mode_a_shortlist_it_can_use(toy_pairs, tmp_path):
    """bench/train_throughput.py --fast (and bench/gpu_check.sh): FastModels takes the stored form of a shortlist;
    a Shortlist object there was refused on first use ("not a mapping")."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    from train_throughput import bench_fast_models

    (tmp_path / "train.src").write_text("".join(s + "\n" for s in toy_pairs[0]), encoding="utf-8")
    (tmp_path / "train.tgt").write_text("".join(t + "\n" for t in toy_pairs[1]), encoding="utf-8")
    ckpt = load_checkpoint(TOY, "cpu")
    fast_models = bench_fast_models(ckpt, tmp_path)
    src = torch.tensor([ckpt.tokenizers.src.encode(toy_pairs[0][0]) + [EOS_ID]])
    model, kept = fast_models.for_batch(FastMode(shortlist=True), src)
    assert kept is not None and 0 < len(kept) < ckpt.config.model.tgt_vocab_size
    assert model.cfg.tgt_vocab_size == len(kept)


@needs_toy
def test_the_result_says_how_many_pieces_were_scored_prefix_included(toy_translator, toy_pairs):
    """The Translate page's fast-mode note reads ``scored_pieces``: the shortlist the search really used, with
    the pieces a forced prefix adds to it, not the sentence's list alone."""
    cfg, sentence = toy_translator.model.cfg, toy_pairs[0][0]
    used = {t for h in toy_translator.decode([sentence], beam_size=3)[0].hypotheses for t in h.tokens}
    frequent = sorted(set(SPECIALS) | used)
    encode = toy_translator.tokenizers.tgt.encode
    prefix = next(p for p in ("los", "la", "el", "un", "gato") if not set(encode(p)) <= set(frequent))
    prefix_ids = set(encode(prefix))
    toy_translator.fast_models = FastModels(toy_translator.model)
    toy_translator.fast_models.shortlist = Shortlist(np.asarray(frequent), np.zeros(cfg.src_vocab_size + 1, np.int64),
                                                     np.zeros(0, np.int64), cfg.tgt_vocab_size, {})
    try:
        plain = toy_translator.decode([sentence], beam_size=3, fast=FastMode(shortlist=True))[0]
        forced = toy_translator.decode([sentence], beam_size=3, prefix=prefix, fast=FastMode(shortlist=True))[0]
    finally:
        toy_translator.fast_models = FastModels(toy_translator.model)
    assert plain.scored_pieces == len(frequent)
    assert forced.scored_pieces == len(set(frequent) | prefix_ids) > len(frequent)
    assert toy_translator.decode([sentence], beam_size=3)[0].scored_pieces is None  # exact: the whole vocabulary
