"""Every viz builder returns an Altair chart whose spec carries data (built from tiny real results)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import pytest
import torch

from nmt_core import viz
from nmt_core.batching import make_batch
from nmt_core.beam_trace import NODE_STATES, BeamTrace
from nmt_core.config import ModelConfig
from nmt_core.inspection import attention_matrix, gate_trace, gradient_flow, intervene, keep_only_source
from nmt_core.model import Seq2Seq
from nmt_core.search import beam_search

SRC, TGT = "the red car is fast", "el coche rojo es rápido"


@pytest.fixture(scope="module")
def results(tiny_tokenizers):
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    tok = tiny_tokenizers
    model = Seq2Seq(ModelConfig(embedding_size=6, hidden_size=5, dropout=0.0, src_vocab_size=tok.src.vocab_size,
                                tgt_vocab_size=tok.tgt.vocab_size)).eval()
    out = {"attention": attention_matrix(model, tok, SRC, TGT), "gates": gate_trace(model, tok, SRC, TGT),
           "gradients": gradient_flow(model, tok, SRC, TGT),
           "intervention": intervene(model, tok, SRC, keep_only_source(1, 6))}
    torch.set_num_threads(before)
    return out


def _rows(chart) -> int:
    """Total data rows in a chart spec (top-level and per-layer/concat datasets)."""
    spec = chart.to_dict()
    return sum(len(v) for v in spec.get("datasets", {}).values())


def test_inspection_figures(results):
    a, g, gr = results["attention"], results["gates"], results["gradients"]
    charts = [
        viz.attention_heatmap(a), viz.attention_heatmap(a, gold={(0, 0), (1, 2), (2, 1)}),
        viz.salience_heatmap(gr), viz.grad_norm_chart(gr), viz.grad_norm_chart(gr, log_y=False),
        viz.gate_heatmap(g, "encoder", "f"), viz.gate_heatmap(g, "encoder", "c", direction=1),
        viz.gate_heatmap(g, "decoder", "h"), viz.unit_lines(g, "decoder", 2),
        viz.unit_lines(g, "encoder", 0, ["i", "f"]),
        viz.saturation_histogram(g), viz.intervention_chart(results["intervention"]),
    ]
    for chart in charts:
        assert isinstance(chart, alt.TopLevelMixin) and _rows(chart) > 0


def test_gold_overlay_marks_the_pieces_of_gold_words(results):
    spec = viz.attention_heatmap(results["attention"], gold={(1, 2)}).to_dict()
    gold_rows = [rows for rows in spec["datasets"].values() if rows and "gold" in rows[0]]
    assert gold_rows == [[{"col": "1:red", "row": "2:rojo", "gold": "red ↔ rojo"}]]


def _lab_tables():
    """Frames shaped like the labs' tables (the labs themselves run in tests/test_labs.py)."""
    variants, lags = ["rnn", "lstm (open forget gate)"], [5, 20]
    accuracy = pd.DataFrame([{"variant": v, "lag": lag, "accuracy": 0.5, "chance": 0.125, "steps": 10,
                              "solved_at": None} for v in variants for lag in lags])
    gradients = pd.DataFrame([{"variant": v, "lag": lag, "stage": st, "k": k, "grad_norm": 0.5 ** k,
                               "relative": 0.5 ** k} for v in variants for lag in lags for st in ("init", "trained")
                              for k in range(lag + 1)])
    curves = pd.DataFrame([{"variant": v, "kind": "train", "step": s, "loss": 5.0 / s, "ppl": np.exp(5.0 / s),
                            "grad_norm": 10.0 * s, "grad_norm_max": 20.0 * s} for v in ("no clipping", "clip 1.0")
                           for s in (5, 10)] + [{"variant": "clip 1.0", "kind": "dev", "step": 10, "dev_loss": 0.9,
                                                 "bleu": 12.0, "chrf": 30.0}])
    return accuracy, gradients, curves


