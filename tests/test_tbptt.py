"""Truncated BPTT: the decoder's window option in training (``train.tbptt``) and the tbptt lab. The gradient must
stop exactly at a window edge, while the forward pass stays the same."""

from __future__ import annotations

import pytest
import torch

from nmt_core.config import ExperimentConfig, ModelConfig
from nmt_core.labs import run_lab
from nmt_core.model import Seq2Seq
from nmt_core.train import Trainer


def tiny(input_feeding: bool) -> Seq2Seq:
    torch.manual_seed(0)
    cfg = ModelConfig(cell="lstm", embedding_size=6, hidden_size=6, attention="additive", dropout=0.0,
                      input_feeding=input_feeding, src_vocab_size=9, tgt_vocab_size=9)
    return Seq2Seq(cfg).double().eval()


@pytest.mark.parametrize("input_feeding", [True, False])
@pytest.mark.parametrize("window", [1, 2, 3])
def test_the_gradient_stops_at_the_window_edge(input_feeding, window):
    model = tiny(input_feeding)
    src, lengths = torch.tensor([[4, 5, 6, 3]]), torch.tensor([4])
    tgt_in = torch.tensor([[2, 4, 5, 6, 7, 8]])
    enc = model.encode(src, lengths)
    full, _ = model._teacher_forced_attentional(tgt_in, enc)
    cut, _ = model._teacher_forced_attentional(tgt_in, enc, tbptt=window)
    torch.testing.assert_close(full, cut)  # the forward pass does not change
    last = len(tgt_in[0]) - 1
    first_in_window = last - last % window
    for t in range(last + 1):  # how much the last step's output depends, by gradient, on the input token at t
        enc = model.encode(src, lengths)
        x = model.tgt_embed(tgt_in).detach().requires_grad_(True)
        out = _attentional_from(model, x, enc, window)
        (grad,) = torch.autograd.grad(out[0, last].sum(), x)
        reached = bool(grad[0, t].abs().max() > 0)
        assert reached == (t >= first_in_window), (t, first_in_window)


def _attentional_from(model: Seq2Seq, x: torch.Tensor, enc, window: int) -> torch.Tensor:
    """``_teacher_forced_attentional`` on given target embeddings (so the test can differentiate by them)."""
    original = model.tgt_embed.forward
    model.tgt_embed.forward = lambda ids: x
    try:
        return model._teacher_forced_attentional(torch.zeros(1, x.shape[1], dtype=torch.long), enc, tbptt=window)[0]
    finally:
        model.tgt_embed.forward = original


def test_training_with_tbptt_runs_and_logs(tmp_path):
    cfg = ExperimentConfig.from_dict({
        "data": {"task": "toy-en-es", "size": 200, "dev_size": 10, "test_size": 10},
        "tokenizer": {"type": "word"}, "model": {"embedding_size": 8, "hidden_size": 8},
        "train": {"batch_size": 16, "max_steps": 6, "eval_every": 6, "log_every": 3, "tbptt": 2, "threads": 1,
                  "dev_bleu_sentences": 5}})
    result = Trainer(cfg, tmp_path / "run", progress_bar=False).train()
    assert result.state == "finished" and result.step == 6


def test_the_tbptt_lab_writes_its_tables(tmp_path):
    result = run_lab("tbptt", budget="tiny", out_dir=tmp_path)
    acc, reach, speed = result.tables["accuracy"], result.tables["gradient"], result.tables["speed"]
    assert set(acc.window) == {2, 8} and set(acc.lag) == {1, 4} and acc.accuracy.between(0, 1).all()
    length = result.info["budget_settings"]["length"]
    for (cell, window), part in reach.groupby(["cell", "window"]):
        span = (length - 1) % window  # the last step's window reaches this many steps back
        assert (part[part.j > span].grad_norm == 0).all() and (part[part.j <= span].grad_norm > 0).all(), (cell, window)
    assert {"seconds_per_sequence", "ms_per_update"} <= set(speed.columns)
    assert (tmp_path / "tbptt_accuracy.csv").exists()
