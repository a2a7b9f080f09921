"""Gradient flow through time for one sentence pair: which quantity each number is matters.

The loss is the sentence's summed cross-entropy, L = −Σ_t log p(y_t | y_<t, x), teacher-forced on the
target (y_T = </s>). The model runs on the replay path (``trace=True``): every hidden state h_t of
every layer and direction is a separate graph node (``LayerTrace.h_steps``), so autograd gives

* ``encoder[(layer, direction)][s]`` = ‖dL/dh_s‖, the TOTAL derivative: every path from h_s to the
  loss counts, through the recurrence (h_{s+1}, h_{s+2}, ...), the layer above, attention and the
  bridge into the decoder. This is the quantity the vanishing-gradient story is about; a fused kernel
  cannot give it (it only exposes the layer's outputs). For an LSTM the cell c_s is a separate path:
  this is the gradient with respect to h_s, not c_s.
* ``decoder[(layer, 0)][t]`` = ‖dL/ds_t‖ for the decoder state at step t (the step that predicts y_t),
  again total: the loss at step t and every later step through the recurrence and input feeding.
* ``encoder_outputs[s]`` = ‖∂L/∂o_s‖ with o_s the encoder's top-layer output vector as attention reads
  it (keys and values). Only the attention path: it excludes the recurrence and the bridge, so it is
  zero for a model without attention. Compare it with the total derivative above.
* ``salience[t, s]`` = ‖d log p(y_t) / d h_s‖ between target step t and source position s, where h_s is
  the encoder's TOP-layer state at s (both directions concatenated, i.e. the norm over the pair of
  total derivatives) — with ``salience_wrt="outputs"``, the attention-only ∂ log p(y_t)/∂o_s instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from ..model import Seq2Seq
from ..tokenizer import TokenizerPair
from .sentence import prepare, teacher_forced

QUANTITIES = {
    "dL/dh (total)": "‖dL/dh_t‖, total derivative through the recurrence (replay h_steps)",
    "dL/do (attention path)": "‖∂L/∂o_s‖, encoder output as attention reads it; no recurrence, no bridge",
}


@dataclass(frozen=True, eq=False)  # holds arrays: no element-wise __eq__
class GradientFlowResult:
    src_pieces: tuple[str, ...]  # (S,)
    tgt_pieces: tuple[str, ...]  # (T,) token predicted at each decoder step
    loss: float  # L = −Σ_t log p(y_t), the sentence's summed cross-entropy
    encoder: dict[tuple[int, int], np.ndarray]  # (layer, direction) -> (S,) ‖dL/dh_s‖, total derivative
    decoder: dict[tuple[int, int], np.ndarray]  # (layer, 0) -> (T,) ‖dL/ds_t‖, total derivative
    encoder_outputs: np.ndarray  # (S,) ‖∂L/∂o_s‖, attention path only
    salience: np.ndarray  # (T, S) ‖d log p(y_t)/d h_s‖ (top layer, total) or ‖∂ log p(y_t)/∂o_s‖
    salience_wrt: str  # "states" (top-layer h_s, total derivative) | "outputs" (attention path)

    def to_frame(self) -> pd.DataFrame:
        """Long format: side, layer, direction, t, token, quantity, grad_norm (direction -1: both)."""
        rows = []
        for side, table, labels in (("encoder", self.encoder, self.src_pieces),
                                    ("decoder", self.decoder, self.tgt_pieces)):
            for (layer, direction), norms in table.items():
                rows += [{"side": side, "layer": layer, "direction": direction, "t": t, "token": labels[t],
                          "quantity": "dL/dh (total)", "grad_norm": float(v)} for t, v in enumerate(norms)]
        top = max(layer for layer, _ in self.encoder)
        rows += [{"side": "encoder", "layer": top, "direction": -1, "t": s, "token": self.src_pieces[s],
                  "quantity": "dL/do (attention path)", "grad_norm": float(v)}
                 for s, v in enumerate(self.encoder_outputs)]
        return pd.DataFrame(rows)

    def salience_frame(self) -> pd.DataFrame:
        """Long format: t, s, tgt, src, salience."""
        t_idx, s_idx = np.indices(self.salience.shape)
        return pd.DataFrame({"t": t_idx.ravel(), "s": s_idx.ravel(),
                             "tgt": np.asarray(self.tgt_pieces, dtype=object)[t_idx.ravel()],
                             "src": np.asarray(self.src_pieces, dtype=object)[s_idx.ravel()],
                             "salience": self.salience.ravel()})

    def to_dict(self) -> dict:
        r = lambda a: np.round(np.asarray(a, dtype=float), 8).tolist()  # noqa: E731
        return {"src_pieces": list(self.src_pieces), "tgt_pieces": list(self.tgt_pieces), "loss": self.loss,
                "quantities": QUANTITIES, "salience_wrt": self.salience_wrt,
                "encoder": [{"layer": k[0], "direction": k[1], "grad_norm": r(v)} for k, v in self.encoder.items()],
                "decoder": [{"layer": k[0], "direction": k[1], "grad_norm": r(v)} for k, v in self.decoder.items()],
                "encoder_outputs": r(self.encoder_outputs), "salience": r(self.salience)}


def gradient_flow(model: Seq2Seq, tokenizers: TokenizerPair, src_text: str, tgt_text: str | None = None,
                  *, salience_wrt: str = "states") -> GradientFlowResult:
    """Per-timestep gradient norms and the target-by-source salience matrix (see the module docstring
    for exactly which derivative each number is). ``tgt_text=None`` uses the model's greedy output."""
    if salience_wrt not in ("states", "outputs"):
        raise ValueError(f"salience_wrt must be 'states' or 'outputs', got {salience_wrt!r}")
    prep = prepare(model, tokenizers, src_text, tgt_text)
    with torch.enable_grad():
        fwd = teacher_forced(model, prep, trace=True)
        enc_nodes = {(tr.layer, tr.direction): tr.h_steps for tr in fwd.enc.traces}  # each: S x (1, H)
        n_dec = len(fwd.steps[0].traces)
        dec_nodes = {(k, 0): [step.traces[k].h_steps[0] for step in fwd.steps] for k in range(n_dec)}
        groups = [*enc_nodes.values(), *dec_nodes.values(), [fwd.enc.outputs]]
        norms = _grad_norms(-fwd.log_probs.sum(), groups, retain=True)
        salience = _salience(model, prep, salience_wrt)
    n_enc = len(enc_nodes)
    return GradientFlowResult(
        prep.src_pieces, prep.tgt_pieces, float(-fwd.log_probs.detach().sum()),
        encoder=dict(zip(enc_nodes, norms[:n_enc])),
        decoder=dict(zip(dec_nodes, norms[n_enc:n_enc + n_dec])),
        encoder_outputs=norms[-1][0],  # the (1, S, He) tensor's per-position norms
        salience=salience, salience_wrt=salience_wrt)


