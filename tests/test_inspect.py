"""Inspection is checked against references: finite differences, the fused path, hand-computed AER."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from nmt_core import replay
from nmt_core.checkpoint import Checkpoint, make_payload, save_checkpoint
from nmt_core.cli import main as cli_main
from nmt_core.config import ModelConfig
from nmt_core.inspection import (
    AttentionResult,
    aer,
    alignment_scores,
    argmax_alignment,
    attention_matrix,
    clamp_gate,
    corpus_alignment_scores,
    gate_trace,
    gradient_flow,
    inspect_sentence,
    intervene,
    keep_only_source,
)
from nmt_core.inspection.sentence import prepare, source_tensors, teacher_forced
from nmt_core.model import Intervention, Seq2Seq

SRC, TGT = "the red car is fast", "el coche rojo es rápido"


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models run fastest on one thread (and do not fight other processes for cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_model(tok, cell="lstm", dtype=torch.float32, **kw) -> Seq2Seq:
    torch.manual_seed(0)
    cfg = ModelConfig(cell=cell, embedding_size=6, hidden_size=kw.pop("hidden_size", 5), dropout=0.0,
                      src_vocab_size=tok.src.vocab_size, tgt_vocab_size=tok.tgt.vocab_size, **kw)
    return Seq2Seq(cfg).to(dtype).eval()


# --------------------------------------------------------------------------------------- attention
def test_attention_rows_sum_to_one_and_labels(tiny_tokenizers):
    result = attention_matrix(make_model(tiny_tokenizers), tiny_tokenizers, SRC, TGT)
    assert result.weights.shape == (6, 6)  # 5 words + </s> on both sides
    np.testing.assert_allclose(result.weights.sum(axis=1), 1.0, atol=1e-6)
    assert result.src_pieces[-1] == result.tgt_pieces[-1] == "</s>"
    assert result.src_words == tuple(SRC.split()) and result.tgt_words == tuple(TGT.split())
    frame = result.to_frame()
    assert len(frame) == 36 and set(frame.columns) == {"t", "s", "tgt", "src", "weight"}
    json.dumps(result.to_dict())


def test_attention_needs_an_attention_model(tiny_tokenizers):
    with pytest.raises(ValueError, match="no attention"):
        attention_matrix(make_model(tiny_tokenizers, attention="none"), tiny_tokenizers, SRC, TGT)


def test_word_weights_sum_source_pieces_and_average_target_pieces():
    # source "ab c" as pieces ▁a b ▁c </s>; target "x yz" as ▁x ▁y z </s>
    w = np.array([[0.1, 0.2, 0.3, 0.4],
                  [0.5, 0.5, 0.0, 0.0],
                  [0.0, 0.0, 1.0, 0.0],
                  [0.25, 0.25, 0.25, 0.25]])
    r = AttentionResult(("a", "b", "c", "</s>"), ("x", "y", "z", "</s>"), w, np.zeros(4),
                        ("ab", "c"), ("x", "yz"), (0, 0, 1, -1), (0, 1, 1, -1))
    ww = r.word_weights()
    np.testing.assert_allclose(ww, [[0.3, 0.3, 0.4], [0.5, 0.5, 0.0], [0.5, 0.25, 0.25]])
    np.testing.assert_allclose(ww.sum(axis=1), 1.0)
    assert r.alignment() == {(0, 1)}  # "x" argmaxes to </s>: no link; "yz" ties -> first word


def test_aer_on_hand_made_examples():
    sure = {(0, 0), (1, 1)}
    assert aer({(0, 0), (1, 1)}, sure) == 0.0
    assert aer({(0, 0), (1, 2)}, sure) == pytest.approx(0.5)  # 1 - (1 + 1) / (2 + 2)
    assert aer({(0, 0), (1, 1), (2, 1)}, sure, sure | {(2, 1)}) == 0.0  # a possible link costs nothing
    # A = {00, 12, 22}, S = {00}, P = {00, 12}: 1 - (1 + 2) / (3 + 1)
    a, s, p = {(0, 0), (1, 2), (2, 2)}, {(0, 0)}, {(0, 0), (1, 2)}
    assert aer(a, s, p) == pytest.approx(0.25)
    scores = alignment_scores(a, s, p)
    assert scores.precision == pytest.approx(2 / 3) and scores.recall == 1.0
    assert np.isnan(aer(set(), set()))
    # corpus level sums the counts: (1 + 1 + 1 + 2) / (2 + 2 + 3 + 1)
    total = corpus_alignment_scores([({(0, 0), (1, 2)}, sure, None), (a, s, p)])
    assert total.aer == pytest.approx(1 - 5 / 8)


def test_argmax_alignment():
    assert argmax_alignment(np.array([[0.1, 0.9], [0.7, 0.3], [0.2, 0.8]])) == {(1, 0), (0, 1), (1, 2)}


# --------------------------------------------------------------------------------------- gates
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_gates_in_range_and_equal_to_the_fused_path(tiny_tokenizers, cell):
    model = make_model(tiny_tokenizers, cell, encoder_layers=2, bidirectional=True)
    result = gate_trace(model, tiny_tokenizers, SRC, TGT)
    assert set(result.layers) == {("encoder", 0, 0), ("encoder", 0, 1), ("encoder", 1, 0), ("encoder", 1, 1),
                                  ("decoder", 0, 0)}
    for (_, _, _, gate), v in result.values.items():
        if gate in ("i", "f", "o", "r", "z"):
            assert v.min() >= 0 and v.max() <= 1
        elif gate != "c":
            assert v.min() >= -1 and v.max() <= 1
    prep = prepare(model, tiny_tokenizers, SRC, TGT)
    with torch.no_grad():
        fused = teacher_forced(model, prep, trace=False)
    enc_out = fused.enc.outputs[0].numpy()  # (S, 2H): top layer, forward | backward
    np.testing.assert_allclose(result.get("encoder", "h", 1, 0), enc_out[:, :5], atol=1e-5)
    np.testing.assert_allclose(result.get("encoder", "h", 1, 1), enc_out[:, 5:], atol=1e-5)
    dec_h = torch.cat([s.state.h[-1] for s in fused.steps]).numpy()  # (T, H)
    np.testing.assert_allclose(result.get("decoder", "h"), dec_h, atol=1e-5)
    frame = result.to_frame()
    assert list(frame.columns) == ["side", "layer", "direction", "gate", "t", "token", "unit", "value"]
    sat = result.saturation()
    assert ((sat.frac_low >= 0) & (sat.frac_high <= 1)).all()
    json.dumps(result.to_dict())


def test_gate_summaries(tiny_tokenizers):
    result = gate_trace(make_model(tiny_tokenizers, "lstm"), tiny_tokenizers, SRC)  # greedy target
    assert result.tgt_from_model and result.tgt_pieces[-1] == "</s>"
    forget = result.mean_forget_gate()
    assert set(forget.gate) == {"f"} and len(forget) == 5 * 3  # 5 units x (2 encoder dirs + decoder)
    assert forget["mean"].between(0, 1).all()
    pos = result.position_units(top=2)
    assert set(pos.gate) == {"c"} and pos.r.abs().le(1 + 1e-9).all()


# --------------------------------------------------------------------------------------- gradients
CELLS = {"lstm": "lstm_cell", "gru": "gru_cell", "rnn": "rnn_cell"}


def _call_order(cfg, s_len, t_len):
    """(side, layer, direction, position) of each replayed cell call, in execution order."""
    order = []
    for layer in range(cfg.encoder_layers):
        for d in range(2 if cfg.bidirectional else 1):
            order += [("encoder", layer, d, i if d == 0 else s_len - 1 - i) for i in range(s_len)]
    for t in range(t_len):
        order += [("decoder", layer, 0, t) for layer in range(cfg.decoder_layers)]
    return order


def _finite_difference_grads(model, prep, monkeypatch, eps=1e-6):
    """d log p(y_t) / d h for every replayed h, by central differences: the perturbation is added to the
    cell's output h inside the unrolled computation, so everything downstream sees it (the total derivative)."""
    name = CELLS[model.cfg.cell]
    original = getattr(replay, name)
    target = {"call": -1, "delta": None}
    counter = {"n": 0}

    def perturbed(*args, **kwargs):
        out = original(*args, **kwargs)
        if counter["n"] == target["call"]:
            out = (out[0] + target["delta"], *out[1:])
        counter["n"] += 1
        return out

    monkeypatch.setattr(replay, name, perturbed)
    order = _call_order(model.cfg, len(prep.src_ids), len(prep.tgt_ids) + 1)
    h = model.cfg.hidden_size
    grads = {}
    with torch.no_grad():
        for call, where in enumerate(order):
            columns = []
            for unit in range(h):
                values = []
                for sign in (1, -1):
                    delta = torch.zeros(1, h, dtype=torch.float64)
                    delta[0, unit] = sign * eps
                    target.update(call=call, delta=delta)
                    counter["n"] = 0
                    values.append(teacher_forced(model, prep, trace=True).log_probs)
                columns.append((values[0] - values[1]) / (2 * eps))  # (T,)
            grads[where] = torch.stack(columns, dim=1).numpy()  # (T, H): d log p(y_t) / d h[unit]
    monkeypatch.setattr(replay, name, original)
    return grads


