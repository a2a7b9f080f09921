"""Every viz builder returns an Altair chart whose spec carries data (built from tiny real results)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import pytest
import torch

from nmt_core import viz
from nmt_core.config import ModelConfig
from nmt_core.inspection import attention_matrix, gate_trace, gradient_flow, intervene, keep_only_source
from nmt_core.model import Seq2Seq

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
