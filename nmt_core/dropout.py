"""Dropout whose CPU masks cost a second thread nothing.

Why not ``nn.Dropout`` on CPU: its mask comes from ``bernoulli_``, which draws one element at a time from the
generator, about 13 ns per element on this project's CPU, and gains nothing from a second intra-op thread.
In a 2-thread training step of the small configuration that was 3.8% of the time, spent on one core while
the other waited (issue 17, item 6; docs/benchmarks.md, "The hot path"). Here every 64-bit draw of the same
generator gives two elements: each 32-bit half is compared with ``p`` scaled to 2**32, so an element is
dropped with probability ``p`` rounded to a multiple of 2**-32. The threshold and the product are ordinary
elementwise operations that use every thread.

Other devices keep ``F.dropout`` (fused on CUDA). Masks are drawn from torch's default generator, so
``torch.manual_seed`` makes them reproducible, but a seed gives other masks than ``nn.Dropout`` would.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_HALF_RANGE = 2**31  # a signed 32-bit half of a draw is uniform on [-2**31, 2**31)


def random_bits_dropout(x: Tensor, p: float) -> Tensor:
    """``x`` with each element zeroed with probability ``p`` (rounded to 2**-32) and the rest scaled by
    1 / (1 - p), as in training-mode dropout. The mask is a constant of the graph, so autograd gives the
    same gradient as ``F.dropout``: the upstream gradient times the scaled mask."""
    n = x.numel()
    draws = torch.empty((n + 1) // 2, dtype=torch.int64, device=x.device).random_(-(2**63), None)
    halves = draws.view(torch.int32)[:n].view(x.shape)
    threshold = round(p * 2**32) - _HALF_RANGE  # P(half >= threshold) = 1 - p
    keep = (halves >= threshold).to(x.dtype).mul_(1.0 / (1.0 - p))
    return x * keep


class Dropout(nn.Module):
    """``nn.Dropout``'s interface and meaning; random-bit masks on CPU (see the module docstring)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        if x.device.type != "cpu" or self.p == 1.0 or not x.is_floating_point():
            return F.dropout(x, self.p, training=True)
        return random_bits_dropout(x, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"
