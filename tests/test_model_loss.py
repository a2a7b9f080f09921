"""Seq2Seq.loss (on CPU: the output layer on the real positions only) equals the loss over the padded grid,
in value and gradients."""

import torch
import torch.nn.functional as F

from nmt_core.batching import make_batch


def test_loss_on_real_positions_equals_the_padded_plain_path(tiny_model):
    model = tiny_model.double().train()
    model.dropout.p = 0.0
    batch = make_batch([[5, 6, 7], [8, 9]], [[5, 6], [7, 8, 9, 10]])
    loss, n = model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out, label_smoothing=0.1)
    grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
    logits = model(batch.src, batch.src_lengths, batch.tgt_in)  # (B, T, V) over the padded grid
    plain = F.cross_entropy(logits.flatten(0, 1), batch.tgt_out.flatten(), ignore_index=0, reduction="sum",
                            label_smoothing=0.1)
    expected = torch.autograd.grad(plain, list(model.parameters()), allow_unused=True)
    assert int(n) == 8
    torch.testing.assert_close(loss, plain)
    for a, e in zip(grads, expected):
        if e is None:
            assert a is None or not a.any()
        else:
            torch.testing.assert_close(a, e)

