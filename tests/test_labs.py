"""Labs at their tiny budget: the tables exist and say what they should; lab gradients match a reference."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from nmt_core.cli import main as cli_main
from nmt_core.labs import LABS, run_lab
from nmt_core.labs.bottleneck import bleu_by_length
from nmt_core.labs.vanishing import RecallClassifier, chrono_init, gradient_profile


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------------------- vanishing
def _manual_unroll(model: RecallClassifier, x: torch.Tensor, y: torch.Tensor, perturb=None):
    """An LSTM written out by hand from the module's weights (independent of replay.py). Returns the
    summed loss and the list of h_t; ``perturb=(t, delta)`` adds delta to h_t inside the recurrence."""
    lstm = model.lstm if hasattr(model, "lstm") else model.rnn
    w_ih, w_hh, b = lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0 + lstm.bias_hh_l0
    emb = model.embed(x)  # (B, T, E)
    h = c = emb.new_zeros(x.shape[0], lstm.hidden_size)
    hs = []
    for t in range(x.shape[1]):
        z = emb[:, t] @ w_ih.T + h @ w_hh.T + b
        i, f, g, o = z.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        if perturb is not None and perturb[0] == t:
            h = h + perturb[1]
        hs.append(h)
    return torch.nn.functional.cross_entropy(model.readout(h), y, reduction="sum"), hs


def test_lab_gradient_norms_equal_a_hand_unrolled_lstm_and_finite_differences():
    torch.manual_seed(0)
    model = RecallClassifier("lstm", alphabet=5, embedding=4, hidden=3).double()
    x, y = torch.randint(0, 5, (2, 6)), torch.tensor([1, 3])
    profile = gradient_profile(model, x, y)  # (T,), index k = steps before the end
    loss, hs = _manual_unroll(model, x, y)
    grads = torch.autograd.grad(loss, hs)
    manual = np.array([float(g.norm(dim=-1).mean()) for g in grads])[::-1]
    np.testing.assert_allclose(profile, manual, rtol=1e-10)
    # finite differences on one sequence (batch of one), perturbing h_t inside the loop
    x1, y1 = x[:1], y[:1]
    one = gradient_profile(model, x1, y1)
    eps = 1e-6
    for t in range(x.shape[1]):
        fd = []
        for unit in range(3):
            delta = torch.zeros(1, 3, dtype=torch.float64)
            delta[0, unit] = eps
            with torch.no_grad():
                up, _ = _manual_unroll(model, x1, y1, (t, delta))
                down, _ = _manual_unroll(model, x1, y1, (t, -delta))
            fd.append(float(up - down) / (2 * eps))
        assert one[x.shape[1] - 1 - t] == pytest.approx(np.linalg.norm(fd), rel=1e-6)


def test_chrono_init_opens_the_forget_gate():
    model = RecallClassifier("lstm", 8, 4, 16)
    chrono_init(model.rnn, 51, torch.Generator().manual_seed(0))
    h, rnn = 16, model.rnn
    forget, inp = rnn.bias_ih_l0[h:2 * h].detach(), rnn.bias_ih_l0[:h].detach()
    assert forget.min() >= 0 and forget.max() <= np.log(50) + 1e-6
    np.testing.assert_allclose(inp.numpy(), -forget.numpy())
    assert float(rnn.bias_hh_l0[:2 * h].detach().abs().max()) == 0.0


@pytest.mark.slow
def test_vanishing_lab_tiny_via_cli(tmp_path):
    assert cli_main(["lab", "vanishing", "--budget", "tiny", "--out", str(tmp_path)]) == 0
    acc = pd.read_csv(tmp_path / "vanishing_accuracy.csv")
    grads = pd.read_csv(tmp_path / "vanishing_gradients.csv")
    assert set(acc.variant) == {"rnn", "gru", "lstm", "lstm (open forget gate)"} and set(acc.lag) == {3, 6}
    assert acc.accuracy.between(0, 1).all()
    assert len(grads) == 4 * 2 * (4 + 7)  # variants x stages x (lag + 1) steps, summed over lags
    assert (grads.grad_norm >= 0).all() and set(grads.stage) == {"init", "trained"}
    assert json.loads((tmp_path / "vanishing_info.json").read_text())["budget"] == "tiny"


# --------------------------------------------------------------------------------------- seq2seq labs
def test_bleu_by_length_buckets():
    src = ["a b", "a b c d e f", "a " * 30]
    table = bleu_by_length(src, ["x y", "p q r s", "z"], ["x y", "nope", "z"])
    assert list(table.bucket) == ["1-5", "6-10", "21+"] and list(table.sentences) == [1, 1, 1]
    assert table.bleu.iloc[1] == 0.0


@pytest.mark.slow
def test_bottleneck_lab_tiny(tmp_path):
    result = run_lab("bottleneck", budget="tiny", out_dir=tmp_path)
    table = result.to_frame()
    assert set(table.variant) == {"attention", "no attention"}
    assert {"bucket", "sentences", "bleu", "chrf"} <= set(table.columns)
    assert set(result.tables["models"].attention) == {"additive", "none"}
    assert (tmp_path / "bottleneck_bleu_by_length.csv").exists() and (tmp_path / "runs" / "bottleneck").is_dir()


@pytest.mark.slow
def test_clipping_lab_tiny_shows_the_nan_guard():
    result = run_lab("clipping", budget="tiny")
    summary = result.tables["summary"].set_index("variant")
    assert summary.loc["no clipping", "state"] == "finished" and np.isnan(summary.loc["no clipping", "clip_norm"])
    sabotaged = summary.loc["clip 1.0 + simulated overflow"]
    assert sabotaged.state == "failed" and "non-finite" in sabotaged.message
    assert sabotaged.checkpoint_step < sabotaged.steps  # the last good checkpoint predates the overflow
    assert {"variant", "step", "loss", "grad_norm"} <= set(result.tables["curves"].columns)


@pytest.mark.slow
def test_depth_lab_tiny():
    models = run_lab("depth", budget="tiny").to_frame()
    assert len(models) == 4 and set(models.layers) == {1, 2} and set(models.bidirectional) == {True, False}
    assert (models.steps == 4).all()
    by = models.set_index("variant").params
    assert by["2 layers, bidirectional"] > by["1 layer, unidirectional"]


@pytest.mark.slow
def test_greedy_vs_beam_lab_tiny():
    result = run_lab("greedy-vs-beam", budget="tiny")
    sentences, wins = result.tables["sentences"], result.tables["wins"]
    assert len(sentences) == 20 and result.tables["summary"].sentences.iloc[0] == 20
    assert (wins.beam_logprob > wins.greedy_logprob).all()
    differ = sentences[sentences.differs & sentences.greedy_word_logprob.notna() & sentences.beam_word_logprob.notna()]
    # at the first differing step both share the prefix, and greedy took the locally most probable word
    assert (differ.greedy_word_logprob >= differ.beam_word_logprob - 1e-5).all()


def test_unknown_lab_and_budget():
    with pytest.raises(ValueError, match="unknown lab"):
        run_lab("nope")
    with pytest.raises(ValueError, match="unknown budget"):
        run_lab("depth", budget="huge")
    assert set(LABS) == {"vanishing", "bottleneck", "clipping", "depth", "greedy-vs-beam", "tbptt",
                         "bottleneck-en-de", "greedy-vs-beam-en-de"}
