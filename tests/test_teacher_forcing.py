"""The hand-written teacher-forcing loop (``nmt_core/teacher_forcing.py``) against the readable loop under
autograd (``Seq2Seq._teacher_forced_attentional(..., readable=True)``): the same attentional vectors and
attention weights, and the same gradient for every parameter, with dropout, padding, every attention kind and
truncated BPTT. Both draw the same dropout masks, so the comparison holds in training mode too."""

from __future__ import annotations

import pytest
import torch

from nmt_core import teacher_forcing
from nmt_core.batching import make_batch
from nmt_core.config import ModelConfig
from nmt_core.model import Seq2Seq

SRC = [[4, 5, 6, 7, 8, 9], [5, 6, 7], [9, 8]]  # different lengths: padding in both source and target
TGT = [[4, 5, 6, 7, 8], [9, 10], [11, 4, 5, 6]]
# on a GPU as well where there is one (bench/gpu_check.sh runs this file on a lent GPU)
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def model_for(attention: str, dropout: float = 0.3, **changes) -> Seq2Seq:
    torch.manual_seed(0)
    settings = {"cell": "lstm", "input_feeding": True, **changes}
    cfg = ModelConfig(embedding_size=5, hidden_size=6, attention=attention, dropout=dropout, bidirectional=True,
                      src_vocab_size=13, tgt_vocab_size=13, **settings)
    return Seq2Seq(cfg).double().train()


def both_paths(model: Seq2Seq, tbptt: int | None = None, use_attention: bool = True, device: str = "cpu"):
    """(attentional, attention, {parameter: gradient}) from the readable loop and from the hand-written one."""
    model.to(device)
    batch = make_batch(SRC, TGT).to(device)
    results = []
    for readable in (True, False):
        torch.manual_seed(1)  # the same dropout masks on both paths
        model.zero_grad(set_to_none=True)
        enc = model.encode(batch.src, batch.src_lengths)
        attentional, attention = model._teacher_forced_attentional(batch.tgt_in, enc, tbptt, readable=readable)
        loss = (model.out(attentional) ** 2).sum() * 0.1
        if use_attention:  # a loss that reads the attention weights too: their gradient must flow back
            weights = torch.linspace(0, 1, attention.shape[-1], dtype=attention.dtype, device=device)
            loss = loss + (attention * weights).sum()
        loss.backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        results.append((attentional.detach(), attention.detach(), grads))
    return results


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("attention", teacher_forcing.KINDS)
@pytest.mark.parametrize("tbptt", [None, 1, 2])
def test_the_hand_written_backward_pass_equals_autograd(attention, tbptt, device):
    model = model_for(attention)
    assert teacher_forcing.can_run(model)
    (att_r, attn_r, grads_r), (att_h, attn_h, grads_h) = both_paths(model, tbptt, device=device)
    torch.testing.assert_close(att_h, att_r, rtol=0, atol=1e-12)
    torch.testing.assert_close(attn_h, attn_r, rtol=0, atol=1e-12)
    assert set(grads_h) == set(grads_r)
    assert {"decoder.layers.0.weight_ih_l0", "encoder.layers.0.weight_hh_l0", "tgt_embed.weight"} <= set(grads_h)
    for name in grads_r:
        torch.testing.assert_close(grads_h[name], grads_r[name], rtol=1e-9, atol=1e-12, msg=name)


def test_an_unused_attention_output_needs_no_gradient():
    (_, _, grads_r), (_, _, grads_h) = both_paths(model_for("additive", dropout=0.0), use_attention=False)
    for name in grads_r:
        torch.testing.assert_close(grads_h[name], grads_r[name], rtol=1e-9, atol=1e-12, msg=name)


def test_the_training_loss_takes_the_hand_written_path_and_matches():
    model = model_for("additive")
    batch = make_batch(SRC, TGT)
    losses = []
    for readable in (True, False):
        original = teacher_forcing.can_run
        teacher_forcing.can_run = (lambda m: False) if readable else original
        try:
            torch.manual_seed(2)
            losses.append(model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out)[0])
        finally:
            teacher_forcing.can_run = original
    torch.testing.assert_close(losses[0], losses[1], rtol=0, atol=1e-10)
    assert losses[1].grad_fn is not None


@pytest.mark.parametrize("changes", [{"cell": "gru"}, {"decoder_layers": 2}, {"input_feeding": False},
                                     {"attention": "none"}])
def test_other_models_keep_the_readable_loop(changes):
    attention = changes.pop("attention", "additive")
    assert not teacher_forcing.can_run(model_for(attention, **changes))


def test_a_second_backward_pass_is_refused_with_a_clear_error():
    model = model_for("dot", dropout=0.0)
    batch = make_batch(SRC, TGT)
    enc = model.encode(batch.src, batch.src_lengths)
    attentional, _ = model._teacher_forced_attentional(batch.tgt_in, enc)
    loss = attentional.sum()
    loss.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()
