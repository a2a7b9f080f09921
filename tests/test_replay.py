"""The readable twin equals the fast path: replayed cells vs fused nn.LSTM / nn.GRU / nn.RNN."""

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from nmt_core.config import ModelConfig
from nmt_core.model import Seq2Seq
from nmt_core.replay import GATE_NAMES, replay_rnn

CLASSES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
TOL = {torch.float32: dict(atol=1e-5, rtol=1e-5), torch.float64: dict(atol=1e-12, rtol=1e-10)}


def fused(module, x, lengths, state):
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, final = module(packed, state)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out, final


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_replay_matches_fused_on_padded_batch(cell, layers, bidirectional, dtype):
    torch.manual_seed(layers * 10 + bidirectional)
    module = CLASSES[cell](5, 7, num_layers=layers, bidirectional=bidirectional, batch_first=True,
                           dropout=0.3 if layers > 1 else 0.0).to(dtype).eval()
    b, t, d = 4, 9, 2 if bidirectional else 1
    x = torch.randn(b, t, 5, dtype=dtype)
    lengths = torch.tensor([9, 6, 1, 4])
    h0 = torch.randn(layers * d, b, 7, dtype=dtype)
    c0 = torch.randn(layers * d, b, 7, dtype=dtype)
    state = (h0, c0) if cell == "lstm" else h0
    out, final = fused(module, x, lengths, state)
    rep = replay_rnn(module, x, lengths, (h0, c0 if cell == "lstm" else None))
    torch.testing.assert_close(rep.output, out, **TOL[dtype])
    if cell == "lstm":
        torch.testing.assert_close(rep.h_n, final[0], **TOL[dtype])
        torch.testing.assert_close(rep.c_n, final[1], **TOL[dtype])
    else:
        torch.testing.assert_close(rep.h_n, final, **TOL[dtype])
    assert len(rep.traces) == layers * d
    for trace in rep.traces:
        assert set(trace.gates) == set(GATE_NAMES[cell])
        top = (trace.layer == layers - 1)
        if top:  # the top layer's h trace is exactly the module output for its direction
            half = slice(trace.direction * 7, (trace.direction + 1) * 7)
            torch.testing.assert_close(trace.gates["h"], out[:, :, half], **TOL[dtype])


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_gate_ranges(cell):
    torch.manual_seed(0)
    module = CLASSES[cell](3, 6, batch_first=True, bidirectional=True)
    rep = replay_rnn(module, torch.randn(2, 8, 3) * 3)
    for trace in rep.traces:
        for name, value in trace.gates.items():
            if name in ("i", "f", "o", "r", "z"):
                assert value.min() >= 0 and value.max() <= 1, name
            if name in ("g", "n", "h"):
                assert value.min() >= -1 and value.max() <= 1, name


def test_replay_reads_the_same_parameters_not_copies():
    module = nn.LSTM(3, 4, batch_first=True).eval()
    x = torch.randn(1, 5, 3)
    before = replay_rnn(module, x).output
    with torch.no_grad():
        module.weight_hh_l0.mul_(0.5)
    after = replay_rnn(module, x).output
    torch.testing.assert_close(after, fused(module, x, torch.tensor([5]), None)[0])
    assert not torch.allclose(before, after)


def _model(cell, attention="additive", input_feeding=True, **kw):
    torch.manual_seed(3)
    cfg = ModelConfig(cell=cell, attention=attention, input_feeding=input_feeding, embedding_size=8,
                      hidden_size=6, src_vocab_size=13, tgt_vocab_size=11, dropout=0.1, **kw)
    return Seq2Seq(cfg).double().eval()


def _batch():
    src = torch.randint(4, 13, (3, 7))
    lengths = torch.tensor([7, 5, 2])
    for row, n in enumerate(lengths):
        src[row, n:] = 0
    return src, lengths, torch.randint(4, 11, (3, 6))


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("layers,bidirectional,residual", [(1, True, False), (2, False, True), (3, True, True)])
def test_model_traced_paths_equal_fused(cell, layers, bidirectional, residual):
    model = _model(cell, encoder_layers=layers, decoder_layers=layers, bidirectional=bidirectional,
                   residual=residual)
    src, lengths, tgt = _batch()
    fast, slow = model.encode(src, lengths), model.encode(src, lengths, trace=True)
    torch.testing.assert_close(slow.outputs, fast.outputs, **TOL[torch.float64])
    torch.testing.assert_close(slow.final_h, fast.final_h, **TOL[torch.float64])
    assert len(slow.traces) == layers * (2 if bidirectional else 1) and not fast.traces
    state_fast = state_slow = model.init_state(fast)
    for t in range(tgt.shape[1]):
        a = model.decode_step(tgt[:, t], state_fast, fast)
        b = model.decode_step(tgt[:, t], state_slow, fast, trace=True)
        torch.testing.assert_close(b.logits, a.logits, **TOL[torch.float64])
        torch.testing.assert_close(b.attention, a.attention, **TOL[torch.float64])
        assert len(b.traces) == layers
        state_fast, state_slow = a.state, b.state


@pytest.mark.parametrize("attention", ["none", "dot", "general", "additive"])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_whole_sequence_decoder_equals_step_loop(cell, attention):
    """Without input feeding the fused decoder runs over the whole target; it must equal the step loop."""
    model = _model(cell, attention=attention, input_feeding=False, decoder_layers=2)
    src, lengths, tgt = _batch()
    enc = model.encode(src, lengths)
    logits, attn = model.decode_teacher_forced(tgt, enc)
    state, steps = model.init_state(enc), []
    for t in range(tgt.shape[1]):
        out = model.decode_step(tgt[:, t], state, enc)
        state = out.state
        steps.append(out.logits)
    torch.testing.assert_close(logits, torch.stack(steps, 1), **TOL[torch.float64])
    if attention != "none":
        torch.testing.assert_close(attn.sum(-1), torch.ones_like(attn.sum(-1)))
        assert float(attn[2, :, 2:].abs().max()) == 0.0  # no weight on padding


