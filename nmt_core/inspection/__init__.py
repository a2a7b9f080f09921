"""Looking inside a trained model, one sentence at a time (no Streamlit here; charts live in viz.py).

* ``attention``: teacher-forced attention matrices and alignment quality (AER, precision, recall).
* ``gates``: every gate of every recurrent layer, replayed, with saturation/forget/position summaries.
* ``gradients``: ‖dL/dh_t‖ through the recurrence and target-by-source salience.
* ``interventions``: block attention or clamp a gate unit, decode again, compare.
* ``bundle``: all of it as one JSON-ready dict (the ``inspect`` CLI command).

Every result is a frozen dataclass of numpy arrays and token strings with ``to_frame()`` and ``to_dict()``.
"""

from .attention import (
    AlignmentScores,
    AttentionResult,
    aer,
    alignment_report,
    alignment_scores,
    argmax_alignment,
    attention_matrix,
    corpus_alignment_scores,
)
from .bundle import inspect_sentence
from .gates import GateResult, gate_trace
from .gradients import GradientFlowResult, gradient_flow
from .interventions import InterventionResult, clamp_gate, intervene, keep_only_source

__all__ = [
    "AlignmentScores", "AttentionResult", "GateResult", "GradientFlowResult", "InterventionResult", "aer",
    "alignment_report", "alignment_scores", "argmax_alignment", "attention_matrix", "clamp_gate",
    "corpus_alignment_scores", "gate_trace", "gradient_flow", "inspect_sentence", "intervene", "keep_only_source",
]
