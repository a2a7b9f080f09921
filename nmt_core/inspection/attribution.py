"""Which source words each target word depends on, by gradients: to set beside attention, which is not the same.

Attention weights say where the decoder *looked*; they are not, by themselves, an explanation of the output
(Jain & Wallace 2019: attention often disagrees with gradient-based importance, and other attention
distributions can give the same prediction; Wiegreffe & Pinter 2019: "attention is not not explanation",
it depends on the test). A gradient attribution asks the model itself: how much does log p(y_t) change with
source word s? Two methods, both on the source embeddings e_s (the model's input):

* gradient × input: a_{t,s} = e_s · ∂ log p(y_t) / ∂ e_s. Cheap: one backward pass per target token, all done in
  one batched pass (``teacher_forced(copies=T)``). A first-order estimate, local to the actual input.
* integrated gradients (Sundararajan et al. 2017): a_{t,s} = e_s · mean over α in (0, 1] of ∂ log p(y_t)/∂ e_s
  at α·e, a path from the all-zero input (baseline) to the real one. Its scores add up (completeness) to
  log p(y_t | x) − log p(y_t | baseline); ``completeness_gap`` reports how far the Riemann sum is from that.

Both are signed (a word can make y_t less likely). ``agreement()`` compares each target token's attention row
with the share of |attribution| per source token: do they pick the same top word, and how well do they rank
the words alike (Spearman: the Pearson correlation of the two rows' ranks, through pandas).

``coverage(weights)``: total attention each source token received over the whole translation (Tu et al. 2016):
near 0, a word the decoder never looked at (likely dropped, under-translation); well above 1, a word it kept
returning to (likely translated twice, over-translation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ..limits import check
from ..model import Seq2Seq
from ..tokenizer import TokenizerPair
from .sentence import Prepared, prepare, teacher_forced

METHODS = ("gradient x input", "integrated gradients")
#: Coverage flags: total attention below ``NEVER_ATTENDED`` (likely dropped) or above ``ATTENDED_AGAIN``
#: (likely repeated). Thresholds, not truths: a function word may rightly be skipped.
NEVER_ATTENDED, ATTENDED_AGAIN = 0.25, 1.75


@dataclass(frozen=True, eq=False)  # holds arrays: no element-wise __eq__
class AttributionResult:
    src_pieces: tuple[str, ...]  # (S,) with </s>
    tgt_pieces: tuple[str, ...]  # (T,) the token each row explains, last "</s>"
    tgt_text: str  # the target the decoder was forced on (the model's greedy output when none was given)
    method: str
    scores: np.ndarray  # (T, S) signed attribution of log p(y_t) to source position s
    log_probs: np.ndarray  # (T,) log p(y_t | y_<t, x) on the real input
    baseline_log_probs: np.ndarray | None  # (T,) on the all-zero input (integrated gradients only)
    steps: int  # integration steps (1 for gradient x input)
    attention: np.ndarray | None  # (T, S) the model's attention on the same pass, None without attention

    @property
    def shares(self) -> np.ndarray:
        """(T, S) |a_{t,s}| / Σ_s |a_{t,s}|: each row sums to 1, comparable with an attention row."""
        size = np.abs(self.scores)
        total = size.sum(axis=1, keepdims=True)
        return np.divide(size, total, out=np.zeros_like(size), where=total > 0)

    @property
    def completeness_gap(self) -> np.ndarray | None:
        """(T,) Σ_s a_{t,s} − (log p(y_t | x) − log p(y_t | 0)): near 0 when the integral is well resolved."""
        if self.baseline_log_probs is None:
            return None
        return self.scores.sum(axis=1) - (self.log_probs - self.baseline_log_probs)

    def agreement(self) -> pd.DataFrame:
        """Per target token: the source token attention ranks first, the one attribution ranks first, whether they
        are the same, and the Spearman rank correlation of the two rows (NaN without attention)."""
        rows = []
        for t, token in enumerate(self.tgt_pieces):
            share = pd.Series(self.shares[t])
            row = {"t": t, "token": token, "attribution_top": self.src_pieces[int(share.idxmax())]}
            if self.attention is not None:
                attention = pd.Series(self.attention[t])
                row |= {"attention_top": self.src_pieces[int(attention.idxmax())],
                        "same_top": int(attention.idxmax()) == int(share.idxmax()),
                        "spearman": float(attention.rank().corr(share.rank()))}  # Spearman: Pearson of ranks
            rows.append(row)
        return pd.DataFrame(rows)

    def to_frame(self) -> pd.DataFrame:
        """Long format: t, s, tgt, src, attribution, share (and attention)."""
        t, s = np.indices(self.scores.shape)
        frame = pd.DataFrame({"t": t.ravel(), "s": s.ravel(),
                              "tgt": np.asarray(self.tgt_pieces, dtype=object)[t.ravel()],
                              "src": np.asarray(self.src_pieces, dtype=object)[s.ravel()],
                              "attribution": self.scores.ravel(), "share": self.shares.ravel()})
        if self.attention is not None:
            frame["attention"] = self.attention.ravel()
        return frame

    def to_dict(self) -> dict:
        gap = self.completeness_gap
        return {"method": self.method, "steps": self.steps, "src_pieces": list(self.src_pieces),
                "tgt_pieces": list(self.tgt_pieces), "scores": np.round(self.scores, 6).tolist(),
                "log_probs": np.round(self.log_probs, 6).tolist(),
                "completeness_gap": None if gap is None else np.round(gap, 6).tolist()}


def _gradients_at(model: Seq2Seq, prep: Prepared, alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """At source embeddings α·e: ∂ log p(y_t)/∂ e for every t (T, S, E) in one batched pass, the real embeddings
    e (S, E), and log p(y_t) (T,). A forward hook on the embedding table replaces its output, so the model code
    stays the one that translates."""
    steps = len(prep.tgt_ids) + 1
    held: dict[str, torch.Tensor] = {}

    def scale(_module, _inputs, output):
        held["e"] = output[0].detach()
        held["x"] = (alpha * output.detach()).requires_grad_(True)
        return held["x"]

    handle = model.src_embed.register_forward_hook(scale)
    try:
        with torch.enable_grad():
            fwd = teacher_forced(model, prep, trace=False, copies=steps)
            own = fwd.log_probs.reshape(steps, steps).diagonal()  # row t: log p(y_t), independent rows
            (grad,) = torch.autograd.grad(own.sum(), held["x"])
    finally:
        handle.remove()
    return grad, held["e"], own.detach()


def attribution(model: Seq2Seq, tokenizers: TokenizerPair, src_text: str, tgt_text: str | None = None, *,
                method: str = "integrated gradients", steps: int = 32) -> AttributionResult:
    """Attribution of every target token (teacher-forced on ``tgt_text``, or the model's greedy output) to every
    source token; ``steps`` integration points for integrated gradients (bounded: one batched pass each)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}; got {method!r}")
    steps = 1 if method == METHODS[0] else check("attribution_steps", steps, "steps")
    prep = prepare(model, tokenizers, src_text, tgt_text)
    alphas = [1.0] if steps == 1 else [(k + 0.5) / steps for k in range(steps)]  # midpoint rule on (0, 1)
    total = None
    for alpha in alphas:
        grad, embedding, _ = _gradients_at(model, prep, alpha)
        total = grad if total is None else total + grad
    scores = (total / len(alphas) * embedding.unsqueeze(0)).sum(-1)  # (T, S)
    _, _, log_probs = _gradients_at(model, prep, 1.0)
    baseline = None if steps == 1 else _gradients_at(model, prep, 0.0)[2].double().cpu().numpy()
    with torch.no_grad():
        fwd = teacher_forced(model, prep, trace=False)
    attention = None if fwd.steps[0].attention is None else \
        torch.cat([s.attention for s in fwd.steps]).double().cpu().numpy()
    return AttributionResult(prep.src_pieces, prep.tgt_pieces, prep.tgt_text, method, scores.double().cpu().numpy(),
                             log_probs.double().cpu().numpy(), baseline, steps, attention)


def coverage(weights: np.ndarray, src_pieces: tuple[str, ...]) -> pd.DataFrame:
    """Total attention per source token over the translation, flagged "never attended" / "attended again"
    (``NEVER_ATTENDED``, ``ATTENDED_AGAIN``); the final </s> is not flagged (it collects leftover attention)."""
    total = np.asarray(weights).sum(axis=0)
    flags = ["" if piece == "</s>" else "never attended (dropped?)" if x < NEVER_ATTENDED
             else "attended again (repeated?)" if x > ATTENDED_AGAIN else "" for piece, x in zip(src_pieces, total)]
    return pd.DataFrame({"s": range(len(src_pieces)), "token": src_pieces, "total_attention": total, "flag": flags})
