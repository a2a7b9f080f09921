"""Everything the inspection pages show for one sentence, as one JSON-serialisable dict.

Backs ``python -m nmt_core inspect --checkpoint CKPT --src TEXT [--tgt TEXT] --out FILE.json``.
"""

from __future__ import annotations

from typing import Any

from ..checkpoint import Checkpoint
from .attention import attention_matrix
from .gates import gate_trace
from .gradients import gradient_flow


def inspect_sentence(checkpoint: Checkpoint, src: str, tgt: str | None = None) -> dict[str, Any]:
    """Attention, gates (with summaries) and gradient flow for one sentence. Without ``tgt`` the
    model's greedy output is the target everything is teacher-forced on."""
    from ..notices import check_source
    from .sentence import MAX_PIECES

    model, tokenizers = checkpoint.model, checkpoint.tokenizers
    notices = check_source(src, tokenizers.src, max_pieces=MAX_PIECES, max_words=checkpoint.training_max_words).notices
    gates = gate_trace(model, tokenizers, src, tgt)
    target = gates.tgt_text  # the reference, or the greedy output computed once here
    attention = None if model.attention is None else attention_matrix(model, tokenizers, src, target)
    gradients = gradient_flow(model, tokenizers, src, target)
    m = checkpoint.config.model
    return {
        "src": src,
        "notices": [{"kind": n.kind, "message": n.message, "positions": list(n.positions)} for n in notices],
        "tgt": target,
        "tgt_from_model": tgt is None,
        "model": {"cell": m.cell, "attention": m.attention, "hidden_size": m.hidden_size,
                  "encoder_layers": m.encoder_layers, "decoder_layers": m.decoder_layers,
                  "bidirectional": m.bidirectional, "step": checkpoint.step},
        "attention": None if attention is None else attention.to_dict(),
        "gates": gates.to_dict(),
        "gate_saturation": gates.saturation().to_dict(orient="records"),
        "forget_gate_means": gates.mean_forget_gate().to_dict(orient="records"),
        "position_units": gates.position_units().to_dict(orient="records"),
        "gradients": gradients.to_dict(),
    }
