"""Search against independent references: exhaustive enumeration, greedy, teacher forcing, model.loss,
one-sentence-at-a-time decoding, and the trace's own backpointers.

Tiny float64 models (vocabulary <= 6: <pad> <unk> <s> </s> + two words) keep every test well under a
second and make ties between hypotheses practically impossible.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nmt_core.batching import make_batch
from nmt_core.beam_trace import BeamTrace
from nmt_core.config import ModelConfig
from nmt_core.decoding import length_penalty
from nmt_core.hypotheses import diagnose
from nmt_core.model import Intervention, Seq2Seq
from nmt_core.sampling import sample
from nmt_core.scoring import score_translation
from nmt_core.search import beam_search, greedy_search
from nmt_core.tokenizer import BOS_ID, EOS_ID, PAD_ID

MODES = [("none", 0.0), ("norm", 0.0), ("gnmt", 0.6), ("gnmt", 1.5)]
SOURCES = [[4, 5, 1], [5], [4, 4, 5, 5, 1], [1, 4]]
MORE_SOURCES = SOURCES + [[5, 5, 5], [1, 1, 4, 5], [4], [5, 1, 5, 4, 1, 4]]  # for the stopping rules


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models are dominated by thread start-up: one thread is ~30x faster on a shared 2-core box."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def tiny_model(seed: int = 0, vocab: int = 6, cell: str = "lstm", attention: str = "additive",
               input_feeding: bool = True, scale: float = 4.0) -> Seq2Seq:
    """A random model with peaked output distributions (scaled output layer), in float64."""
    torch.manual_seed(seed)
    cfg = ModelConfig(cell=cell, embedding_size=8, hidden_size=8, attention=attention, input_feeding=input_feeding,
                      dropout=0.0, src_vocab_size=vocab, tgt_vocab_size=vocab)
    model = Seq2Seq(cfg).double().eval()
    with torch.no_grad():
        model.out.weight.mul_(scale)
        model.out.bias.normal_(0, 1.0)
    return model


def batch_of(sources):
    batch = make_batch(sources)
    return batch.src, batch.src_lengths


def exhaustive(model: Seq2Seq, src_ids: list[int], max_len: int, mode: str, alpha: float):
    """Every complete output, scored one row at a time with decode_step: sequences over the emittable
    tokens (all but <pad> and <s>) that end with </s> within max_len tokens, or reach max_len."""
    allowed = [t for t in range(model.cfg.tgt_vocab_size) if t not in (PAD_ID, BOS_ID)]
    src, lengths = batch_of([src_ids])
    enc = model.encode(src, lengths)
    out = []

    def walk(prefix, logprob, state):
        step = model.decode_step(torch.tensor([prefix[-1] if prefix else BOS_ID]), state, enc)
        logp = torch.log_softmax(step.logits, dim=-1)[0].tolist()
        for tok in allowed:
            seq, lp = prefix + (tok,), logprob + logp[tok]
            if tok == EOS_ID or len(seq) == max_len:
                out.append((seq, lp, lp / length_penalty(len(seq), mode, alpha)))
            else:
                walk(seq, lp, step.state)

    with torch.no_grad():
        walk((), 0.0, model.init_state(enc))
    return sorted(out, key=lambda x: -x[2])


# --------------------------------------------------------------------------------------- references
@pytest.mark.parametrize("cell,attention,feeding", [("lstm", "additive", True), ("gru", "dot", False),
                                                    ("rnn", "general", True), ("lstm", "none", True)])
def test_beam_size_one_equals_greedy(cell, attention, feeding):
    for seed in range(3):
        model = tiny_model(seed, cell=cell, attention=attention, input_feeding=feeding, scale=1.0)
        src, lengths = batch_of(SOURCES)
        greedy = greedy_search(model, src, lengths, max_ratio=1.5)
        beam = beam_search(model, src, lengths, beam_size=1, max_ratio=1.5)
        assert [r.best.output_ids for r in beam] == greedy


@pytest.mark.parametrize("mode,alpha", MODES)
@pytest.mark.parametrize("vocab,max_len", [(6, 4), (5, 3), (6, 2), (5, 1)])
def test_wide_beam_is_exhaustive_search(mode, alpha, vocab, max_len):
    """With k >= V^L nothing is pruned: the best hypothesis is the exact optimum and the n-best list
    is the full exhaustive ranking, for every length penalty."""
    model = tiny_model(vocab * 10 + max_len, vocab=vocab)
    sources = [[4, 1], [1, 1, 4]] if vocab == 5 else [[4, 5, 1], [5]]
    k = vocab ** max_len
    src, lengths = batch_of(sources)
    results = beam_search(model, src, lengths, beam_size=k, nbest=k, length_penalty=mode, alpha=alpha,
                          max_len=max_len)
    for source, result in zip(sources, results):
        reference = exhaustive(model, source, max_len, mode, alpha)
        assert [h.tokens for h in result.hypotheses] == [r[0] for r in reference]
        np.testing.assert_allclose([h.score for h in result.hypotheses], [r[2] for r in reference], rtol=1e-10)
        np.testing.assert_allclose([h.logprob for h in result.hypotheses], [r[1] for r in reference], rtol=1e-10)


@pytest.mark.parametrize("mode,alpha", MODES)
def test_stopping_rule_never_changes_the_nbest(mode, alpha):
    """Stopping early (the bound) gives exactly what running every sentence to its cap gives. (Seed 1
    catches the tempting wrong bound L / lp(current length) for norm and gnmt.)"""
    src, lengths = batch_of(MORE_SOURCES)
    opts = dict(beam_size=3, nbest=3, length_penalty=mode, alpha=alpha, max_len=10)
    stopped = 0
    for seed in range(4):
        model = tiny_model(seed, scale=1.0)
        early = beam_search(model, src, lengths, **opts)
        full = beam_search(model, src, lengths, stopping="never", **opts)
        for a, b in zip(early, full):
            assert [h.tokens for h in a.hypotheses] == [h.tokens for h in b.hypotheses]
            np.testing.assert_allclose([h.score for h in a.hypotheses], [h.score for h in b.hypotheses])
        stopped += sum(r.trace.stop_reason == "bound" for r in early)
    assert stopped >= 1  # the rule did fire somewhere


@pytest.mark.parametrize("mode,alpha", MODES)
def test_heuristic_stopping_is_never_better_and_same_without_penalty(mode, alpha):
    """The heuristic rule sees the same beams as the exact one but may stop earlier, so its pool is a
    subset of the exact pool at a later step: its best score can only be lower or equal, and it stops no
    later. Without a length penalty (lp = 1) the two bounds are the same number."""
    src, lengths = batch_of(MORE_SOURCES)
    opts = dict(beam_size=3, nbest=3, length_penalty=mode, alpha=alpha, max_len=12)
    earlier = 0
    for seed in range(4):
        model = tiny_model(seed, scale=1.0)
        exact = beam_search(model, src, lengths, **opts)
        fast = beam_search(model, src, lengths, stopping="heuristic", **opts)
        for a, b in zip(exact, fast):
            assert b.trace.stop_step <= a.trace.stop_step
            assert b.best.score <= a.best.score + 1e-12
            assert b.trace.settings["stopping"] == "heuristic"
            if mode == "none":
                assert [h.tokens for h in a.hypotheses] == [h.tokens for h in b.hypotheses]
                assert a.trace.stop_step == b.trace.stop_step
            earlier += b.trace.stop_step < a.trace.stop_step
    assert (earlier > 0) == (mode != "none")  # with a penalty the heuristic does stop earlier somewhere
    with pytest.raises(ValueError, match="stopping"):
        beam_search(model, src, lengths, stopping="sometimes")


def test_sentences_leave_the_batch_without_changing_anything():
    """Sentences of very different lengths stop at different steps and leave the batch; per-sentence
    prefixes and constraints at later steps must still reach the right sentence, and every result must
    equal decoding that sentence alone (tokens, log-probs, attention, the whole trace)."""
    model = tiny_model(3, scale=1.0)
    sources = [[4], [5, 4, 5, 4, 5, 4, 5, 1], [5, 5], [1, 4, 4, 5, 5, 1, 4, 4, 5]]
    no_eos = {"block": [EOS_ID]}
    prefixes = [None, [4, 4], [5], None]
    constraints = [None, {**dict.fromkeys(range(2, 6), no_eos), 6: {"force": 4}}, {1: no_eos, 2: no_eos},
                   {**dict.fromkeys(range(8), no_eos), 8: {"block": [EOS_ID, 4]}}]
    opts = dict(beam_size=3, nbest=2, length_penalty="norm", record=True, stopping="heuristic")
    batched = beam_search(model, *batch_of(sources), prefix=prefixes, constraints=constraints, **opts)
    assert len({r.trace.stop_step for r in batched}) > 1  # they did leave at different steps
    for i, (source, result) in enumerate(zip(sources, batched)):
        alone = beam_search(model, *batch_of([source]), prefix=[prefixes[i]], constraints=[constraints[i]], **opts)[0]
        assert [h.tokens for h in result.hypotheses] == [h.tokens for h in alone.hypotheses]
        for h1, h2 in zip(result.hypotheses, alone.hypotheses):
            np.testing.assert_allclose(h1.token_logprobs, h2.token_logprobs, rtol=1e-10)
            np.testing.assert_allclose(h1.attention, h2.attention, rtol=1e-10, atol=1e-12)
        f1, f2 = result.trace.to_frame(), alone.trace.to_frame()
        assert f1[["step", "parent", "token", "finished"]].equals(f2[["step", "parent", "token", "finished"]])
        np.testing.assert_allclose(f1["logprob"], f2["logprob"], rtol=1e-10)
        assert (result.trace.stop_step, result.trace.stop_reason) == (alone.trace.stop_step, alone.trace.stop_reason)
        assert result.trace.rejected is not None and len(result.trace.rejected.token) == len(alone.trace.rejected.token)


@pytest.mark.parametrize("mode,alpha", MODES[:3])
def test_batched_equals_one_sentence_at_a_time(mode, alpha):
    model = tiny_model(1)
    src, lengths = batch_of(SOURCES)
    opts = dict(beam_size=4, nbest=3, length_penalty=mode, alpha=alpha, record=True)
    batched = beam_search(model, src, lengths, **opts)
    for source, result in zip(SOURCES, batched):
        alone = beam_search(model, *batch_of([source]), **opts)[0]
        assert [h.tokens for h in result.hypotheses] == [h.tokens for h in alone.hypotheses]
        for h1, h2 in zip(result.hypotheses, alone.hypotheses):
            np.testing.assert_allclose(h1.token_logprobs, h2.token_logprobs, rtol=1e-10)
            np.testing.assert_allclose(h1.attention, h2.attention, rtol=1e-10, atol=1e-12)
        f1, f2 = result.trace.to_frame(), alone.trace.to_frame()
        assert f1[["step", "parent", "token", "finished"]].equals(f2[["step", "parent", "token", "finished"]])
        np.testing.assert_allclose(result.trace.attention, alone.trace.attention, rtol=1e-10, atol=1e-12)


def test_recording_does_not_change_the_output():
    model = tiny_model(2)
    src, lengths = batch_of(SOURCES)
    plain = beam_search(model, src, lengths, beam_size=3, nbest=3, length_penalty="gnmt")
    recorded = beam_search(model, src, lengths, beam_size=3, nbest=3, length_penalty="gnmt", record=True)
    for a, b in zip(plain, recorded):
        assert [(h.tokens, h.logprob, h.score, h.node) for h in a.hypotheses] == \
               [(h.tokens, h.logprob, h.score, h.node) for h in b.hypotheses]
        assert a.trace.to_frame().equals(b.trace.to_frame())
        assert a.trace.attention is None and a.trace.rejected is None
        assert b.trace.attention.shape == (len(b.trace), len(b.trace.source)) and len(b.trace.rejected.parent) > 0


def hypothesis_values(result):
    return [(h.tokens, h.logprob, h.score, h.token_logprobs.tolist(),
             None if h.attention is None else h.attention.tolist(), h.pieces) for h in result.hypotheses]


@pytest.mark.parametrize("mode,alpha", MODES)
@pytest.mark.parametrize("stopping", ["exact", "heuristic", "never"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("limits", [{}, {"max_len": 1}, {"prefix": [4], "constraints": {1: {"block": [5]}}}],
                         ids=["free", "capped", "prefixed-constrained"])
def test_text_only_search_gives_the_same_hypotheses(mode, alpha, stopping, dtype, limits):
    """``trace=False`` (translate, evaluate) skips the search tree: the same hypotheses to the last bit, scores
    included, and no trace; also with hypotheses cut at the length cap, and with a forced prefix and a blocked
    token."""
    model = tiny_model(3).to(dtype)
    src, lengths = batch_of(MORE_SOURCES)
    options = dict(beam_size=3, nbest=3, length_penalty=mode, alpha=alpha, stopping=stopping, **limits)
    traced = beam_search(model, src, lengths, **options)
    text_only = beam_search(model, src, lengths, trace=False, **options)
    for a, b in zip(traced, text_only):
        assert hypothesis_values(a) == hypothesis_values(b)
        assert b.trace is None and all(h.node == -1 for h in b.hypotheses) and all(h.node >= 0 for h in a.hypotheses)
        check_trace(a)  # and the traced scores still agree with their trace
    if "max_len" in limits:
        assert any(not h.eos for r in traced for h in r.hypotheses)  # the cap did cut some
    with pytest.raises(ValueError, match="record=True writes into the trace"):
        beam_search(model, src, lengths, record=True, trace=False)


def check_trace(result, model=None, src_ids=None):
    """Invariants every trace must satisfy; with a model, also teacher-forced agreement."""
    trace = result.trace
    nonroot = np.arange(1, len(trace))
    parents = trace.parent[nonroot]
    assert (parents < nonroot).all() and (trace.step[nonroot] == trace.step[parents] + 1).all()
    assert (trace.logprob[nonroot] <= trace.logprob[parents] + 1e-12).all()  # never increases along a path
    np.testing.assert_allclose(trace.logprob[nonroot], trace.logprob[parents] + trace.token_logprob[nonroot])
    assert not trace.finished[parents].any()  # finished nodes are never expanded
    assert list(trace.hypotheses) == [h.node for h in result.hypotheses]
    for hyp in result.hypotheses:
        assert tuple(trace.tokens_to(hyp.node)) == hyp.tokens  # backtracking reproduces the hypothesis
        np.testing.assert_allclose(trace.token_logprob[trace.path_to(hyp.node)[1:]], hyp.token_logprobs)
        assert trace.logprob[hyp.node] == pytest.approx(hyp.logprob)
        assert trace.score[hyp.node] == pytest.approx(hyp.score) and trace.finished[hyp.node]
        if trace.attention is not None:
            np.testing.assert_allclose(trace.attention[trace.path_to(hyp.node)[1:]], hyp.attention)
        if model is not None:  # teacher forcing the hypothesis gives the same numbers
            tf = score_translation(model, src_ids, hyp.output_ids)
            n = len(hyp.tokens)
            np.testing.assert_allclose(tf.token_logprobs[:n], hyp.token_logprobs, rtol=1e-9)
            if hyp.attention is not None:
                np.testing.assert_allclose(tf.attention[:n], hyp.attention, rtol=1e-9, atol=1e-12)
    scores = [h.score for h in result.hypotheses]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("mode,alpha", MODES[:3])
def test_trace_backpointers_reproduce_every_hypothesis(mode, alpha):
    model = tiny_model(4)
    src, lengths = batch_of(SOURCES)
    for source, result in zip(SOURCES, beam_search(model, src, lengths, beam_size=4, nbest=4, record=True,
                                                   length_penalty=mode, alpha=alpha)):
        check_trace(result, model, source)


def test_rejected_continuations_are_the_best_not_kept():
    model = tiny_model(5)
    result = beam_search(model, *batch_of([[4, 5, 1]]), beam_size=2, nbest=2, record=True, top_n_rejected=2)[0]
    trace, rej = result.trace, result.trace.rejected
    kept = {(int(p), int(t)) for p, t in zip(trace.parent[1:], trace.token[1:])}
    for parent, token, lp in zip(rej.parent, rej.token, rej.logprob):
        assert (int(parent), int(token)) not in kept
        assert lp == pytest.approx(trace.logprob[parent] + rej.token_logprob[rej.parent == parent][
            list(rej.token[rej.parent == parent]).index(token)])
    frame = trace.rejected_frame()
    assert frame.groupby("parent").size().max() <= 2
    assert (frame.groupby("parent")["logprob"].apply(lambda s: s.is_monotonic_decreasing)).all()


def test_trace_json_round_trip_and_frame():
    model = tiny_model(6)
    result = beam_search(model, *batch_of([[4, 5]]), beam_size=3, nbest=2, record=True, length_penalty="norm")[0]
    doc = json.loads(result.trace.to_json())
    assert doc["format"] == "nmt-studio-beam-trace" and doc["nodes"][0]["parent"] is None
    assert [h["tokens"] for h in doc["hypotheses"]] == [list(h.tokens) for h in result.hypotheses]
    back = BeamTrace.from_dict(doc)
    assert back.to_frame().equals(result.trace.to_frame())
    assert back.rejected_frame().equals(result.trace.rejected_frame())
    np.testing.assert_allclose(back.attention, result.trace.attention)
    frame = result.trace.to_frame()
    assert list(frame.columns) == ["id", "step", "beam", "parent", "token", "piece", "token_logprob", "logprob",
                                   "score", "finished", "nbest_rank"]
    assert frame["nbest_rank"].dropna().tolist() == [1, 2]


# --------------------------------------------------------------------------------------- what-if
def test_forced_prefix_and_constraints():
    model = tiny_model(7)
    src, lengths = batch_of([[4, 5, 1], [5, 5]])
    results = beam_search(model, src, lengths, beam_size=3, nbest=3, prefix=[5, 5, 4])
    for r in results:
        assert all(h.tokens[:3] == (5, 5, 4) for h in r.hypotheses)
        check_trace(r)
    per_sentence = beam_search(model, src, lengths, beam_size=2, prefix=[[4], None])
    assert per_sentence[0].best.tokens[0] == 4
    # prefix logprobs are the model's own (teacher forcing agrees)
    hyp = results[0].best
    tf = score_translation(model, [4, 5, 1], hyp.output_ids)
    np.testing.assert_allclose(tf.token_logprobs[:3], hyp.token_logprobs[:3])
    # block </s> at steps 0-2 and force token 1 at step 3
    cons = {0: {"block": [EOS_ID]}, 1: {"block": [EOS_ID]}, 2: {"block": [EOS_ID]}, 3: {"force": 1}}
    for r in beam_search(model, src, lengths, beam_size=3, nbest=3, constraints=cons):
        for h in r.hypotheses:
            assert EOS_ID not in h.tokens[:3] and h.tokens[3] == 1
    with pytest.raises(ValueError):
        beam_search(model, src, lengths, prefix=[EOS_ID])
    with pytest.raises(ValueError):
        beam_search(model, src, lengths, beam_size=2, nbest=3)


def test_score_translation_matches_model_loss():
    model = tiny_model(8)
    src_ids, tgt_ids = [4, 5, 1], [5, 4, 4]
    scores = score_translation(model, src_ids, tgt_ids, length_penalty="gnmt", alpha=0.6)
    batch = make_batch([src_ids], [tgt_ids])
    with torch.no_grad():
        loss, n = model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)
    assert scores.logprob == pytest.approx(-loss.item()) and len(scores.tokens) == int(n) == 4
    assert scores.score == pytest.approx(scores.logprob / ((5 + 4) / 6) ** 0.6)
    # rank 1 exactly where the gold token is the model's top choice
    assert ((scores.ranks == 1) == (np.array(scores.top_tokens) == np.array(scores.tokens))).all()
    assert (scores.top_logprobs >= scores.token_logprobs).all()


def test_diagnose_tells_search_errors_from_model_errors():
    for seed in range(40):  # find a model where greedy misses the exact optimum
        model = tiny_model(seed, scale=1.5)
        best = exhaustive(model, [4, 5], 4, "none", 0.0)[0]
        greedy = beam_search(model, *batch_of([[4, 5]]), beam_size=1, max_len=4)[0].best
        if greedy.tokens != best[0]:
            break
    else:
        pytest.skip("no search error among the seeds")
    reference = score_translation(model, [4, 5], [t for t in best[0] if t != EOS_ID])
    if best[0][-1] == EOS_ID:
        assert diagnose(reference, greedy).verdict == "search error"
    exact = beam_search(model, *batch_of([[4, 5]]), beam_size=6 ** 4, max_len=4)[0].best
    assert diagnose(score_translation(model, [4, 5], exact.output_ids), exact).verdict == "agree"
    worst = exhaustive(model, [4, 5], 4, "none", 0.0)[-1]
    ref = score_translation(model, [4, 5], [t for t in worst[0] if t != EOS_ID])
    assert diagnose(ref, exact).verdict == "model error"


def test_intervention_is_passed_to_every_step():
    model = tiny_model(9)
    result = beam_search(model, *batch_of([[4, 5, 1]]), beam_size=2, intervention=Intervention(blocked_source=(0,)),
                         record=True)[0]
    assert np.allclose(result.best.attention[:, 0], 0) and np.allclose(result.trace.attention[1:, 0], 0)


# --------------------------------------------------------------------------------------- sampling
def test_sampling_is_seeded_and_scores_with_the_model():
    model = tiny_model(10)
    src, lengths = batch_of(SOURCES)
    a = sample(model, src, lengths, n=3, seed=5, temperature=1.3)
    b = sample(model, src, lengths, n=3, seed=5, temperature=1.3)
    assert [[h.tokens for h in s] for s in a] == [[h.tokens for h in s] for s in b]
    assert all(len(s) == 3 for s in a)
    for source, samples in zip(SOURCES, a):
        for h in samples:
            tf = score_translation(model, source, h.output_ids)
            np.testing.assert_allclose(tf.token_logprobs[:len(h.tokens)], h.token_logprobs, rtol=1e-9)
    top1 = sample(model, src, lengths, top_k=1, seed=0)
    assert [s[0].output_ids for s in top1] == greedy_search(model, src, lengths)


# --------------------------------------------------------------------------------------- properties
@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 10_000), vocab=st.integers(4, 6), max_len=st.integers(1, 3),
       mode=st.sampled_from(["none", "norm", "gnmt"]), alpha=st.floats(0.1, 2.0),
       source=st.lists(st.sampled_from([1, 4, 5]), min_size=1, max_size=4))
def test_property_wide_beam_is_exact(seed, vocab, max_len, mode, alpha, source):
    model = tiny_model(seed, vocab=vocab, scale=2.0)
    source = [t if t < vocab else 1 for t in source]
    k = vocab ** max_len
    result = beam_search(model, *batch_of([source]), beam_size=k, nbest=k, length_penalty=mode, alpha=alpha,
                         max_len=max_len)[0]
    reference = exhaustive(model, source, max_len, mode, alpha)
    assert result.best.score == pytest.approx(reference[0][2], rel=1e-9)
    np.testing.assert_allclose(sorted(h.score for h in result.hypotheses), sorted(r[2] for r in reference))
    check_trace(result)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4), mode=st.sampled_from(["none", "norm", "gnmt"]),
       cell=st.sampled_from(["lstm", "gru"]), record=st.booleans())
def test_property_trace_invariants_and_early_stop(seed, k, mode, cell, record):
    model = tiny_model(seed, cell=cell, scale=1.5)
    src, lengths = batch_of(SOURCES)
    opts = dict(beam_size=k, nbest=k, length_penalty=mode, max_len=7, record=record)
    early = beam_search(model, src, lengths, **opts)
    full = beam_search(model, src, lengths, stopping="never", **opts)
    for source, a, b in zip(SOURCES, early, full):
        check_trace(a, model if seed % 3 == 0 else None, source)
        assert [h.tokens for h in a.hypotheses] == [h.tokens for h in b.hypotheses]


@pytest.mark.parametrize("cell,attention,feeding", [("lstm", "none", True), ("gru", "dot", False)])
def test_other_architectures_trace_and_record(cell, attention, feeding):
    model = tiny_model(11, cell=cell, attention=attention, input_feeding=feeding)
    src, lengths = batch_of(SOURCES)
    results = beam_search(model, src, lengths, beam_size=3, nbest=2, record=True, length_penalty="norm")
    for source, result in zip(SOURCES, results):
        check_trace(result, model, source)
        assert (result.best.attention is None) == (attention == "none")
        assert (result.trace.attention is None) == (attention == "none")
        json.loads(result.trace.to_json())


def test_step_records_do_not_pin_the_full_distributions():
    """Each step's record keeps k values per sentence, not views into that step's (B*k, V) log-probs:
    a view would keep every step's distribution alive until the search ends (540 MB for 50 sentences
    with an 8k vocabulary, measured before this test existed)."""
    from nmt_core import beam_records

    records = []
    original = beam_records.record_step

    def spy(*args, **kwargs):
        records.append(original(*args, **kwargs))
        return records[-1]

    model = tiny_model(2, vocab=6)
    beam_records.record_step = spy
    try:
        beam_search(model, *batch_of(SOURCES), beam_size=3, record=False)
    finally:
        beam_records.record_step = original
    for rec in records:
        for name in rec.__dataclass_fields__:
            value = getattr(rec, name)
            if isinstance(value, torch.Tensor):
                assert value.untyped_storage().nbytes() <= value.numel() * value.element_size() * 2, name


# --------------------------------------------------------------------------------------- the reference beam search
def _trace_history(trace) -> list[dict]:
    """Per step of a BeamTrace: the live hypotheses kept and the complete ones produced, as (tokens, logprob),
    in the reference's order (best first), reconstructed from the backpointers."""
    def path(node: int) -> tuple[int, ...]:
        tokens = []
        while node > 0:
            tokens.append(int(trace.token[node]))
            node = int(trace.parent[node])
        return tuple(reversed(tokens))

    history = []
    for t in range(1, trace.stop_step + 1):
        nodes = [i for i in range(1, len(trace)) if trace.step[i] == t]
        live = [i for i in nodes if trace.token[i] != EOS_ID]
        ended = sorted((i for i in nodes if trace.token[i] == EOS_ID), key=lambda i: -trace.logprob[i])
        history.append({"step": t, "live": [(path(i), float(trace.logprob[i])) for i in live],
                        "ended": [(path(i), float(trace.logprob[i])) for i in ended]})
    return history


