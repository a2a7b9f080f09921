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



def test_summed_cross_entropy_matches_torch_in_value_and_gradient():
    """The in-place backward of losses.summed_cross_entropy against F.cross_entropy (float64), with
    ignored rows, label smoothing and a non-unit upstream gradient (the trainer divides by tokens)."""
    import pytest

    from nmt_core.losses import summed_cross_entropy

    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(7, 11, dtype=torch.float64, generator=gen) * 3
    target = torch.tensor([3, 0, 10, 0, 1, 5, 2])  # 0 = ignored (pad)
    for smoothing in (0.0, 0.1, 0.5):
        for ignore in (0, -100):
            ours_in, ref_in = logits.clone().requires_grad_(), logits.clone().requires_grad_()
            ours = summed_cross_entropy(ours_in, target, ignore_index=ignore, label_smoothing=smoothing)
            ref = F.cross_entropy(ref_in, target, ignore_index=ignore, reduction="sum", label_smoothing=smoothing)
            torch.testing.assert_close(ours, ref)
            (ours / 3.5).backward()
            (ref / 3.5).backward()
            torch.testing.assert_close(ours_in.grad, ref_in.grad)
            if ignore == 0:
                assert not ours_in.grad[target == 0].any()  # ignored rows get no gradient
    again = summed_cross_entropy(logits.clone().requires_grad_(), target)
    again.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        again.backward()  # its buffer became the gradient: refuse rather than return a wrong one
    with pytest.raises(ValueError):
        summed_cross_entropy(logits, target[:3])
    with pytest.raises(ValueError):
        summed_cross_entropy(logits, target, label_smoothing=1.0)
