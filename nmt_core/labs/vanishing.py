"""Lab: vanishing gradients. Can a recurrent network carry one symbol across ``lag`` steps?

Task ("recall", ``tasks.recall.recall_arrays``): read ``lag + 1`` random symbols from an alphabet of 8
and output the FIRST one (chance = 12.5 %). The only useful signal sits ``lag`` steps before the end.

Model: a small recurrent classifier (embedding 32, hidden 64, one fused ``nn.RNN``/``nn.GRU``/``nn.LSTM``
layer, the last hidden state -> linear -> alphabet), Adam 3e-3, batch 64, gradient clipping at 1.0, the
same step budget for every (cell, lag); training stops early once held-out accuracy reaches 99 %.

Four variants side by side (see docs ``labs-calibration``): rnn, gru and lstm with PyTorch's default
initialisation all fail from about lag 20 within a classroom budget; an LSTM whose forget gate *starts
open* (chrono initialisation, Tallec & Ollivier 2018: b_f = log U(1, T_max − 1), b_i = −b_f, T_max = lag + 1)
learns lags of 50–100. The forget gate's bias is the lesson: the additive cell can keep information,
but only if it is not told to forget it from the first step (Gers et al. 2000; Jozefowicz et al. 2015).

Gradient table: ``grad_norm`` = mean over 64 held-out sequences of ‖∂ℓ/∂h_{T−k}‖, the TOTAL derivative of
that sequence's loss at the last step T with respect to the hidden state k steps earlier, through the
recurrence. Measured on the replayed cells (``replay.replay_rnn`` h_steps), at initialisation and after
training; ``relative`` divides by the k = 0 value.

Tables: ``accuracy`` (variant, cell, init, lag, accuracy, chance, solved_at, steps, seconds) and
``gradients`` (variant, lag, stage, k, grad_norm, relative).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..recurrent import RNN_CLASSES
from ..replay import replay_rnn
from ..tasks.recall import recall_arrays
from .common import LabResult, Progress, Stopwatch, say

#: variant label -> (cell, forget-gate initialisation)
VARIANTS: dict[str, tuple[str, str]] = {
    "rnn": ("rnn", "default"),
    "gru": ("gru", "default"),
    "lstm": ("lstm", "default"),
    "lstm (open forget gate)": ("lstm", "chrono"),
}


@dataclass(frozen=True)
class Budget:
    lags: tuple[int, ...] = (5, 10, 20, 50, 100)
    steps: int = 3000  # Adam steps per (variant, lag), the same for all
    check_every: int = 100  # held-out accuracy check (early stop at 99 %)
    batch_size: int = 64
    embedding: int = 32
    hidden: int = 64
    lr: float = 3e-3
    clip: float = 1.0
    alphabet: int = 8
    eval_size: int = 512
    grad_batch: int = 64


BUDGETS = {
    "tiny": Budget(lags=(3, 6), steps=10, check_every=5, embedding=8, hidden=12, eval_size=32, grad_batch=8),
    "small": Budget(steps=400, check_every=50),
    "full": Budget(),
}


class RecallClassifier(nn.Module):
    """Embedding -> one recurrent layer -> the last hidden state -> logits over the alphabet."""

    def __init__(self, cell: str, alphabet: int, embedding: int, hidden: int):
        super().__init__()
        self.embed = nn.Embedding(alphabet, embedding)
        self.rnn = RNN_CLASSES[cell](embedding, hidden, batch_first=True)
        self.readout = nn.Linear(hidden, alphabet)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, T) symbols -> logits (B, A), on the fused kernel."""
        out, _ = self.rnn(self.embed(x))  # (B, T, H)
        return self.readout(out[:, -1])

    def replayed(self, x: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The same logits via the replayed cells, plus every h_t as a graph node (T x (B, H))."""
        steps = replay_rnn(self.rnn, self.embed(x)).traces[0].h_steps
        return self.readout(steps[-1]), steps


def chrono_init(lstm: nn.LSTM, t_max: int, generator: torch.Generator) -> None:
    """Tallec & Ollivier (2018): forget bias log U(1, T_max − 1), input bias its negative. PyTorch has
    two bias vectors (gates i, f, g, o): set the slices of ``bias_ih`` and zero those of ``bias_hh``."""
    h = lstm.hidden_size
    u = 1 + torch.rand(h, generator=generator) * max(t_max - 2, 1e-3)
    with torch.no_grad():
        lstm.bias_ih_l0[h:2 * h] = torch.log(u)
        lstm.bias_ih_l0[:h] = -torch.log(u)
        lstm.bias_hh_l0[:2 * h] = 0.0


def gradient_profile(model: RecallClassifier, x: Tensor, y: Tensor) -> np.ndarray:
    """(T,) mean over the batch of ‖∂ℓ_b/∂h_{T−k}‖ for k = 0..T−1 (total derivative through time).
    The loss is summed over the batch so each sequence's gradient is its own loss's gradient."""
    logits, steps = model.replayed(x)
    grads = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), steps)
    per_step = torch.stack([g.norm(dim=-1).mean() for g in grads])  # (T,) in time order
    return per_step.flip(0).detach().numpy()  # index k = steps before the end


def train_one(variant: str, lag: int, budget: Budget, seed: int) -> tuple[dict, list[dict]]:
    """Train one classifier; returns its accuracy row and its gradient rows (init and trained)."""
    cell, init = VARIANTS[variant]
    clock = Stopwatch()
    torch.manual_seed(seed)
    model = RecallClassifier(cell, budget.alphabet, budget.embedding, budget.hidden)
    if init == "chrono":
        chrono_init(model.rnn, lag + 1, torch.Generator().manual_seed(seed))
    x_eval, y_eval = map(torch.from_numpy, recall_arrays(budget.eval_size, lag, budget.alphabet, seed=10_007 + seed))
    x_grad, y_grad = x_eval[:budget.grad_batch], y_eval[:budget.grad_batch]
    grads = {"init": gradient_profile(model, x_grad, y_grad)}
    optimizer = torch.optim.Adam(model.parameters(), lr=budget.lr)
    solved_at, step = None, 0
    for step in range(1, budget.steps + 1):
        batch = recall_arrays(budget.batch_size, lag, budget.alphabet, seed=seed * 1_000_003 + step)
        x, y = map(torch.from_numpy, batch)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), budget.clip)
        optimizer.step()
        if step % budget.check_every == 0 and accuracy(model, x_eval, y_eval) >= 0.99:
            solved_at = step
            break
    grads["trained"] = gradient_profile(model, x_grad, y_grad)
    row = {"variant": variant, "cell": cell, "init": init, "lag": lag, "accuracy": accuracy(model, x_eval, y_eval),
           "chance": 1 / budget.alphabet, "solved_at": solved_at, "steps": step, "seconds": clock.seconds()}
    grad_rows = [{"variant": variant, "lag": lag, "stage": stage, "k": k, "grad_norm": float(v),
                  "relative": float(v / g[0]) if g[0] > 0 else math.nan}
                 for stage, g in grads.items() for k, v in enumerate(g)]
    return row, grad_rows


@torch.no_grad()
def accuracy(model: RecallClassifier, x: Tensor, y: Tensor) -> float:
    return float((model(x).argmax(-1) == y).float().mean())


def run(budget: str | Budget = "small", *, seed: int = 0, work_dir=None, progress: Progress = None,
        variants: tuple[str, ...] = tuple(VARIANTS)) -> LabResult:
    """Train every variant at every lag under the same budget (``work_dir`` is unused: nothing is saved)."""
    b = BUDGETS[budget] if isinstance(budget, str) else budget
    clock, rows, grad_rows = Stopwatch(), [], []
    for lag in b.lags:
        for variant in variants:
            row, g = train_one(variant, lag, b, seed)
            rows.append(row)
            grad_rows += g
            say(progress, f"vanishing: {variant:<24} lag {lag:>3}: accuracy {row['accuracy']:.2f} "
                          f"after {row['steps']} steps ({row['seconds']:.1f}s)")
    tables = {"accuracy": pd.DataFrame(rows), "gradients": pd.DataFrame(grad_rows)}
    info = {"budget_settings": asdict(b), "seconds": clock.seconds(), "threads": torch.get_num_threads(),
            "gradient_quantity": "mean over sequences of ||d loss_T / d h_{T-k}||, total derivative (replay)"}
    return LabResult("vanishing", budget if isinstance(budget, str) else "custom", tables, "accuracy", info)
