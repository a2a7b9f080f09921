"""Everything the linked views need for one sentence, computed on ONE target: the beam search's best translation.

Why one target: attention, salience, decoder gates and the beam tree are each computed by their own function;
if one ran on the greedy output and another on the beam's, "row t" would mean different tokens in different
views and the linking would lie. Here the beam search runs first and every other view is teacher-forced on its
best translation. Re-reading that text could in principle split it into other pieces than the search produced;
``tree_matches`` says whether the best path spells exactly the rows, and the tree is linked only then.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..beam_trace import BeamTrace
from ..translator import Translator
from .attention import attention_matrix
from .gates import gate_trace
from .gradients import gradient_flow


@dataclass(frozen=True, eq=False)  # holds arrays: no element-wise __eq__
class LinkedSentence:
    src_pieces: tuple[str, ...]  # (S,) with </s>
    tgt_pieces: tuple[str, ...]  # (T,) the token each decoder step predicts, last </s>
    tgt_text: str  # the beam search's best translation, which every view runs on
    attention: np.ndarray | None  # (T, S)
    salience: np.ndarray  # (T, S) ‖d log p(y_t) / d h_s‖, top encoder layer
    decoder_states: np.ndarray  # (T, H) one decoder quantity per step (a gate, c or h)
    decoder_label: str  # what ``decoder_states`` is, e.g. "decoder layer 0 · f"
    encoder_states: np.ndarray  # (S, D·H) the encoder's top-layer h, directions side by side
    trace: BeamTrace  # the search that found ``tgt_text``
    tree_matches: bool  # the best path's pieces are exactly ``tgt_pieces`` (the tree can be linked row by row)

    def to_frame(self) -> pd.DataFrame:
        """Every number of every view, long format: view, t (target row), s (source row), unit, value."""
        parts = []
        matrices = {"salience": self.salience} | ({} if self.attention is None else {"attention": self.attention})
        for view, matrix in matrices.items():
            t, s = np.indices(matrix.shape)
            parts.append(pd.DataFrame({"view": view, "t": t.ravel(), "s": s.ravel(), "unit": -1,
                                       "value": matrix.ravel()}))
        for view, states, field in ((self.decoder_label, self.decoder_states, "t"),
                                    ("encoder top layer · h", self.encoder_states, "s")):
            row, unit = np.indices(states.shape)
            other = "s" if field == "t" else "t"
            parts.append(pd.DataFrame({"view": view, field: row.ravel(), other: -1, "unit": unit.ravel(),
                                       "value": states.ravel()}))
        frame = pd.concat(parts, ignore_index=True)[["view", "t", "s", "unit", "value"]]
        frame["target"] = [self.tgt_pieces[t] if t >= 0 else "" for t in frame.t]
        frame["source"] = [self.src_pieces[s] if s >= 0 else "" for s in frame.s]
        return frame


def linked_sentence(translator: Translator, sentence: str, *, beam_size: int = 5, gate: str = "h",
                    layer: int = 0) -> LinkedSentence:
    """The linked views' data for ``sentence``: beam search (``beam_size``) first, the rest on its best output;
    ``gate`` of decoder ``layer`` is the decoder view (any quantity the cell records: f, i, o, c, h, ...)."""
    model, tokenizers = translator.model, translator.tokenizers
    result = translator.beam_search(sentence, beam_size=beam_size, nbest=1)
    target = result.best.text or ""
    if not target.strip():
        raise ValueError("the model's translation is empty: there is nothing to link")
    gates = gate_trace(model, tokenizers, sentence, target)
    if ("decoder", layer, 0, gate) not in gates.values:
        names = sorted({k[3] for k in gates.values if k[0] == "decoder"})
        layers = sorted({k[1] for k in gates.values if k[0] == "decoder"})
        raise ValueError(f"the decoder records {', '.join(names)} in layers {layers}, not {gate!r} in layer {layer}")
    top = max(k[1] for k in gates.values if k[0] == "encoder")
    directions = sorted({k[2] for k in gates.values if k[0] == "encoder" and k[1] == top})
    encoder = np.concatenate([gates.get("encoder", "h", top, d) for d in directions], axis=1)
    flow = gradient_flow(model, tokenizers, sentence, target)
    attention = attention_matrix(model, tokenizers, sentence, target).weights if model.attention is not None else None
    matches = result.best.output_ids == tokenizers.tgt.encode(target)  # the rows are the search's own tokens
    return LinkedSentence(gates.src_pieces, gates.tgt_pieces, target, attention, flow.salience,
                          gates.get("decoder", gate, layer, 0), f"decoder layer {layer} · {gate}", encoder,
                          result.trace, matches)
