"""The fused output layer + cross-entropy equals the plain F.linear + F.cross_entropy, value and gradients."""

import pytest
import torch
import torch.nn.functional as F

from nmt_core.fused_loss import linear_cross_entropy


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("chunk", [1, 7, 1000])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_equals_plain(smoothing, chunk, bias):
    torch.manual_seed(0)
    n, h, v = 23, 6, 11
    x = torch.randn(n, h, dtype=torch.float64, requires_grad=True)
    w = torch.randn(v, h, dtype=torch.float64, requires_grad=True)
    b = torch.randn(v, dtype=torch.float64, requires_grad=True) if bias else None
    y = torch.randint(0, v, (n,))
    scale = 0.37  # the caller's normalisation, applied in backward
    fused = linear_cross_entropy(x, w, b, y, smoothing, chunk=chunk)
    grads_fused = torch.autograd.grad(fused * scale, [t for t in (x, w, b) if t is not None])
    plain = F.cross_entropy(F.linear(x, w, b), y, reduction="sum", label_smoothing=smoothing)
    grads_plain = torch.autograd.grad(plain * scale, [t for t in (x, w, b) if t is not None])
    torch.testing.assert_close(fused, plain, atol=1e-12, rtol=1e-12)
    for a, e in zip(grads_fused, grads_plain):
        torch.testing.assert_close(a, e, atol=1e-12, rtol=1e-10)


def test_model_loss_on_cpu_equals_the_padded_plain_path(tiny_model):
    """Seq2Seq.loss (real positions, fused) against logits over the padded grid + ignore_index."""
    from nmt_core.batching import make_batch

    model = tiny_model.double().train()
    model.dropout.p = 0.0
    batch = make_batch([[5, 6, 7], [8, 9]], [[5, 6], [7, 8, 9, 10]])
    loss, n = model.loss(batch.src, batch.src_lengths, batch.tgt_in, batch.tgt_out, label_smoothing=0.1)
    grads = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
    logits = model(batch.src, batch.src_lengths, batch.tgt_in)
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
