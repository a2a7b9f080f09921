"""The cell diagram's numbers: the replay's own values, added up the way the equations say, against the fused kernel.

The identities c_t = f·c_{t-1} + i·g and h_t = z·h_{t-1} + (1 − z)·n only hold when "previous" is the right step
(t + 1 for a backward encoder, the bridge's state before the decoder's first step), so they test that logic too.
GateResult stores float32 (what the charts show), so sums agree to float32 precision (2e-6); a wrong "previous"
step misses by the size of the values themselves.
"""

from __future__ import annotations

import math

import pytest
import torch

from nmt_core.config import ModelConfig
from nmt_core.inspection import gate_trace
from nmt_core.inspection.cell import cell_step, cell_steps, liveliest_unit, steps_frame
from nmt_core.inspection.sentence import prepare, source_tensors
from nmt_core.model import Seq2Seq

SRC, TGT = "the red car is fast", "el coche rojo es rápido"


def make_model(tok, cell: str, **kw) -> Seq2Seq:
    torch.manual_seed(3)
    cfg = ModelConfig(cell=cell, embedding_size=6, hidden_size=5, dropout=0.0, src_vocab_size=tok.src.vocab_size,
                      tgt_vocab_size=tok.tgt.vocab_size, **kw)
    return Seq2Seq(cfg).double().eval()


def every_cell(result):
    for side, layer, direction in result.layers:
        steps, hidden = result.get(side, "h", layer, direction).shape
        for unit in range(hidden):
            yield from cell_steps(result, side, unit, layer, direction)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_lstm_steps_add_up_to_the_recorded_cell_and_hidden_state(tiny_tokenizers, bidirectional):
    model = make_model(tiny_tokenizers, "lstm", encoder_layers=2, decoder_layers=2, bidirectional=bidirectional)
    result = gate_trace(model, tiny_tokenizers, SRC, TGT)
    checked = 0
    for step in every_cell(result):
        v, p = step.values, step.products
        assert v["c"] == pytest.approx(p["f*c_prev"] + p["i*g"], abs=2e-6)
        assert v["h"] == pytest.approx(v["o"] * p["tanh_c"], abs=2e-6)
        assert p["f*c_prev"] == pytest.approx(v["f"] * step.previous["c"], abs=2e-6)
        checked += 1
    assert checked == sum(5 * len(result.labels(s)) for s, _, _ in result.layers)


def test_gru_steps_add_up_to_the_recorded_hidden_state(tiny_tokenizers):
    model = make_model(tiny_tokenizers, "gru", bidirectional=True)
    result = gate_trace(model, tiny_tokenizers, SRC, TGT)
    for step in every_cell(result):
        assert step.values["h"] == pytest.approx(step.products["z*h_prev"] + step.products["(1-z)*n"], abs=2e-6)


def test_rnn_step_is_tanh_of_its_inputs_and_starts_from_zero(tiny_tokenizers):
    model = make_model(tiny_tokenizers, "rnn")
    result = gate_trace(model, tiny_tokenizers, SRC, TGT)
    first = cell_step(result, "encoder", 0, 2)
    assert first.first and first.previous == {"h": 0.0} and first.products == {}
    assert -1 < first.values["h"] < 1


def test_encoder_values_equal_the_fused_kernel(tiny_tokenizers):
    model = make_model(tiny_tokenizers, "lstm", bidirectional=True)
    result = gate_trace(model, tiny_tokenizers, SRC, TGT)
    prep = prepare(model, tiny_tokenizers, SRC, TGT)
    with torch.no_grad():
        fused = model.encode(*source_tensors(model, prep.src_ids)).outputs[0]  # (S, 2H), fused nn.LSTM
    for direction in (0, 1):
        for t in range(len(prep.src_ids)):
            step = cell_step(result, "encoder", t, 4, direction=direction)
            assert step.values["h"] == pytest.approx(float(fused[t, direction * 5 + 4]), abs=2e-6)


def test_previous_state_follows_the_reading_direction(tiny_tokenizers):
    model = make_model(tiny_tokenizers, "lstm", bidirectional=True)
    result = gate_trace(model, tiny_tokenizers, SRC, TGT)
    last = len(result.src_pieces) - 1
    backward = cell_steps(result, "encoder", 1, direction=1)
    assert [s.t for s in backward] == list(range(last, -1, -1)) and backward[0].first
    assert backward[1].previous["h"] == result.get("encoder", "h", 0, 1)[last, 1]
    decoder_first = cell_step(result, "decoder", 0, 1)
    assert decoder_first.first and decoder_first.reads == "<s>"
    assert decoder_first.previous["c"] == pytest.approx(float(result.decoder_initial[0]["c"][1]))
    assert cell_step(result, "decoder", 2, 1).reads == result.tgt_pieces[1]


def test_bounds_and_table(tiny_tokenizers):
    result = gate_trace(make_model(tiny_tokenizers, "lstm"), tiny_tokenizers, SRC, TGT)
    with pytest.raises(ValueError, match="unit 5 is outside"):
        cell_step(result, "encoder", 0, 5)
    with pytest.raises(ValueError, match="step 99 is outside"):
        cell_step(result, "decoder", 99, 0)
    frame = steps_frame(cell_steps(result, "decoder", 0))
    assert len(frame) == len(result.tgt_pieces) and {"f", "c_prev", "i*g", "tanh_c"} <= set(frame.columns)
    assert 0 <= liveliest_unit(result, "encoder") < 5
    assert all(math.isfinite(x) for x in frame.select_dtypes("number").to_numpy().ravel())


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_the_diagram_is_valid_svg_with_every_number_and_equation(tiny_tokenizers, cell):
    import xml.etree.ElementTree as ET

    from nmt_core import viz
    from nmt_core.viz.cell import equations

    result = gate_trace(make_model(tiny_tokenizers, cell), tiny_tokenizers, SRC, TGT)
    step = cell_step(result, "decoder", 1, 2)
    root = ET.fromstring(viz.cell_svg(step))
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert all(line in texts for line in equations(step))
    assert f"h(t) = {step.values['h']:.3f}" in texts
    player = viz.cell_player(cell_steps(result, "decoder", 2), start=99)  # start is clamped to the last step
    assert player.count('class="frame"') == len(result.tgt_pieces) and f"let k={len(result.tgt_pieces) - 1}," in player