def _salience(model: Seq2Seq, prep, wrt: str) -> np.ndarray:
    """(T, S) ‖d log p(y_t)/d h_s‖ in ONE backward pass: a batch of T identical rows, row t's objective
    being its own log p(y_t) (rows do not interact, so each row's gradient is exactly that derivative)."""
    n_steps = len(prep.tgt_ids) + 1
    batch = teacher_forced(model, prep, trace=True, copies=n_steps)
    table = batch.log_probs.view(n_steps, n_steps)  # copies=1 (an empty output: T = 1) comes back 1-D
    objective = table.diagonal().sum()
    if wrt == "outputs":
        (grad,) = torch.autograd.grad(objective, [batch.enc.outputs], allow_unused=True)  # (T, S, He)
        if grad is None:  # no attention: the outputs are not read at all
            return np.zeros((n_steps, len(prep.src_ids)))
        return grad.double().pow(2).sum(-1).sqrt().cpu().numpy()
    top = max(tr.layer for tr in batch.enc.traces)
    nodes = [tr.h_steps for tr in batch.enc.traces if tr.layer == top]  # per direction: S x (T, H)
    flat = [node for direction in nodes for node in direction]
    grads = torch.autograd.grad(objective, flat, allow_unused=True)
    squared = [torch.zeros(n_steps, dtype=torch.float64) if g is None else g.double().pow(2).sum(-1).cpu()
               for g in grads]  # each (T,)
    n_src = len(nodes[0])
    per_position = [sum(squared[d * n_src + s] for d in range(len(nodes))) for s in range(n_src)]
    return torch.stack(per_position, dim=1).sqrt().numpy()  # (T, S)


def _grad_norms(objective: Tensor, groups: list[list[Tensor]], *, retain: bool, squared: bool = False):
    """For each group of graph nodes, the per-node gradient norms of ``objective`` (0 if unused).
    A (1, H) node gives one number; the (1, S, He) encoder output gives one per position."""
    flat = [node for group in groups for node in group]
    grads = torch.autograd.grad(objective, flat, retain_graph=retain, allow_unused=True)
    out, i = [], 0
    for group in groups:
        values = []
        for node in group:
            g = grads[i] if grads[i] is not None else torch.zeros_like(node)
            sq = g.double().pow(2).sum(dim=-1)  # (1,) or (1, S)
            values.append((sq if squared else sq.sqrt()).cpu().numpy())
            i += 1
        out.append(np.concatenate(values, axis=0) if values[0].ndim == 1 else values[0])
    return out