def test_lab_and_training_figures():
    accuracy, gradients, curves = _lab_tables()
    charts = [
        viz.vanishing_accuracy_chart(accuracy), viz.vanishing_gradient_chart(gradients),
        viz.vanishing_gradient_chart(gradients, lag=5, relative=False),
        viz.clipping_chart(curves), viz.training_curves(curves[curves.variant == "clip 1.0"]),
    ]
    bottleneck = [{"variant": v, "bucket": b, "lo": lo, "hi": hi, "sentences": 3, "bleu": 10.0, "chrf": 30.0}
                  for v in ("attention", "no attention") for b, lo, hi in (("1-5", 1, 5), ("6-10", 6, 10))]
    charts.append(viz.bottleneck_chart(pd.DataFrame(bottleneck)))
    charts.append(viz.depth_chart(pd.DataFrame([{"variant": "1 layer", "bidirectional": True, "params": 10, "steps": 4,
                                                 "seconds": 1.0, "dev_loss": 5.0, "test_bleu": 3.0}])))
    charts.append(viz.greedy_vs_beam_chart(pd.DataFrame([
        {"src": "a", "greedy": "x", "beam": "y", "greedy_logprob": -3.0, "beam_logprob": -2.0, "first_diff_step": 0,
         "greedy_word": "x", "beam_word": "y", "greedy_bleu": 0.0, "beam_bleu": 100.0}])))
    for chart in charts:
        assert isinstance(chart, alt.TopLevelMixin) and _rows(chart) > 0
    assert _rows(viz.training_curves(pd.DataFrame())) == 0  # an empty run gives empty panels, not an error


# --------------------------------------------------------------------------------------- token labels
def test_axis_labels_are_unique_readable_and_keep_every_position():
    pieces = ["▁the", "▁red", "car", "▁the", "▁", "", "New▁York", "</s>"]
    assert viz.axis_labels(pieces) == ["0:the", "1:red", "2:car", "3:the", "4:▁", "5:▁", "6:New York", "7:</s>"]
    assert len(set(viz.axis_labels(pieces))) == len(pieces)  # the repeated "the" keeps its own row
    readable = [viz.readable_piece(p) for p in pieces]
    assert [viz.readable_piece(p) for p in readable] == readable  # already readable text is left alone
    assert viz.axis_labels([]) == []


def test_matrix_heatmap_labels_raw_pieces_and_never_drops_them():
    spec = viz.matrix_heatmap(np.array([[0.9, 0.1], [0.2, 0.8]]), ["▁the", "▁the"], ["▁el", "▁"],
                              gold={(0, 0), (1, 1)}).to_dict()
    rows = [r for rows in spec["datasets"].values() for r in rows]
    assert {r["col"] for r in rows} == {"0:the", "1:the"} and {r["row"] for r in rows} == {"0:el", "1:▁"}
    assert {r["gold"] for r in rows if "gold" in r} == {"the ↔ el", "the ↔ ▁"}
    axes = [layer["encoding"][ch]["axis"] for layer in spec["layer"] for ch in ("x", "y")]
    assert all(axis["labelOverlap"] is False for axis in axes)


