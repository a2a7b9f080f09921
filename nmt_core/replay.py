"""The readable twin of PyTorch's fused recurrent layers: the lecture's equations, step by step.

``nn.LSTM``/``nn.GRU``/``nn.RNN`` run their gates inside one fused kernel, so the gates are never
visible. This module *replays* a fused module with explicit cell functions written as the equations
are printed in the lecture, reading the module's own parameter tensors (never a copy, so the replay
cannot drift from the trained weights) and returning every gate, cell and hidden state.

``tests/test_replay.py`` proves replay == fused for every cell type, 1-3 layers, uni- and
bidirectional, on padded batches. The cells compute the equations of ``equations.py`` line by line, in the
order printed there (and on the Gates page); PyTorch's storage order (LSTM rows i, f, g, o; GRU rows
r, z, n) is only how ``lecture_weights`` slices the parameters.

References: Hochreiter & Schmidhuber 1997; Gers et al. 2000 (forget gate); Cho et al. 2014 (GRU);
pytorch/benchmarks/fastrnns/custom_lstms.py (the same idea, proven the same way).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .equations import GATE_NAMES

#: A clamp for one cell: gate name -> ((unit, value), ...). Inspection only (see ``model.Intervention``).
Clamp = dict[str, tuple[tuple[int, float], ...]]


def _clamp(x: Tensor, clamp: Clamp | None, name: str) -> Tensor:
    """Overwrite units of quantity ``name`` with fixed values (out of place, so autograd still works)."""
    if not clamp or name not in clamp:
        return x
    x = x.clone()
    for unit, value in clamp[name]:
        x[:, unit] = value
    return x


def lecture_weights(w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor, gates: str) -> dict[str, Tensor]:
    """PyTorch's stored parameters in the lecture's notation: ``W_q`` acting on ``[h_{t-1}; x_t]`` and ``b_q`` for
    each gate q of ``gates`` (PyTorch's row order: "ifgo" for the LSTM). Views and sums of the module's own
    tensors, so the replay reads the trained weights and gradients flow back to them."""
    w = torch.cat([w_hh, w_ih], dim=1)  # (G*H, H + I): the columns that multiply [h_{t-1}; x_t]
    b = b_ih + b_hh  # the two biases only ever appear summed
    named = {}
    for q, w_q, b_q in zip(gates, w.chunk(len(gates)), b.chunk(len(gates))):
        named[f"W_{q}"], named[f"b_{q}"] = w_q, b_q
    return named


def lstm_cell(x_t: Tensor, h_prev: Tensor, c_prev: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
              clamp: Clamp | None = None):
    """One LSTM step, one line per equation of ``equations.LSTM``, in its order. x_t: (B, I); h_prev, c_prev:
    (B, H). Returns (h_t, c_t, quantities). ``clamp`` fixes units of a quantity where it is computed, so
    everything downstream sees the clamped value."""
    p = lecture_weights(w_ih, w_hh, b_ih, b_hh, "ifgo")
    hx = torch.cat([h_prev, x_t], dim=1)  # [h_{t-1}; x_t]
    f_t = _clamp(torch.sigmoid(hx @ p["W_f"].T + p["b_f"]), clamp, "f")
    i_t = _clamp(torch.sigmoid(hx @ p["W_i"].T + p["b_i"]), clamp, "i")
    g_t = _clamp(torch.tanh(hx @ p["W_g"].T + p["b_g"]), clamp, "g")
    o_t = _clamp(torch.sigmoid(hx @ p["W_o"].T + p["b_o"]), clamp, "o")
    c_t = _clamp(f_t * c_prev + i_t * g_t, clamp, "c")  # the additive update: gradient flows through f_t * c
    h_t = _clamp(o_t * torch.tanh(c_t), clamp, "h")
    return h_t, c_t, {"f": f_t, "i": i_t, "g": g_t, "o": o_t, "c": c_t, "h": h_t}


def gru_cell(x_t: Tensor, h_prev: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
             clamp: Clamp | None = None):
    """One GRU step, one line per equation of ``equations.GRU`` (PyTorch's variant: the reset gate multiplies
    U_n h_{t-1} + b_hn). W_q are the rows of ``weight_ih``, U_q those of ``weight_hh``. Returns (h_t, quantities)."""
    W_r, W_z, W_n = w_ih.chunk(3)
    U_r, U_z, U_n = w_hh.chunk(3)
    (b_ir, b_iz, b_in), (b_hr, b_hz, b_hn) = b_ih.chunk(3), b_hh.chunk(3)
    r_t = _clamp(torch.sigmoid(x_t @ W_r.T + h_prev @ U_r.T + b_ir + b_hr), clamp, "r")
    z_t = _clamp(torch.sigmoid(x_t @ W_z.T + h_prev @ U_z.T + b_iz + b_hz), clamp, "z")
    n_t = _clamp(torch.tanh(x_t @ W_n.T + b_in + r_t * (h_prev @ U_n.T + b_hn)), clamp, "n")
    h_t = _clamp((1 - z_t) * n_t + z_t * h_prev, clamp, "h")
    return h_t, {"r": r_t, "z": z_t, "n": n_t, "h": h_t}


def rnn_cell(x_t: Tensor, h_prev: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor,
             clamp: Clamp | None = None):
    """One vanilla (Elman) RNN step, ``equations.RNN``: h_t = tanh(W_xh x_t + W_hh h_{t-1} + b_h)."""
    h_t = _clamp(torch.tanh(x_t @ w_ih.T + h_prev @ w_hh.T + b_ih + b_hh), clamp, "h")
    return h_t, {"h": h_t}


def cell_type(module: nn.RNNBase) -> str:
    if isinstance(module, nn.LSTM):
        return "lstm"
    if isinstance(module, nn.GRU):
        return "gru"
    if isinstance(module, nn.RNN):
        if module.nonlinearity != "tanh":
            raise ValueError("replay supports tanh RNNs only")
        return "rnn"
    raise TypeError(f"cannot replay {type(module).__name__}")


@dataclass
class LayerTrace:
    """Everything one (layer, direction) computed, in source order.

    ``gates[name]`` is (B, T, H) for each name in ``GATE_NAMES[cell]``. ``h_steps`` holds the same hidden
    states as separate graph nodes, so ``torch.autograd.grad(loss, h_steps)`` gives the *total*
    derivative dL/dh_t through the recurrence (the quantity the vanishing-gradient story is about).
    Positions at or beyond a sentence's length are zero in ``gates``.
    """

    layer: int
    direction: int  # 0 forward, 1 backward
    gates: dict[str, Tensor]
    h_steps: list[Tensor]


@dataclass
class ReplayResult:
    output: Tensor  # (B, T, D*H), zero at padded positions, as pad_packed_sequence gives
    h_n: Tensor  # (L*D, B, H)
    c_n: Tensor | None  # (L*D, B, H) for LSTM
    traces: list[LayerTrace]


def _params(module: nn.RNNBase, layer: int, direction: int) -> tuple[Tensor, ...]:
    sfx = f"l{layer}" + ("_reverse" if direction else "")
    weights = [getattr(module, f"weight_ih_{sfx}"), getattr(module, f"weight_hh_{sfx}")]
    if module.bias:
        return (*weights, getattr(module, f"bias_ih_{sfx}"), getattr(module, f"bias_hh_{sfx}"))
    zeros = weights[1].new_zeros(weights[1].shape[0])
    return (*weights, zeros, zeros)


def _reverse_within_length(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each sequence's first ``len`` steps, leaving padding where it is. x: (B, T, ...)."""
    b, t = x.shape[:2]
    steps = torch.arange(t, device=x.device).expand(b, t)
    lens = lengths.to(x.device).unsqueeze(1)
    index = torch.where(steps < lens, lens - 1 - steps, steps)  # (B, T); an involution
    return x.gather(1, index.view(b, t, *([1] * (x.dim() - 2))).expand_as(x))


def _run_direction(kind, params, x, mask, h, c, clamp: Clamp | None = None):
    """Unroll one direction over x: (B, T, I). mask: (B, T) bool. Padded steps keep the old state."""
    steps, gate_steps = [], []
    for t in range(x.shape[1]):
        if kind == "lstm":
            h_new, c_new, gates = lstm_cell(x[:, t], h, c, *params, clamp=clamp)
        else:
            h_new, gates = (gru_cell if kind == "gru" else rnn_cell)(x[:, t], h, *params, clamp=clamp)
            c_new = None
        keep = mask[:, t].unsqueeze(1)  # (B, 1)
        h = torch.where(keep, h_new, h)
        if c_new is not None:
            c = torch.where(keep, c_new, c)
        steps.append(h)
        gate_steps.append({k: v * keep for k, v in gates.items()})
    gates = {k: torch.stack([g[k] for g in gate_steps], dim=1) for k in GATE_NAMES[kind]}
    return steps, gates, h, c


def replay_rnn(
    module: nn.RNNBase,
    x: Tensor,
    lengths: Tensor | None = None,
    state: tuple[Tensor, Tensor | None] | None = None,
    clamp: dict[tuple[int, int], Clamp] | None = None,
) -> ReplayResult:
    """Replay a fused recurrent module on a batch-first input with the explicit cells.

    x: (B, T, I); lengths: (B,) true lengths (None = all T); state: (h_0, c_0), each (L*D, B, H).
    Matches ``module(pack_padded_sequence(x, lengths))`` in eval mode (no inter-layer dropout).
    ``clamp`` (inspection only): {(layer, direction): {gate: ((unit, value), ...)}} fixes those units at
    every timestep, something the fused kernel cannot do; without it the replay is exact.
    """
    kind = cell_type(module)
    if not module.batch_first:
        raise ValueError("replay expects a batch_first module")
    if getattr(module, "proj_size", 0):
        raise ValueError("replay does not support LSTM projections (proj_size > 0)")
    if module.training and module.dropout > 0 and module.num_layers > 1:
        raise ValueError("replay runs in eval mode: call module.eval() first (inter-layer dropout)")
    b, t, _ = x.shape
    hidden, dirs = module.hidden_size, 2 if module.bidirectional else 1
    lengths = torch.full((b,), t, dtype=torch.long) if lengths is None else lengths.cpu()
    mask = torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
    mask = mask.to(x.device)
    if state is None:
        h0 = x.new_zeros(module.num_layers * dirs, b, hidden)
        c0 = h0.clone() if kind == "lstm" else None
    else:
        h0, c0 = state
    traces, h_n, c_n, layer_input = [], [], [], x
    for layer in range(module.num_layers):
        outputs = []
        for direction in range(dirs):
            k = layer * dirs + direction
            inp = _reverse_within_length(layer_input, lengths) if direction else layer_input
            c_init = c0[k] if kind == "lstm" else None
            steps, gates, h_last, c_last = _run_direction(kind, _params(module, layer, direction), inp, mask, h0[k],
                                                          c_init, (clamp or {}).get((layer, direction)))
            out = torch.stack(steps, dim=1) * mask.unsqueeze(2)  # (B, T, H)
            if direction:  # back to source order
                out = _reverse_within_length(out, lengths)
                gates = {name: _reverse_within_length(g, lengths) for name, g in gates.items()}
                steps = _unreverse_steps(steps, lengths)
            traces.append(LayerTrace(layer, direction, gates, steps))
            outputs.append(out)
            h_n.append(h_last)
            c_n.append(c_last)
        layer_input = torch.cat(outputs, dim=2)
    return ReplayResult(
        output=layer_input,
        h_n=torch.stack(h_n),
        c_n=torch.stack(c_n) if kind == "lstm" else None,
        traces=traces,
    )


def _unreverse_steps(steps: list[Tensor], lengths: Tensor) -> list[Tensor]:
    """Per-step hidden states of a backward pass, re-indexed to source positions.

    For a batch of one sentence (the inspection case) this is an exact re-ordering of graph nodes,
    so gradients with respect to ``h_steps[s]`` are gradients at source position s. For longer
    batches only the positions of the longest sentence line up; inspection always replays one sentence.
    """
    n = int(lengths.max())
    return list(reversed(steps[:n])) + steps[n:]
