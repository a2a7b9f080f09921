"""Stacked recurrent layers: the fused kernels for speed, the replay for every gate.

Every recurrent call of the model goes through ``RecurrentStack.forward(..., trace=...)``: with
``trace=False`` it runs PyTorch's fused kernels (the sequence kernel on packed sequences for the encoder,
the cell kernel ``torch.lstm_cell`` etc. for one decoder step); with ``trace=True`` it runs
``replay.replay_rnn`` on the same parameters and returns every gate (the readable twin, proven equal in
``tests/test_replay.py``). Kept out of ``model.py`` so that file reads as the lecture's architecture.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .replay import replay_rnn

RNN_CLASSES = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class RecurrentStack(nn.Module):
    """Stacked single-layer recurrent modules with dropout (and optional residuals) between layers.

    Kept as a list of one-layer fused modules rather than one multi-layer module so that residual
    connections (He et al. 2016; the lecture's fix for deep RNNs) fit in without a second code path.
    State is (h, c) with h, c: (layers * directions, B, H) as in ``nn.LSTM``; c is None for rnn/gru.
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, layers: int,
                 bidirectional: bool, dropout: float, residual: bool):
        super().__init__()
        self.cell, self.hidden_size, self.residual = cell, hidden_size, residual
        self.directions = 2 if bidirectional else 1
        out_size = hidden_size * self.directions
        self.layers = nn.ModuleList(
            RNN_CLASSES[cell](input_size if k == 0 else out_size, hidden_size,
                              batch_first=True, bidirectional=bidirectional)
            for k in range(layers)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, lengths: Tensor | None = None,
                state: tuple[Tensor, Tensor | None] | None = None, *, trace: bool = False,
                clamp: dict[tuple[int, int], dict] | None = None):
        """x: (B, T, I). Returns (output (B, T, D*H), (h_n, c_n), traces or []).

        ``clamp`` {(layer, direction): {gate: ((unit, value), ...)}} (see ``Intervention``) needs
        ``trace=True``: only the replayed cells can fix a gate, the fused kernel cannot."""
        if clamp and not trace:
            raise ValueError("gate clamping needs trace=True (the fused kernel cannot be clamped)")
        d = self.directions
        h_out, c_out, traces = [], [], []
        for k, rnn in enumerate(self.layers):
            layer_state = None if state is None else _slice_state(state, k * d, (k + 1) * d)
            if trace:
                layer_clamp = {(0, dd): v for (ll, dd), v in (clamp or {}).items() if ll == k}
                result = replay_rnn(rnn, x, lengths, layer_state, layer_clamp)
                out, h_n, c_n = result.output, result.h_n, result.c_n
                traces += [replace(t, layer=k) for t in result.traces]
            else:
                out, h_n, c_n = _run_fused(rnn, x, lengths, layer_state)
            if self.residual and k > 0:
                out = out + x
            if k < len(self.layers) - 1:
                out = self.dropout(out)
            x = out
            h_out.append(h_n)
            c_out.append(c_n)
        c_all = torch.cat(c_out) if self.cell == "lstm" else None
        return x, (torch.cat(h_out), c_all), traces


def _slice_state(state, start: int, stop: int):
    h, c = state
    return h[start:stop], (None if c is None else c[start:stop])


_CELL_FUNCTIONS = {nn.LSTM: torch.lstm_cell, nn.GRU: torch.gru_cell, nn.RNN: torch.rnn_tanh_cell}


def _run_fused(rnn: nn.Module, x: Tensor, lengths: Tensor | None, state):
    h0, c0 = (None, None) if state is None else state
    if not isinstance(rnn, nn.RNNBase):  # fast mode's int8 cell (``fast_mode.Int8CellStep``): decoder steps only
        return rnn.step(x, h0, c0)
    if lengths is None and x.shape[1] == 1 and h0 is not None and not rnn.bidirectional:
        return _run_fused_step(rnn, x, h0, c0)
    hx = (h0, c0) if isinstance(rnn, nn.LSTM) and h0 is not None else h0
    if lengths is None:  # decoder: every sequence has the full length
        out, final = rnn(x, hx)
    else:
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, final = rnn(packed, hx)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    h_n, c_n = final if isinstance(rnn, nn.LSTM) else (final, None)
    return out, h_n, c_n


def _run_fused_step(rnn: nn.RNNBase, x: Tensor, h0: Tensor, c0: Tensor | None):
    """One decoder step through the fused *cell* kernel (``torch.lstm_cell`` etc.) on the module's own
    parameters. For a single time step this is several times faster than the full sequence kernel
    (whose backward pass has a large fixed cost per call on CPU) and computes the same function."""
    params = (rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0)
    if isinstance(rnn, nn.LSTM):
        h, c = torch.lstm_cell(x[:, 0], (h0[0], c0[0]), *params)
        return h.unsqueeze(1), h.unsqueeze(0), c.unsqueeze(0)
    h = _CELL_FUNCTIONS[type(rnn)](x[:, 0], h0[0], *params)
    return h.unsqueeze(1), h.unsqueeze(0), None
