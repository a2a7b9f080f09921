"""An experiment, not used by training: one bidirectional LSTM encoder layer with both directions in lockstep
and its backward pass written by hand (issue 17, item 6; measured by ``bench/two_cores.py``).

The idea: on a CPU, ``nn.LSTM`` over a packed batch runs the two directions one after the other, and every time
step is a (B, H) x (H, 4H) product plus a handful of elementwise operations on (B, 4H) tensors, too small to keep
two threads busy. Here:

* the two directions run **in lockstep**: step t of each is one batched product (``bmm`` over the direction axis)
  and one set of elementwise operations on tensors twice as large, so there are half as many sequential steps;
* the backward direction reads each sentence **reversed within its length** (padding stays at the end), so both
  directions are left-aligned recurrences; no step needs a mask, and the final states are read at each
  sentence's last real token, exactly what the packed sequence gives;
* every weight gradient is one product over all S x B rows, and the activations' derivatives are computed for
  all steps at once, as in ``nmt_core/teacher_forcing.py``; only the gradients that travel back in time are
  stepped; tanh is computed as 2 sigmoid(2x) - 1, one pass of the faster kernel.

It computes what ``nn.LSTM`` computes on ``pack_padded_sequence`` input with a zero initial state, to rounding
(``bench/two_cores.py`` checks it in float64 before timing). The result (docs/benchmarks.md, Threads): no faster
than ``nn.LSTM`` with one thread, and only a little with two, because the layer's time is its products, which the
lockstep does not reduce. So the trainer keeps ``nn.LSTM``. Shapes inside: D directions, S steps, B sentences,
I input size, H hidden.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable


def lockstep_lstm(rnn: nn.LSTM, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """x: (B, S, I) batch-first; lengths: (B,). Returns (output (B, S, D*H), h_n (D, B, H), c_n (D, B, H)),
    as ``nn.LSTM`` returns them for the packed batch (after ``pad_packed_sequence`` to length S)."""
    suffixes = ["_l0", "_l0_reverse"] if rnn.bidirectional else ["_l0"]
    weights = [getattr(rnn, name + s) for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
               for s in suffixes]
    steps = int(lengths.max())
    out, h_n, c_n = _LockstepLSTM.apply(x[:, :steps], lengths.to(x.device), len(suffixes), *weights)
    if steps < x.shape[1]:  # positions past the longest sentence: zero, as pad_packed_sequence pads them
        out = torch.cat([out, out.new_zeros(out.shape[0], x.shape[1] - steps, out.shape[2])], dim=1)
    return out, h_n, c_n


def _within_length_order(lengths: Tensor, steps: int) -> Tensor:
    """(B, S) positions: t -> L-1-t for the L real tokens of each sentence, padding kept in place. It is its own
    inverse, so it both reverses the inputs and puts the backward direction's outputs back in order."""
    t = torch.arange(steps, device=lengths.device).unsqueeze(0)
    last = lengths.unsqueeze(1) - 1
    return torch.where(t <= last, last - t, t)


class _LockstepLSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, lengths, directions, *weights):
        d = directions
        w_ih, w_hh = torch.stack(weights[:d]), torch.stack(weights[d:2 * d])  # (D, 4H, I), (D, 4H, H)
        bias = (torch.stack(weights[2 * d:3 * d]) + torch.stack(weights[3 * d:])).unsqueeze(1)  # (D, 1, 4H)
        order = _within_length_order(lengths, x.shape[1])
        with torch.no_grad():
            xs = _directions(x, order, d)  # (D, S, B, I) time-major, each direction in its reading order
            s = _forward_loop(xs, w_ih, w_hh, bias)
            out, h_n, c_n = _outputs(s["hs"], s["cs"], lengths, order)
        ctx.save_for_backward(xs, order, lengths, w_ih, w_hh)
        ctx.saved = s
        ctx.set_materialize_grads(False)
        return out, h_n, c_n

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_hn, d_cn):
        if ctx.saved is None:
            raise RuntimeError("Trying to backward through the lockstep LSTM encoder a second time (retain_graph "
                               "does not keep it): recompute the loss")
        xs, order, lengths, w_ih, w_hh = ctx.saved_tensors
        s, ctx.saved = ctx.saved, None
        dg = _backward_loop(s, _time_major_grads(d_out, d_hn, d_cn, s["hs"], lengths, order), w_hh)
        d, steps, b = w_ih.shape[0], xs.shape[1], xs.shape[2]
        rows = dg.view(d, steps * b, -1)  # (D, S*B, 4H)
        d_w_ih = torch.bmm(rows.transpose(1, 2), xs.view(d, steps * b, -1))
        d_w_hh = torch.bmm(rows.transpose(1, 2), s["hs"][:, :-1].reshape(d, steps * b, -1))
        d_bias = rows.sum(1)
        dxs = torch.bmm(rows, w_ih).view(d, steps, b, -1).transpose(1, 2)  # (D, B, S, I)
        dx = dxs[0]
        if d == 2:
            dx = dx + dxs[1].gather(1, order.unsqueeze(2).expand_as(dxs[1]))
        return (dx, None, None, *d_w_ih.unbind(0), *d_w_hh.unbind(0), *d_bias.unbind(0), *d_bias.unbind(0))


def _directions(x: Tensor, order: Tensor, d: int) -> Tensor:
    forward = x.transpose(0, 1)
    if d == 1:
        return forward.unsqueeze(0).contiguous()
    backward = x.gather(1, order.unsqueeze(2).expand_as(x)).transpose(0, 1)
    return torch.stack([forward, backward])


