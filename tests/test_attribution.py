"""Attribution against independent references on a tiny float64 model: finite differences, one autograd pass per
target token (no batching trick), the completeness axiom of integrated gradients; coverage on a hand-made matrix."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nmt_core.config import ModelConfig
from nmt_core.inspection import attention_matrix
from nmt_core.inspection.attribution import attribution, coverage
from nmt_core.inspection.sentence import prepare, teacher_forced
from nmt_core.limits import LimitError
from nmt_core.model import Seq2Seq

SRC, TGT = "the red car is fast", "el coche rojo es rápido"


def make_model(tok, **kw) -> Seq2Seq:
    torch.manual_seed(5)
    cfg = ModelConfig(cell="lstm", embedding_size=6, hidden_size=5, dropout=0.0, bidirectional=True,
                      src_vocab_size=tok.src.vocab_size, tgt_vocab_size=tok.tgt.vocab_size, **kw)
    return Seq2Seq(cfg).double().eval()


def log_probs_with(model, prep, scale_row: int | None = None, factor: float = 1.0) -> np.ndarray:
    """log p(y_t) for all t with source embedding ``scale_row`` multiplied by ``factor`` (no gradients)."""
    def hook(_m, _i, out):
        out = out.clone()
        if scale_row is not None:
            out[:, scale_row] *= factor
        return out

    handle = model.src_embed.register_forward_hook(hook)
    try:
        with torch.no_grad():
            return teacher_forced(model, prep, trace=False).log_probs.numpy()
    finally:
        handle.remove()


def test_gradient_x_input_equals_finite_differences(tiny_tokenizers):
    model = make_model(tiny_tokenizers)
    result = attribution(model, tiny_tokenizers, SRC, TGT, method="gradient x input")
    prep = prepare(model, tiny_tokenizers, SRC, TGT)
    eps = 1e-6  # d/dε log p(y_t) with e_s → (1 + ε) e_s is exactly e_s · ∂ log p(y_t)/∂ e_s
    for s in range(len(prep.src_ids)):
        up, down = log_probs_with(model, prep, s, 1 + eps), log_probs_with(model, prep, s, 1 - eps)
        np.testing.assert_allclose(result.scores[:, s], (up - down) / (2 * eps), atol=1e-7)


def test_batched_gradients_equal_one_backward_pass_per_token(tiny_tokenizers):
    model = make_model(tiny_tokenizers, input_feeding=True)
    result = attribution(model, tiny_tokenizers, SRC, TGT, method="gradient x input")
    prep = prepare(model, tiny_tokenizers, SRC, TGT)
    for t in range(len(prep.tgt_ids) + 1):
        held = {}

        def keep(_m, _i, out, held=held):
            held["x"] = out.detach().requires_grad_(True)
            return held["x"]

        handle = model.src_embed.register_forward_hook(keep)
        try:
            with torch.enable_grad():
                fwd = teacher_forced(model, prep, trace=False)
                (grad,) = torch.autograd.grad(fwd.log_probs[t], held["x"])
        finally:
            handle.remove()
        np.testing.assert_allclose(result.scores[t], (grad[0] * held["x"][0]).sum(-1).detach().numpy(), atol=1e-12)


def test_integrated_gradients_add_up_to_the_change_in_log_probability(tiny_tokenizers):
    model = make_model(tiny_tokenizers)
    result = attribution(model, tiny_tokenizers, SRC, TGT, steps=64)
    prep = prepare(model, tiny_tokenizers, SRC, TGT)
    np.testing.assert_allclose(result.log_probs, log_probs_with(model, prep), atol=1e-12)
    np.testing.assert_allclose(result.baseline_log_probs, _at_zero(model, prep), atol=1e-12)
    change = np.abs(result.log_probs - result.baseline_log_probs)
    assert np.all(np.abs(result.completeness_gap) <= 0.01 * change + 1e-4)
    coarse = attribution(model, tiny_tokenizers, SRC, TGT, steps=2)
    assert np.abs(coarse.completeness_gap).sum() > np.abs(result.completeness_gap).sum()  # resolution matters


def _at_zero(model, prep) -> np.ndarray:
    def zero(_m, _i, out):
        return torch.zeros_like(out)

    handle = model.src_embed.register_forward_hook(zero)
    try:
        with torch.no_grad():
            return teacher_forced(model, prep, trace=False).log_probs.numpy()
    finally:
        handle.remove()


def test_attention_and_agreement_come_from_the_same_pass(tiny_tokenizers):
    model = make_model(tiny_tokenizers, attention="general")
    result = attribution(model, tiny_tokenizers, SRC, TGT, method="gradient x input")
    np.testing.assert_allclose(result.attention, attention_matrix(model, tiny_tokenizers, SRC, TGT).weights,
                               atol=1e-6)
    table = result.agreement()
    assert list(table.token) == list(result.tgt_pieces) and table.spearman.between(-1, 1).all()
    np.testing.assert_allclose(result.shares.sum(axis=1), 1.0)
    frame = result.to_frame()
    assert len(frame) == result.scores.size and {"attribution", "share", "attention"} <= set(frame.columns)
    no_attention = attribution(make_model(tiny_tokenizers, attention="none"), tiny_tokenizers, SRC, TGT,
                               method="gradient x input")
    assert no_attention.attention is None and "spearman" not in no_attention.agreement()


def test_bounds_and_methods(tiny_tokenizers):
    model = make_model(tiny_tokenizers)
    with pytest.raises(LimitError, match="steps=1000 is out of range 1..256"):
        attribution(model, tiny_tokenizers, SRC, steps=1000)
    with pytest.raises(ValueError, match="method must be one of"):
        attribution(model, tiny_tokenizers, SRC, method="lime")


def test_coverage_flags_dropped_and_repeated_words():
    weights = np.array([[0.9, 0.0, 0.05, 0.05], [0.9, 0.05, 0.0, 0.05], [0.1, 0.0, 0.85, 0.05]])
    table = coverage(weights, ("a", "b", "c", "</s>"))
    assert list(table.total_attention.round(2)) == [1.9, 0.05, 0.9, 0.15]
    assert list(table.flag) == ["attended again (repeated?)", "never attended (dropped?)", "", ""]
