"""The lecture's recurrent-cell equations, in one place: what the studio prints and what the replay computes.

Why one home: the Gates page shows LaTeX, ``replay.py`` computes the gates, and a student compares the two.
They must use the same notation (CS224N lecture 6 for the LSTM: ``W_f [h_{t-1}; x_t] + b_f``) and the same
order. Each cell here is a tuple of ``Equation`` in the order the replay cell computes its quantities, and
``GATE_NAMES`` (what inspection records) is derived from it; ``tests/test_replay.py`` checks that the replay
produces the quantities in exactly this order and that every equation's left-hand side names its quantity.

Storage vs notation: PyTorch keeps ``weight_ih`` (4H x I) and ``weight_hh`` (4H x H) with rows in the order
i, f, g, o (LSTM) or r, z, n (GRU), and two biases. The lecture's ``W_f`` acting on ``[h_{t-1}; x_t]`` is the
f rows of ``[weight_hh | weight_ih]`` and ``b_f`` is the sum of the two f biases (``replay.lecture_weights``).
The GRU keeps PyTorch's variant, in which the reset gate multiplies ``U_n h_{t-1} + b_{hn}``; its equations
say so rather than printing the textbook form the code does not compute.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Equation:
    quantity: str  # the name the replay records ("f", "c", ...)
    label: str  # how charts and tabs name it
    latex: str
    meaning: str  # one sentence for a student


LSTM = (
    Equation("f", "f · forget", r"f_t = \sigma(W_f [h_{t-1}; x_t] + b_f)",
             "Forget gate: how much of the old cell to keep."),
    Equation("i", "i · input", r"i_t = \sigma(W_i [h_{t-1}; x_t] + b_i)",
             "Input gate: how much of the new content to write."),
    Equation("g", "g · candidate", r"g_t = \tanh(W_g [h_{t-1}; x_t] + b_g)",
             "Candidate: the new content itself, in [-1, 1]."),
    Equation("o", "o · output", r"o_t = \sigma(W_o [h_{t-1}; x_t] + b_o)",
             "Output gate: how much of the cell to show as h_t."),
    Equation("c", "c · cell", r"c_t = f_t \odot c_{t-1} + i_t \odot g_t",
             "Cell: an additive update, so gradients flow through f_t almost untouched (f = 1, i = 0 keeps it "
             "like RAM)."),
    Equation("h", "h · hidden", r"h_t = o_t \odot \tanh(c_t)",
             "Hidden state: what the next layer, attention and the next step read."),
)

GRU = (
    Equation("r", "r · reset", r"r_t = \sigma(W_r x_t + U_r h_{t-1} + b_r)",
             "Reset gate: how much of the past feeds the candidate."),
    Equation("z", "z · update", r"z_t = \sigma(W_z x_t + U_z h_{t-1} + b_z)",
             "Update gate: the share of the old state carried over."),
    Equation("n", "n · candidate", r"n_t = \tanh(W_n x_t + b_{in} + r_t \odot (U_n h_{t-1} + b_{hn}))",
             "Candidate state, in [-1, 1]."),
    Equation("h", "h · hidden", r"h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}",
             "New state: a gated mix of old and new."),
)

RNN = (
    Equation("h", "h · hidden", r"h_t = \tanh(W_{xh} x_t + W_{hh} h_{t-1} + b_h)",
             "A vanilla RNN has no gates: the same matrix multiplies the state at every step."),
)

EQUATIONS: dict[str, tuple[Equation, ...]] = {"lstm": LSTM, "gru": GRU, "rnn": RNN}

#: Quantities recorded per cell type, in the order the equations (and the replay) compute them.
GATE_NAMES: dict[str, tuple[str, ...]] = {cell: tuple(e.quantity for e in eqs) for cell, eqs in EQUATIONS.items()}

#: Display label of every quantity (tabs, legends).
GATE_LABELS: dict[str, str] = {e.quantity: e.label for eqs in EQUATIONS.values() for e in eqs}