def _forward_loop(xs: Tensor, w_ih: Tensor, w_hh: Tensor, bias: Tensor) -> dict:
    """Both directions' recurrences, one step of each per iteration; every activation kept for the backward."""
    d, steps, b, i_size = xs.shape
    h = w_hh.shape[1] // 4
    pre = torch.baddbmm(bias, xs.view(d, steps * b, i_size), w_ih.transpose(1, 2)).view(d, steps, b, 4 * h)
    new = xs.new_empty
    hs, cs = new(d, steps + 1, b, h), new(d, steps + 1, b, h)
    hs[:, 0], cs[:, 0] = 0, 0
    acts, tanh_c = new(d, steps, b, 4 * h), new(d, steps, b, h)
    w_hh_t = w_hh.transpose(1, 2)
    for t in range(steps):
        a, gates = acts[:, t], torch.baddbmm(pre[:, t], hs[:, t], w_hh_t)  # (D, B, 4H): i, f, g, o
        gates[..., 2 * h:3 * h] *= 2
        torch.sigmoid(gates, out=a)
        a[..., 2 * h:3 * h].mul_(2).sub_(1)  # tanh(x) = 2 sigmoid(2x) - 1: one sigmoid pass, tanh is slower
        i, f, g, o = a.chunk(4, dim=2)
        torch.mul(f, cs[:, t], out=cs[:, t + 1]).addcmul_(i, g)  # c_t = f * c_{t-1} + i * g
        torch.sigmoid(cs[:, t + 1] * 2, out=tanh_c[:, t]).mul_(2).sub_(1)
        torch.mul(o, tanh_c[:, t], out=hs[:, t + 1])  # h_t = o * tanh(c_t)
    return {"hs": hs, "cs": cs, "acts": acts, "tanh_c": tanh_c}


def _outputs(hs: Tensor, cs: Tensor, lengths: Tensor, order: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The layer's outputs in sentence order, zero at padding, and the states after each sentence's last token."""
    d, b = hs.shape[0], hs.shape[2]
    per_direction = [hs[0, 1:].transpose(0, 1)]  # (B, S, H)
    if d == 2:
        backward = hs[1, 1:].transpose(0, 1)
        per_direction.append(backward.gather(1, order.unsqueeze(2).expand_as(backward)))
    real = (order < lengths.unsqueeze(1)).unsqueeze(2)  # (B, S, 1): True at real tokens
    out = torch.cat(per_direction, dim=2) * real
    rows = torch.arange(b, device=hs.device)
    return out, hs[:, lengths, rows], cs[:, lengths, rows]


def _time_major_grads(d_out, d_hn, d_cn, hs: Tensor, lengths: Tensor, order: Tensor):
    """The incoming gradients in the loop's layout (D, S, B, H): the outputs' at their reading positions, and
    the final states' added at each sentence's last step."""
    d, steps, b, h = hs.shape[0], hs.shape[1] - 1, hs.shape[2], hs.shape[3]
    if d_out is None:
        dh = hs.new_zeros(d, steps, b, h)
    else:
        d_out = (d_out * (order < lengths.unsqueeze(1)).unsqueeze(2)).view(b, steps, d, h)
        per_direction = [d_out[:, :, 0]]
        if d == 2:
            per_direction.append(d_out[:, :, 1].gather(1, order.unsqueeze(2).expand(b, steps, h)))
        dh = torch.stack(per_direction).transpose(1, 2).contiguous()
    last, rows = lengths - 1, torch.arange(b, device=hs.device)
    if d_hn is not None:
        dh.permute(1, 2, 0, 3).index_put_((last, rows), d_hn.transpose(0, 1), accumulate=True)
    dc = None
    if d_cn is not None:
        dc = hs.new_zeros(d, steps, b, h)
        dc.permute(1, 2, 0, 3).index_put_((last, rows), d_cn.transpose(0, 1), accumulate=True)
    return dh, dc


def _backward_loop(s: dict, incoming: tuple[Tensor, Tensor | None], w_hh: Tensor) -> Tensor:
    """Backpropagation through time for both directions at once. Returns the gate pre-activations' gradients
    (D, S, B, 4H); every weight gradient is then one product over them."""
    dh_in, dc_in = incoming
    acts, cs, tanh_c = s["acts"], s["cs"], s["tanh_c"]
    d, steps, b, h = tanh_c.shape
    i, f, g, o = acts.chunk(4, dim=3)
    # the activations' derivatives for every step at once; p holds what multiplies dc (i, f, g) or dh (o)
    p = torch.cat([g * i * (1 - i), cs[:, :-1] * f * (1 - f), i * (1 - g * g), tanh_c * o * (1 - o)], dim=3)
    dh_to_dc = o * (1 - tanh_c * tanh_c)
    dg = acts.new_empty(d, steps, b, 4 * h)
    dh_next, dc_next = acts.new_zeros(d, b, h), acts.new_zeros(d, b, h)
    for t in reversed(range(steps)):
        dh = dh_in[:, t] + dh_next
        if dc_in is not None:
            dc_next = dc_next + dc_in[:, t]
        dc = torch.addcmul(dc_next, dh, dh_to_dc[:, t])  # through h_t = o * tanh(c_t), plus c_t's own future
        torch.mul(p[:, t, :, :3 * h].view(d, b, 3, h), dc.unsqueeze(2), out=dg[:, t, :, :3 * h].view(d, b, 3, h))
        torch.mul(p[:, t, :, 3 * h:], dh, out=dg[:, t, :, 3 * h:])
        dc_next = dc * f[:, t]
        dh_next = torch.bmm(dg[:, t], w_hh)  # (D, B, H)
    return dg