@pytest.mark.parametrize("kind", ["dot", "general", "additive"])
def test_attention_equals_the_textbook_formulas(kind):
    """Attention weights and context against the lecture's formulas written out here (float64): dot
    e = s.h, general e = s^T W h, additive e = v^T tanh(W1 h + W2 s) (the model computes the last one with
    a sigmoid, 2 v.sigmoid(2z) = v.tanh(z) + sum(v), which the softmax cannot tell apart)."""
    from nmt_core.model import Attention

    torch.manual_seed(5)
    att = Attention(kind, 6, 6).double()
    query, values = torch.randn(3, 4, 6, dtype=torch.float64), torch.randn(3, 5, 6, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    with torch.no_grad():
        context, weights = att(query, att.keys(values), values, mask)
    for b in range(3):
        for t in range(4):
            s, n = query[b, t], int(mask[b].sum())
            with torch.no_grad():
                energies = _energies(att, kind, s, values[b, :n])
            expected = torch.softmax(torch.tensor(energies, dtype=torch.float64), dim=0)
            torch.testing.assert_close(weights[b, t, :n], expected, **TOL[torch.float64])
            assert float(weights[b, t, n:].abs().sum()) == 0.0
            torch.testing.assert_close(context[b, t], expected @ values[b, :n], **TOL[torch.float64])


def _energies(att, kind: str, s: torch.Tensor, values: torch.Tensor) -> list[float]:
    """e_i for one query s over the source vectors h_i, term by term."""
    if kind == "additive":
        return [float(att.v.weight[0] @ torch.tanh(att.key_proj.weight @ h + att.query_proj.weight @ s))
                for h in values]
    if kind == "general":
        return [float(s @ (att.key_proj.weight @ h)) for h in values]
    return [float(s @ h) for h in values]


def test_additive_attention_gradients_equal_the_tanh_form():
    """The in-place sigmoid form trains exactly like v^T tanh(W1 h + W2 s): same gradients for the
    query, the values and all three weight matrices (float64)."""
    from nmt_core.model import Attention

    torch.manual_seed(6)
    att = Attention("additive", 6, 6).double()
    query = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    values = torch.randn(2, 4, 6, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    probe = torch.randn(2, 3, 6, dtype=torch.float64)
    inputs = [query, values, *att.parameters()]

    context, _ = att(query, att.keys(values), values, mask)
    ours = torch.autograd.grad((context * probe).sum(), inputs)
    z = att.key_proj(values).unsqueeze(1) + att.query_proj(query).unsqueeze(2)  # (B, T, S, H)
    scores = att.v(torch.tanh(z)).squeeze(-1).masked_fill(~mask.unsqueeze(1), float("-inf"))
    reference = torch.autograd.grad(((torch.softmax(scores, -1) @ values) * probe).sum(), inputs)
    for a, b in zip(ours, reference):
        torch.testing.assert_close(a, b, **TOL[torch.float64])


# ------------------------------------------------------------------------------------------ one home for the equations
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_replay_computes_the_printed_equations_in_their_order(cell):
    """The Gates page prints equations.EQUATIONS[cell]; the replay cell returns its quantities in exactly that
    order, and each equation's left-hand side is the quantity it names."""
    from nmt_core import replay
    from nmt_core.equations import EQUATIONS, GATE_NAMES

    torch.manual_seed(0)
    module = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](3, 4)
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    params = (module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0, module.bias_hh_l0)
    if cell == "lstm":
        _, _, quantities = replay.lstm_cell(x, h, torch.randn(2, 4), *params)
    else:
        _, quantities = getattr(replay, f"{cell}_cell")(x, h, *params)
    assert tuple(quantities) == GATE_NAMES[cell] == tuple(e.quantity for e in EQUATIONS[cell])
    for equation in EQUATIONS[cell]:
        assert equation.latex.startswith(f"{equation.quantity}_t = ")


def test_lecture_weights_are_the_fused_preactivations():
    """W_f [h_{t-1}; x_t] + b_f is exactly the forget rows of PyTorch's W_ih x + b_ih + W_hh h + b_hh."""
    from nmt_core.replay import lecture_weights

    torch.manual_seed(1)
    lstm = torch.nn.LSTM(3, 4).double()
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    w = lecture_weights(lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0, "ifgo")
    fused = x @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + h @ lstm.weight_hh_l0.T + lstm.bias_hh_l0
    for k, gate in enumerate("ifgo"):
        lecture = torch.cat([h, x], dim=1) @ w[f"W_{gate}"].T + w[f"b_{gate}"]
        torch.testing.assert_close(lecture, fused[:, 4 * k: 4 * (k + 1)], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["dot", "general", "additive"])
def test_textbook_scores_give_the_fast_forms_weights(kind):
    from nmt_core.model import Attention

    torch.manual_seed(2)
    att = Attention(kind, 6, 6).double()
    query, values = torch.randn(2, 3, 6, dtype=torch.float64), torch.randn(2, 5, 6, dtype=torch.float64)
    mask = torch.ones(2, 5, dtype=torch.bool)
    mask[1, 3:] = False
    keys = att.keys(values)
    _, weights = att(query, keys, values, mask)
    scores = att.textbook_scores(query, keys).masked_fill(~mask.unsqueeze(1), float("-inf"))
    torch.testing.assert_close(torch.softmax(scores, dim=-1), weights, rtol=0, atol=1e-12)