@pytest.mark.parametrize("cell,layers,bidirectional,src",
                         [("lstm", 1, False, "the red car"), ("gru", 2, True, "red car")])
def test_gradient_flow_equals_finite_differences(tiny_tokenizers, monkeypatch, cell, layers, bidirectional, src):
    model = make_model(tiny_tokenizers, cell, torch.float64, hidden_size=3, encoder_layers=layers,
                       decoder_layers=layers, bidirectional=bidirectional)
    tgt = "el coche"
    result = gradient_flow(model, tiny_tokenizers, src, tgt)
    fd = _finite_difference_grads(model, prepare(model, tiny_tokenizers, src, tgt), monkeypatch)
    for (side, layer, direction, pos), g in fd.items():
        table = result.encoder if side == "encoder" else result.decoder
        total = np.linalg.norm(g.sum(axis=0))  # dL/dh with L = -sum_t log p(y_t)
        assert table[(layer, direction)][pos] == pytest.approx(total, rel=1e-6, abs=1e-9), (side, layer, pos)
    top = layers - 1
    for t in range(len(result.tgt_pieces)):
        for s in range(len(result.src_pieces)):
            both = [fd[("encoder", top, d, s)][t] for d in range(2 if bidirectional else 1)]
            assert result.salience[t, s] == pytest.approx(np.linalg.norm(np.concatenate(both)), rel=1e-6, abs=1e-9)


