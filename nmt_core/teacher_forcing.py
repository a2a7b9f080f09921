"""The training decoder loop of the common model (one LSTM layer, input feeding, attention) with its backward
pass written by hand: backpropagation through time as the lecture derives it.

Why: with input feeding the decoder cannot use the fused sequence kernel, so teacher forcing unrolls one step
per target position. Under autograd every step records about forty small operations, and every weight gets T
small gradient products plus T accumulations. Those small operations barely use a second thread and their
Python and autograd bookkeeping runs on one (docs/benchmarks.md, Threads). Written by hand:

* the embedding's share of the gate pre-activations is one (T*B, E) x (E, 4H) product for all steps;
* every weight gradient is one large product over all steps (dW = dG^T X, as the fused cuDNN/oneDNN kernels do),
  and only the gradients that must travel back in time are computed step by step;
* the derivatives of the activations (sigmoid' = s(1-s), tanh' = 1-t^2) are computed for all steps at once.

It computes exactly what ``Seq2Seq._recurrent_step`` unrolled under autograd computes (the forward pass with
the same operations; the gradients to rounding): ``tests/test_teacher_forcing.py`` compares both, values and
every parameter's gradient, with dropout, padding, every attention kind and truncated BPTT. Measured: training
steps 1.10x (1 thread) and 1.13x (2 threads) faster than the readable loop (docs/benchmarks.md, Threads).

It is used only for training: with gradients on, in float32 or float64, without autocast or torch.compile.
Every other case and model (validation under no_grad, GRU, vanilla RNN, several decoder layers, no attention
or no input feeding, fast mode's int8 twins) runs the readable loop in ``model.py``, as does anything that
passes ``readable=True``. What the readable loop offers and this one does not: a second backward pass through
the same graph (``retain_graph``), gradients of gradients (``create_graph``), and forward hooks on the
decoder, ``combine`` or the attention module. Shapes are time-major inside: T steps, B sentences, S source
positions, H hidden, He encoder output size, E embedding size.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

KINDS = ("additive", "dot", "general")


def can_run(model) -> bool:
    """Whether ``model``'s teacher forcing can take the hand-written path (see the module docstring): training
    (gradients on) of a float32/float64 model built from plain modules (not fast mode's int8 twins)."""
    cfg, weight = model.cfg, model.combine.weight
    plain = (isinstance(model.decoder.layers[0], nn.LSTM) and type(model.combine) is nn.Linear
             and (cfg.attention != "additive" or type(model.attention.query_proj) is nn.Linear))
    return (cfg.cell == "lstm" and cfg.decoder_layers == 1 and cfg.input_feeding and cfg.attention in KINDS
            and plain and isinstance(weight, Tensor) and weight.dtype in (torch.float32, torch.float64)
            and torch.is_grad_enabled() and not torch.is_autocast_enabled(weight.device.type)
            and not torch.compiler.is_compiling())


def teacher_forced_lstm(model, emb: Tensor, state, enc, tbptt: int | None) -> tuple[Tensor, Tensor]:
    """emb: (B, T, E) target embeddings after dropout; state: the decoder's initial ``DecoderState``; enc: the
    ``EncoderOutput``. Returns the attentional vectors (B, T, H) and the attention weights (B, T, S)."""
    cell, attention = model.decoder.layers[0], model.attention
    additive = attention.kind == "additive"
    out, attn = _TeacherForcedLSTM.apply(
        emb, state.h[0], state.c[0], state.feed, enc.keys, enc.outputs, enc.mask,
        cell.weight_ih_l0, cell.weight_hh_l0, cell.bias_ih_l0, cell.bias_hh_l0,
        attention.query_proj.weight if additive else None, attention.v.weight if additive else None,
        model.combine.weight, model.combine.bias, int(tbptt or 0))
    return out.transpose(0, 1), attn.transpose(0, 1)


class _TeacherForcedLSTM(torch.autograd.Function):
    """Inputs as in ``teacher_forced_lstm``; outputs are time-major: attentional (T, B, H), attention (T, B, S)."""

    @staticmethod
    def forward(ctx, emb, h0, c0, feed0, keys, values, mask, w_ih, w_hh, b_ih, b_hh, w_query, v, w_combine,
                b_combine, window):
        with torch.no_grad():
            saved = _forward_loop(emb, h0, c0, feed0, keys, values, mask, w_ih, w_hh, b_ih + b_hh, w_query, v,
                                  w_combine, b_combine)
        out, attn = saved.pop("out"), saved.pop("attn")
        # inputs and outputs through save_for_backward (an output kept on ctx would be a reference cycle);
        # the intermediate activations on ctx, freed as soon as the backward pass has used them
        ctx.save_for_backward(emb, keys, values, w_ih, w_query, v, w_combine, out, attn)
        ctx.saved, ctx.window = saved, window
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None instead of zeros
        return out, attn

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_attn):
        if ctx.saved is None:  # freed by the first backward pass, as autograd frees its own saved tensors
            raise RuntimeError("Trying to backward through the teacher-forcing loop a second time (retain_graph "
                               "does not keep it): recompute the loss, or call with readable=True")
        emb, keys, values, w_ih, w_query, v, w_combine, out, attn = ctx.saved_tensors
        s = {**ctx.saved, "out": out, "attn": attn, "v": v}
        ctx.saved = None
        grads = _backward_loop(s, d_out, d_attn, keys, values, w_query, w_combine, ctx.window)
        d = _weight_grads(s, grads, emb, keys, values, w_ih)
        return (d["emb"], grads["h0"], grads["c0"], grads["feed0"], d["keys"], d["values"], None,
                d["w_ih"], d["w_hh"], d["b"], d["b"], d["w_query"], d["v"], d["w_combine"], d["b_combine"], None)