def assert_same_search(model, src_ids, k, mode, alpha, atol):
    from nmt_core.reference_search import reference_beam_search, score

    result = beam_search(model, *batch_of([src_ids]), beam_size=k, nbest=k, length_penalty=mode, alpha=alpha,
                         record=True)[0]
    hyps, history = reference_beam_search(model, [*src_ids, EOS_ID], beam_size=k, length_penalty=mode, alpha=alpha)
    lp = lambda n: float(length_penalty(n, mode, alpha))  # noqa: E731
    assert [h.tokens for h in hyps] == [h.tokens for h in result.hypotheses]
    for ref, fast in zip(hyps, result.hypotheses):
        assert ref.logprob == pytest.approx(fast.logprob, abs=atol)
        assert score(ref, lp) == pytest.approx(fast.score, abs=atol)
        if fast.attention is not None:
            assert np.allclose(np.stack([r.numpy() for r in ref.attention]), fast.attention, atol=atol)
    fast_history = _trace_history(result.trace)
    assert len(fast_history) == len(history)
    for mine, theirs in zip(history, fast_history):
        for part in ("live", "ended"):
            assert [p for p, _ in mine[part]] == [p for p, _ in theirs[part]], (mine["step"], part)
            assert np.allclose([s for _, s in mine[part]], [s for _, s in theirs[part]], atol=atol)