def test_gradient_flow_quantities_and_attention_path(tiny_tokenizers):
    with_attention = gradient_flow(make_model(tiny_tokenizers), tiny_tokenizers, SRC, TGT)
    frame = with_attention.to_frame()
    assert set(frame.quantity) == {"dL/dh (total)", "dL/do (attention path)"}
    assert (frame.grad_norm >= 0).all() and with_attention.encoder_outputs.max() > 0
    json.dumps(with_attention.to_dict())
    bottleneck = gradient_flow(make_model(tiny_tokenizers, attention="none"), tiny_tokenizers, SRC, TGT,
                               salience_wrt="outputs")
    assert bottleneck.encoder_outputs.max() == 0.0 and bottleneck.salience.max() == 0.0  # no attention path
    assert min(v.min() for v in bottleneck.encoder.values()) > 0  # but the bridge still carries gradient


# --------------------------------------------------------------------------------------- interventions
def test_blocking_all_but_one_source_position_forces_weight_one(tiny_tokenizers):
    model = make_model(tiny_tokenizers)
    result = intervene(model, tiny_tokenizers, SRC, keep_only_source(2, 6))
    np.testing.assert_allclose(result.attention_after[:, 2], 1.0)
    assert np.delete(result.attention_after, 2, axis=1).max() == 0.0
    assert result.after_score_of_before != pytest.approx(result.before_score)
    json.dumps(result.to_dict())
    assert list(result.to_frame().columns) == ["t", "before", "after", "same", "before_logp", "after_logp"]


