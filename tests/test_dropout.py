"""The random-bit dropout (``nmt_core/dropout.py``) against the definition of dropout: each element dropped
independently with probability p, the rest scaled by 1 / (1 - p), the gradient the scaled mask."""

from __future__ import annotations

import pytest
import torch

from nmt_core.dropout import Dropout, random_bits_dropout
from nmt_core.recurrent import RecurrentStack


@pytest.mark.parametrize("p", [0.05, 0.2, 0.5, 0.9])
def test_drop_rate_and_independence_in_both_halves_of_a_draw(p):
    """Elements 2k and 2k+1 come from one 64-bit draw: each half must be dropped at rate p, and the two
    together at rate p**2 (a half reused, or a biased top bit, fails here). 6 sigma bounds, fixed seed."""
    torch.manual_seed(0)
    n = 1_000_000
    dropped = random_bits_dropout(torch.ones(2 * n), p) == 0
    even, odd = dropped[0::2].double(), dropped[1::2].double()
    sigma = (p * (1 - p) / n) ** 0.5
    assert abs(even.mean().item() - p) < 6 * sigma
    assert abs(odd.mean().item() - p) < 6 * sigma
    both = (even * odd).mean().item()
    assert abs(both - p * p) < 6 * (p * p * (1 - p * p) / n) ** 0.5


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kept_values_are_scaled_and_the_gradient_is_the_scaled_mask(dtype):
    torch.manual_seed(1)
    p = 0.3
    x = (torch.rand(3, 5, 7, dtype=dtype) + 1.0).requires_grad_()  # odd size: the last draw is half used
    y = random_bits_dropout(x, p)
    kept = y != 0
    assert 0 < kept.sum() < x.numel()
    torch.testing.assert_close(y[kept], x.detach()[kept] / (1 - p))
    upstream = torch.randn_like(x)
    y.backward(upstream)
    torch.testing.assert_close(x.grad, upstream * kept / (1 - p))
    assert y.dtype == dtype


def test_module_follows_nn_dropout_outside_the_cpu_training_path():
    x = torch.randn(4, 6)
    module = Dropout(0.4)
    assert module.eval()(x) is x
    assert Dropout(0.0).train()(x) is x
    assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        Dropout(1.5)


def test_seeded_masks_repeat_and_other_seeds_differ():
    module = Dropout(0.5).train()
    x = torch.ones(1000)
    torch.manual_seed(7)
    first = module(x)
    torch.manual_seed(7)
    assert torch.equal(module(x), first)
    torch.manual_seed(8)
    assert not torch.equal(module(x), first)


def test_the_model_and_its_stacks_use_it(tiny_model):
    model = tiny_model
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout)]
    assert dropouts == []
    assert isinstance(model.dropout, Dropout)
    assert all(isinstance(m.dropout, Dropout) for m in model.modules() if isinstance(m, RecurrentStack))