def _forward_loop(emb, h0, c0, feed0, keys, values, mask, w_ih, w_hh, bias, w_query, v, w_combine, b_combine):
    """The decoder steps of ``Seq2Seq._recurrent_step`` with every activation kept for the backward pass."""
    b, t_len, e = emb.shape
    h, s, he = h0.shape[1], values.shape[1], values.shape[2]
    new = emb.new_empty
    # gate pre-activations of the embeddings for every step at once: (T, B, 4H)
    pre = torch.addmm(bias, emb.transpose(0, 1).reshape(t_len * b, e), w_ih[:, :e].t()).view(t_len, b, 4 * h)
    w_state = torch.cat([w_ih[:, e:], w_hh], dim=1)  # (4H, 2H): the weights of [feed_{t-1}; h_{t-1}]
    xs = new(t_len + 1, b, 2 * h)  # [feed_{t-1}; h_{t-1}] read by step t; the last row is the final state
    xs[0, :, :h], xs[0, :, h:] = feed0, h0
    cs, acts, tanh_c = new(t_len + 1, b, h), new(t_len, b, 4 * h), new(t_len, b, h)
    cs[0] = c0
    attn, ctx_h, out = new(t_len, b, s), new(t_len, b, he + h), new(t_len, b, h)
    z = new(t_len, b, s, h) if w_query is not None else None
    blocked, v2 = ~mask, None if v is None else 2 * v.t()  # v2: (H, 1)
    for t in range(t_len):
        a, gates = acts[t], torch.addmm(pre[t], xs[t], w_state.t())  # (B, 4H): i, f, g, o
        torch.sigmoid(gates, out=a)
        torch.tanh(gates[:, 2 * h:3 * h], out=a[:, 2 * h:3 * h])
        i, f, g, o = a.chunk(4, dim=1)
        torch.mul(f, cs[t], out=cs[t + 1]).addcmul_(i, g)  # c_t = f * c_{t-1} + i * g
        torch.tanh(cs[t + 1], out=tanh_c[t])
        h_t = xs[t + 1, :, h:]
        torch.mul(o, tanh_c[t], out=h_t)
        if z is not None:  # additive: 2 v . sigmoid(2 (k_i + W_q h_t)), the form of ``Attention.forward``
            zt = torch.add(keys, (h_t @ w_query.t()).unsqueeze(1), out=z[t]).mul_(2).sigmoid_()
            scores = (zt @ v2).squeeze(2)
        else:  # dot and general: the keys are already projected
            scores = torch.bmm(keys, h_t.unsqueeze(2)).squeeze(2)
        attn[t] = torch.softmax(scores.masked_fill_(blocked, float("-inf")), dim=-1)
        ctx_h[t, :, :he] = torch.bmm(attn[t].unsqueeze(1), values).squeeze(1)  # the context vector
        ctx_h[t, :, he:] = h_t
        torch.tanh(torch.addmm(b_combine, ctx_h[t], w_combine.t(), out=out[t]), out=out[t])
        xs[t + 1, :, :h] = out[t]
    return {"out": out, "attn": attn, "xs": xs, "cs": cs, "acts": acts, "tanh_c": tanh_c, "ctx_h": ctx_h, "z": z,
            "w_state": w_state, "hidden": h}