@pytest.mark.parametrize("cell,attention,mode", [("lstm", "additive", "none"), ("gru", "dot", "gnmt"),
                                                 ("rnn", "general", "norm"), ("lstm", "none", "gnmt")])
@pytest.mark.parametrize("k", [1, 3, 7])
def test_reference_beam_search_equals_the_batched_one_on_random_models(cell, attention, mode, k):
    for seed in range(3):
        model = tiny_model(seed, vocab=7, cell=cell, attention=attention)
        for src in SOURCES:
            assert_same_search(model, src, k, mode, 1.0, atol=1e-9)


@pytest.mark.parametrize("name", ["toy-en-es", "tatoeba-en-de"])
def test_reference_beam_search_equals_the_batched_one_on_shipped_models(name):
    from pathlib import Path

    from nmt_core.checkpoint import load_checkpoint

    path = Path(__file__).resolve().parents[1] / "checkpoints" / f"{name}.pt"
    if not path.exists():
        pytest.skip(f"{path.name} is not shipped")
    ckpt = load_checkpoint(path)
    sentences = (["the red car is fast", "how are you ?"] if name.startswith("toy")
                 else ["My grandmother likes jazz.", "Where is the station?"])
    for sentence in sentences:
        assert_same_search(ckpt.model.double(), ckpt.tokenizers.src.encode(sentence), 4, "gnmt", 0.6, atol=1e-8)
