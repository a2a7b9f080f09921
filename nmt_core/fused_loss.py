"""The output layer and the cross-entropy in one pass, chunk by chunk (the training fast path on CPU).

``F.cross_entropy(F.linear(h, W, b), y, reduction="sum", label_smoothing=eps)`` written out: for each row
with logits z = W h + b, loss = logsumexp(z) - (1-eps) z_y - eps mean(z), and its gradient with respect
to z is  p - (1-eps) onehot(y) - eps/V,  with p = softmax(z). So the forward pass can compute the
gradients too:  dh = dz W,  dW = dz^T h,  db = sum of dz,  and the backward pass only scales them.

Why: the plain path writes the (N, V) logits, then the log-softmax, the loss gradient and the softmax
gradient to memory as four more (N, V) arrays, each read back later; with N ~ 900 target tokens and
V = 8000 that is ~30 MB per array, far larger than the CPU's caches. Here the logits of ``chunk`` rows
at a time are used while they are still in cache, and are never stored. The three matrix products are
the same as in the plain path. Proven equal to it by tests/test_fused_loss.py.
"""

from __future__ import annotations

import torch
from torch import Tensor


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, h: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor, smoothing: float,
                chunk: int) -> Tensor:
        need_h, need_w, need_b = ctx.needs_input_grad[:3]
        v = weight.shape[0]
        grad_h = torch.empty_like(h) if need_h else None
        grad_w = torch.zeros_like(weight) if need_w else None
        grad_b = torch.zeros_like(bias) if bias is not None and need_b else None
        total = h.new_zeros((), dtype=torch.float32 if h.dtype != torch.float64 else h.dtype)
        for start in range(0, h.shape[0], chunk):
            hc, yc = h[start:start + chunk], target[start:start + chunk, None]  # (C, H), (C, 1)
            z = hc @ weight.t() if bias is None else torch.addmm(bias, hc, weight.t())  # (C, V) logits
            lse = torch.logsumexp(z, dim=1, keepdim=True)  # (C, 1)
            loss = lse - (1 - smoothing) * z.gather(1, yc)
            if smoothing:
                loss = loss - smoothing * z.mean(dim=1, keepdim=True)
            total += loss.sum()
            dz = z.sub_(lse).exp_()  # softmax, in place of the logits (no longer needed)
            dz.scatter_add_(1, yc, dz.new_full(yc.shape, -(1 - smoothing)))
            if smoothing:
                dz.sub_(smoothing / v)
            if grad_h is not None:
                torch.mm(dz, weight, out=grad_h[start:start + chunk])
            if grad_w is not None:
                grad_w.addmm_(dz.t(), hc)
            if grad_b is not None:
                grad_b += dz.sum(dim=0)
        ctx.save_for_backward(*(g for g in (grad_h, grad_w, grad_b) if g is not None))
        ctx.present = (grad_h is not None, grad_w is not None, grad_b is not None)
        return total

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        saved = iter(ctx.saved_tensors)
        grads = [next(saved) * grad_out if present else None for present in ctx.present]
        return (*grads, None, None, None)


def linear_cross_entropy(h: Tensor, weight: Tensor, bias: Tensor | None, target: Tensor,
                         label_smoothing: float = 0.0, chunk: int = 256) -> Tensor:
    """Summed cross-entropy of ``F.linear(h, weight, bias)`` against ``target``. h: (N, H) real (non-pad)
    positions only; weight: (V, H); target: (N,). Equals ``F.cross_entropy(..., reduction="sum")``."""
    if not (h.requires_grad or weight.requires_grad) or not torch.is_grad_enabled():
        logits = torch.nn.functional.linear(h, weight, bias)
        return torch.nn.functional.cross_entropy(logits, target, reduction="sum", label_smoothing=label_smoothing)
    return _LinearCrossEntropy.apply(h, weight, bias, target, float(label_smoothing), int(chunk))