def _backward_loop(s: dict, d_out, d_attn, keys, values, w_query, w_combine, window: int) -> dict:
    """Backpropagation through time: only what must travel back from step to step is computed here, one step
    at a time; every product that yields a weight gradient is left to ``_weight_grads``."""
    out, attn, cs, acts, tanh_c, z, w_state, h = (s[k] for k in ("out", "attn", "cs", "acts", "tanh_c", "z",
                                                                  "w_state", "hidden"))
    t_len, b, _ = out.shape
    he, new = values.shape[2], out.new_empty
    d_out = torch.zeros_like(out) if d_out is None else d_out
    # the activations' derivatives for every step at once; p holds what multiplies dc (i, f, g) or dh (o)
    d_tanh_out, i, f, g, o = 1 - out * out, *acts.chunk(4, dim=2)
    p = torch.cat([g * i * (1 - i), cs[:-1] * f * (1 - f), i * (1 - g * g), tanh_c * o * (1 - o)], dim=2)
    dh_to_dc = o * (1 - tanh_c * tanh_c)
    zd = None  # d(2 v . sigmoid(2u)) / du, per (t, b, i, unit): one buffer the size of z, built in place
    if z is not None:
        zd = torch.sub(1, z).mul_(z).mul_(4 * s["v"])
    dg, du, dctx, dscore = new(t_len, b, 4 * h), new(t_len, b, h), new(t_len, b, he), new(t_len, b, attn.shape[2])
    dq, dk = (new(t_len, b, h), torch.zeros_like(keys)) if z is not None else (None, None)
    dh_next, dc_next, df_next = (out.new_zeros(b, h) for _ in range(3))
    for t in reversed(range(t_len)):
        torch.mul(d_out[t] + df_next, d_tanh_out[t], out=du[t])  # through h~_t = tanh(W_c [c_t; h_t] + b)
        d_ctx_h = du[t] @ w_combine  # (B, He + H)
        dctx[t] = d_ctx_h[:, :he]
        dh = d_ctx_h[:, he:] + dh_next
        da = torch.bmm(values, dctx[t].unsqueeze(2)).squeeze(2)  # (B, S)
        if d_attn is not None:
            da += d_attn[t]
        torch.mul(attn[t], da - (attn[t] * da).sum(-1, keepdim=True), out=dscore[t])  # through the softmax
        if zd is not None:
            d_pre = zd[t] * dscore[t].unsqueeze(2)  # (B, S, H)
            dk += d_pre
            dh.addmm_(torch.sum(d_pre, 1, out=dq[t]), w_query)
        else:
            dh += torch.bmm(dscore[t].unsqueeze(1), keys).squeeze(1)
        dc = torch.addcmul(dc_next, dh, dh_to_dc[t])  # through h_t = o * tanh(c_t), plus c_t's own future
        torch.mul(p[t, :, :3 * h].view(b, 3, h), dc.unsqueeze(1), out=dg[t, :, :3 * h].view(b, 3, h))
        torch.mul(p[t, :, 3 * h:], dh, out=dg[t, :, 3 * h:])
        dc_next = dc * f[t]
        dx = dg[t] @ w_state  # (B, 2H): the gradients of feed_{t-1} and h_{t-1}
        df_next, dh_next = dx[:, :h], dx[:, h:]
        if window and t % window == 0 and t > 0:  # truncated BPTT: the state entering step t was detached
            dh_next, dc_next, df_next = (torch.zeros_like(dc) for _ in range(3))
    return {"dg": dg, "du": du, "dctx": dctx, "dscore": dscore, "dq": dq, "dk": dk,
            "h0": dh_next, "c0": dc_next, "feed0": df_next}


def _weight_grads(s: dict, g: dict, emb, keys, values, w_ih) -> dict:
    """Every gradient that sums over steps, each as one product over all T * B rows."""
    t_len, b, h = s["out"].shape
    e, rows = emb.shape[2], t_len * b
    dg = g["dg"].view(rows, 4 * h)
    d_state = dg.t() @ s["xs"][:-1].reshape(rows, 2 * h)  # (4H, 2H): [feed_{t-1}; h_{t-1}]'s weights
    d = {"w_ih": torch.cat([dg.t() @ emb.transpose(0, 1).reshape(rows, e), d_state[:, :h]], dim=1),
         "w_hh": d_state[:, h:], "b": dg.sum(0),
         "emb": (dg @ w_ih[:, :e]).view(t_len, b, e).transpose(0, 1)}
    du = g["du"].view(rows, h)
    d["w_combine"], d["b_combine"] = du.t() @ s["ctx_h"].view(rows, -1), du.sum(0)
    d["values"] = torch.bmm(s["attn"].permute(1, 2, 0), g["dctx"].transpose(0, 1))  # sum_t a_t^T dctx_t
    hs = s["xs"][1:, :, h:]  # (T, B, H) the decoder states h_t
    if s["z"] is not None:
        d["keys"] = g["dk"]
        d["w_query"] = g["dq"].view(rows, h).t() @ hs.reshape(rows, h)
        d["v"] = 2 * (g["dscore"].reshape(1, -1) @ s["z"].reshape(-1, h))  # (1, H)
    else:
        d["keys"] = torch.bmm(g["dscore"].permute(1, 2, 0), hs.transpose(0, 1))  # sum_t ds_t^T h_t
        d["w_query"] = d["v"] = None
    return d