@torch.no_grad()
def test_clamping_an_output_gate_to_zero_silences_the_unit(tiny_tokenizers):
    model = make_model(tiny_tokenizers, bidirectional=True)
    prep = prepare(model, tiny_tokenizers, SRC, TGT)
    src, lengths = source_tensors(model, prep.src_ids)
    enc = model.encode(src, lengths, trace=True, intervention=clamp_gate("encoder", 0, 1, "o", 2, 0.0))
    backward = enc.traces[1]
    assert backward.direction == 1 and float(backward.gates["h"][..., 2].detach().abs().max()) == 0.0
    assert float(enc.outputs[..., 5 + 2].detach().abs().max()) == 0.0  # backward half of the output, unit 2
    assert float(enc.outputs[..., 2].detach().abs().max()) > 0  # the forward direction is untouched
    decoder_clamp = clamp_gate("decoder", 0, 0, "o", 4, 0.0)
    step = model.decode_step(torch.tensor([2]), model.init_state(enc), enc, trace=True, intervention=decoder_clamp)
    assert float(step.state.h[0, 0, 4]) == 0.0 and float(step.traces[0].gates["o"][0, 0, 4]) == 0.0
    with pytest.raises(ValueError, match="trace=True"):
        model.encode(src, lengths, intervention=clamp_gate("encoder", 0, 0, "o", 2, 0.0))


def test_clamped_intervention_changes_the_scores_and_a_null_one_changes_nothing(tiny_tokenizers):
    model = make_model(tiny_tokenizers)
    same = intervene(model, tiny_tokenizers, SRC, Intervention())
    assert not same.changed and same.first_change is None
    assert same.after_score_of_before == pytest.approx(same.before_score, abs=1e-5)
    clamps = tuple(("decoder", 0, 0, "f", u, 0.0) for u in range(5))
    forgetful = intervene(model, tiny_tokenizers, SRC, Intervention(clamp_gates=clamps))
    assert forgetful.after_score_of_before != pytest.approx(forgetful.before_score, abs=1e-4)


@pytest.mark.parametrize("bad,message", [
    (clamp_gate("decoder", 0, 0, "r", 0, 0.0), "no gate 'r'"),
    (clamp_gate("decoder", 1, 0, "f", 0, 0.0), "layer 1 does not exist"),
    (clamp_gate("encoder", 0, 0, "f", 99, 0.0), "unit 99"),
    (keep_only_source(99, 6), "at least one source position"),
])
def test_bad_interventions_are_refused(tiny_tokenizers, bad, message):
    with pytest.raises(ValueError, match=message):
        intervene(make_model(tiny_tokenizers), tiny_tokenizers, SRC, bad)


# --------------------------------------------------------------------------------------- bundle + CLI
def test_inspect_sentence_and_cli(tiny_config, tiny_tokenizers, tmp_path):
    torch.manual_seed(0)
    model = Seq2Seq(tiny_config.model).eval()
    bundle = inspect_sentence(Checkpoint(None, tiny_config, model, tiny_tokenizers), SRC)
    assert bundle["tgt_from_model"] and set(bundle) >= {"attention", "gates", "gradients", "gate_saturation"}
    json.dumps(bundle)
    ckpt = tmp_path / "m.pt"
    save_checkpoint(make_payload(tiny_config, model, tiny_tokenizers, step=3), ckpt)
    out = tmp_path / "inspect.json"
    assert cli_main(["inspect", "--checkpoint", str(ckpt), "--src", SRC, "--tgt", TGT, "--out", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["tgt"] == TGT and len(data["attention"]["weights"]) == 6


def test_the_first_result_text_is_what_every_inspection_view_runs_on(tiny_tokenizers):
    """The pages show ``prepare``'s greedy translation before the heavy work (studio/priority.py); gates, gradient
    flow and attribution must teacher-force exactly that translation."""
    from nmt_core.inspection.attribution import attribution

    model = make_model(tiny_tokenizers).eval()
    for sentence in ("the red car", "a small house is here", "the car"):
        own = prepare(model, tiny_tokenizers, sentence)
        assert gate_trace(model, tiny_tokenizers, sentence).tgt_text == own.tgt_text
        assert attribution(model, tiny_tokenizers, sentence, steps=2).tgt_text == own.tgt_text
        assert gradient_flow(model, tiny_tokenizers, sentence).tgt_pieces == own.tgt_pieces