# --------------------------------------------------------------------------------------- the beam tree
def _hand_trace() -> BeamTrace:
    """k = 2 by hand. Step 1 keeps a (1) and b (2); step 2 keeps a·a (3) and b·a (5), and a·</s> (4) finishes;
    step 3 finishes a·a·</s> (6) and keeps a·a·b (7), so b's branch dies. Returned: 6 (best), then 4.

        0 ─┬─ 1 ─┬─ 3 ─┬─ 6 ■   best: 0 1 3 6
           │     │     └─ 7
           │     └─ 4 ■         2nd: 0 1 4
           └─ 2 ─── 5           b's branch, pruned at step 3
    """
    step = np.array([0, 1, 1, 2, 2, 2, 3, 3])
    logprob = np.array([0.0, -0.5, -1.0, -0.9, -1.2, -1.1, -1.0, -1.5])
    return BeamTrace(settings={"beam_size": 2, "nbest": 2}, source=(4, 3), step=step,
                     beam=np.array([-1, 0, 1, 0, 0, 1, 0, 1]), parent=np.array([-1, 0, 0, 1, 1, 2, 3, 3]),
                     token=np.array([2, 4, 5, 4, 3, 4, 3, 5]), token_logprob=np.r_[0.0, np.diff(logprob)],
                     logprob=logprob, score=logprob,
                     finished=np.array([False, False, False, False, True, False, True, False]),
                     hypotheses=(6, 4), stop_step=3, stop_reason="bound")


def test_trace_node_states_by_hand():
    trace = _hand_trace()
    states = {s: list(trace.node_states(s)) for s in range(4)}
    assert states[0] == ["alive"] + ["later"] * 7
    assert states[1] == ["kept", "alive", "alive"] + ["later"] * 5
    assert states[2] == ["kept", "kept", "kept", "alive", "finished", "alive", "later", "later"]
    assert states[3] == ["kept", "kept", "pruned", "kept", "finished", "pruned", "finished", "alive"]
    assert set().union(*map(set, states.values())) <= set(NODE_STATES)


def test_trace_paths_to_the_returned_hypotheses():
    trace = _hand_trace()
    assert trace.hypothesis_path(1) == [0, 1, 3, 6] and trace.hypothesis_path(2) == [0, 1, 4]
    assert list(trace.nbest_rank_through()) == [1, 1, 0, 1, 2, 0, 1, 0]  # the best rank wins on a shared prefix
    with pytest.raises(ValueError):
        trace.hypothesis_path(3)


def test_beam_tree_draws_what_the_trace_says():
    trace = _hand_trace()
    nodes, edges = viz.beam_tree_frames(trace)
    assert list(nodes["status"]) == ["best", "best", "pruned", "best", "n-best", "pruned", "best", "in beam"]
    assert list(nodes["nbest_rank"]) == [0, 0, 0, 0, 2, 0, 1, 0] and len(edges) == 7
    nodes, edges = viz.beam_tree_frames(trace, upto_step=2)  # mid-search: no path highlighted yet
    assert list(nodes["status"]) == ["kept", "kept", "kept", "in beam", "finished", "in beam"] and len(edges) == 5
    assert _rows(viz.beam_tree_chart(trace, 1)) > 0


def test_node_states_are_consistent_on_a_real_search():
    torch.manual_seed(1)
    model = Seq2Seq(ModelConfig(embedding_size=8, hidden_size=8, dropout=0.0, src_vocab_size=7,
                                tgt_vocab_size=7)).eval()
    batch = make_batch([[4, 5, 6, 4]])
    with torch.no_grad():
        trace = beam_search(model, batch.src, batch.src_lengths, beam_size=3, nbest=2)[0].trace
    chart_name = {"alive": "in beam", "kept": "kept", "finished": "finished", "pruned": "pruned"}
    seen = set()
    for s in range(int(trace.step.max()) + 1):
        states = trace.node_states(s)
        seen |= set(states)
        assert ((states == "later") == (trace.step > s)).all()
        assert ((states == "alive") == ((trace.step == s) & ~trace.finished)).all()
        assert (states == "alive").sum() <= 3
        for node in np.flatnonzero(np.isin(states, ["kept", "pruned"])):
            lives_on = np.isin(states[trace.parent == node], ["alive", "kept", "finished"]).any()
            assert lives_on == (states[node] == "kept")
        if s < trace.step.max():
            drawn = viz.beam_tree_frames(trace, s)[0]["status"]
            assert list(drawn) == [chart_name[x] for x in states[trace.step <= s]]
    assert {"alive", "kept", "finished", "pruned"} <= seen
