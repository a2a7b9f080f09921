"""Lab: truncated backpropagation through time. How far back can a network learn to look when its gradient
is cut every k steps?

The tutorial's sentence: "truncated BPTT windows the sequence but still carries the hidden state forward". This
lab makes it measurable. Task (delayed copy): a stream of random symbols from an alphabet of 8; at every step t
the target is the symbol read ``lag`` steps earlier (chance = 12.5 %). Each training sequence of ``length`` steps
is read in windows of k steps; the hidden state is carried from one window to the next (the forward pass is the
same as without windows) but detached, so a gradient reaches back at most to the start of its window. With
k = length (``full``) that is full BPTT.

What the tables show:

* ``accuracy`` (cell, window, lag, accuracy, seconds_per_sequence): the learnable dependency length as a
  function of k. A target whose source symbol lies in an earlier window gets no gradient to learn from, so with
  lag L and window k only the positions whose source is in their own window can be learned; where the cell can
  carry the symbol at all (an LSTM with an open forget gate, not a vanilla RNN past ~10 steps), accuracy falls as L
  approaches k and sits at chance beyond it;
* ``gradient`` (window, j, grad_norm): ‖∂ℓ_t/∂h_{t−j}‖ for the last target of a sequence, the *total* derivative
  through the recurrence (replayed cells): zero from the window's edge on — the gradient that stops there;
* ``speed``: milliseconds per update (one window: forward, backward, Adam) and seconds per training sequence for
  each k: a shorter window is a cheaper step (autograd keeps one window's graph), and more steps per sequence.

The same window rule trains seq2seq models (``train.tbptt``: ``Seq2Seq.loss(..., tbptt=k)``, tested to stop the
gradient at the window edge); this lab uses a stream model because its one long dependency is the lesson.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..replay import replay_rnn
from .common import LabResult, Progress, Stopwatch, say
from .vanishing import RecallClassifier, chrono_init

#: variant label -> (cell, forget-gate initialisation)
CELLS: dict[str, tuple[str, str]] = {"rnn": ("rnn", "default"), "lstm (open forget gate)": ("lstm", "chrono")}


@dataclass(frozen=True)
class Budget:
    lags: tuple[int, ...] = (1, 3, 6, 12, 24, 48)
    windows: tuple[int, ...] = (4, 8, 16, 32, 96)  # 96 = the whole sequence: full BPTT
    length: int = 96
    updates: int = 600  # optimizer updates (one sequence batch each) per (cell, window, lag)
    batch_size: int = 32
    embedding: int = 16
    hidden: int = 64
    lr: float = 3e-3
    clip: float = 1.0
    alphabet: int = 8
    eval_size: int = 256


BUDGETS = {
    "tiny": Budget(lags=(1, 4), windows=(2, 8), length=8, updates=6, batch_size=4, hidden=8, eval_size=8),
    "small": Budget(lags=(1, 3, 6, 12, 24), windows=(4, 8, 16, 48), length=48, updates=300),
    "full": Budget(),
}


def delayed_copy(n: int, length: int, lag: int, alphabet: int, seed: int) -> tuple[Tensor, Tensor]:
    """x: (n, length) random symbols; y: x shifted right by ``lag`` (-100, ignored, where there is no source)."""
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(rng.integers(0, alphabet, size=(n, length)))
    y = torch.full_like(x, -100)
    y[:, lag:] = x[:, :-lag] if lag else x
    return x, y


class StreamModel(RecallClassifier):
    """The vanishing lab's embedding -> recurrent layer -> readout, predicting at every step instead of once at the
    end, and taking and returning the state so that windows can carry it."""

    def forward(self, x: Tensor, state=None) -> tuple[Tensor, object]:
        out, state = self.rnn(self.embed(x), state)
        return self.readout(out), state


def detach(state):
    """The carried state without its history: the window edge."""
    return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()


def train_windows(model: StreamModel, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor, window: int,
                  clip: float) -> float:
    """One sequence batch in windows of ``window`` steps, the state carried and detached at each edge; one
    optimizer update per window. Returns the mean loss."""
    state, losses = None, []
    for start in range(0, x.shape[1], window):
        logits, state = model(x[:, start:start + window], state)
        target = y[:, start:start + window]
        if (target >= 0).any():
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=-100)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            losses.append(float(loss))
        state = detach(state)
    return float(np.mean(losses)) if losses else float("nan")


@torch.no_grad()
def accuracy(model: StreamModel, x: Tensor, y: Tensor) -> float:
    logits, _ = model(x)
    known = y >= 0
    return float((logits.argmax(-1)[known] == y[known]).float().mean())


def gradient_reach(model: StreamModel, x: Tensor, y: Tensor, window: int) -> np.ndarray:
    """‖∂ℓ_T/∂h_{T−j}‖ (mean over the batch) for the last step T, replayed with the window's detaching: the
    total derivative through the recurrence, zero beyond the window edge."""
    emb = model.embed(x)
    steps, state = [], None
    for start in range(0, x.shape[1], window):
        trace = replay_rnn(model.rnn, emb[:, start:start + window], None, state).traces[0]
        steps += trace.h_steps
        h = trace.h_steps[-1]
        c = trace.gates["c"][:, -1] if "c" in trace.gates else None
        state = (h.unsqueeze(0).detach(), None if c is None else c.unsqueeze(0).detach())  # the window edge
    loss = F.cross_entropy(model.readout(steps[-1]), y[:, -1], reduction="sum")
    grads = torch.autograd.grad(loss, steps, allow_unused=True)
    norms = [0.0 if g is None else float(g.norm(dim=-1).mean()) for g in grads]
    return np.asarray(norms[::-1])  # index j = steps back from T


def run_one(cell_label: str, window: int, lag: int, b: Budget, seed: int) -> dict:
    cell, init = CELLS[cell_label]
    torch.manual_seed(seed)
    model = StreamModel(cell, b.alphabet, b.embedding, b.hidden)
    if init == "chrono":
        chrono_init(model.rnn, b.length, torch.Generator().manual_seed(seed))
    optimizer = torch.optim.Adam(model.parameters(), lr=b.lr)
    x_eval, y_eval = delayed_copy(b.eval_size, b.length, lag, b.alphabet, seed=99_991 + seed)
    started = time.perf_counter()
    for update in range(b.updates):
        x, y = delayed_copy(b.batch_size, b.length, lag, b.alphabet, seed=seed * 1_000_003 + update)
        train_windows(model, optimizer, x, y, window, b.clip)
    seconds = time.perf_counter() - started
    windows = -(-b.length // window)
    return {"cell": cell_label, "window": window, "full_bptt": window >= b.length, "lag": lag,
            "accuracy": accuracy(model, x_eval, y_eval), "chance": 1 / b.alphabet,
            "seconds_per_sequence": seconds / (b.updates * b.batch_size),
            "ms_per_update": 1000 * seconds / (b.updates * windows), "model": model}


def run(budget: str | Budget = "small", *, seed: int = 0, work_dir=None, progress: Progress = None) -> LabResult:
    """Every cell at every (window, lag) under the same budget; the gradient's reach for the LSTM at each
    window; the time per sequence per window (``work_dir`` is unused: nothing is saved)."""
    b = BUDGETS[budget] if isinstance(budget, str) else budget
    clock, rows, reach, speed = Stopwatch(), [], [], []
    for cell in CELLS:
        for window in b.windows:
            seconds, per_update = [], []
            for lag in b.lags:
                if lag >= b.length:
                    continue
                row = run_one(cell, window, lag, b, seed)
                model = row.pop("model")
                rows.append(row)
                seconds.append(row["seconds_per_sequence"])
                per_update.append(row["ms_per_update"])
                say(progress, f"tbptt: {cell:<24} window {window:>3} lag {lag:>3}: accuracy {row['accuracy']:.2f}")
            speed.append({"cell": cell, "window": window, "seconds_per_sequence": float(np.median(seconds)),
                          "ms_per_update": float(np.median(per_update))})
            x, y = delayed_copy(16, b.length, 1, b.alphabet, seed=7)
            reach += [{"cell": cell, "window": window, "j": j, "grad_norm": float(v)}
                      for j, v in enumerate(gradient_reach(model, x, y, window))]
    tables = {"accuracy": pd.DataFrame(rows), "gradient": pd.DataFrame(reach), "speed": pd.DataFrame(speed)}
    info = {"budget_settings": asdict(b), "seconds": clock.seconds(), "threads": torch.get_num_threads(),
            "task": "delayed copy: target at t = the symbol at t - lag; windows carry the state, detached"}
    return LabResult("tbptt", budget if isinstance(budget, str) else "custom", tables, "accuracy", info)
