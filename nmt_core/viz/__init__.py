"""Altair figures for inspection results, search traces, lab tables and training metrics. Never imports Streamlit.

Each builder takes a result object (``nmt_core.inspection``, a ``BeamTrace``) or a DataFrame (a lab table,
a ``to_frame()``, ``runs.read_metrics``) and returns an Altair chart with tooltips, so the same figure works
in a page (``st.altair_chart``), a notebook or a test (``chart.to_dict()``, ``chart.save(...)``).

One module per subject; everything public is re-exported here, so ``from nmt_core import viz`` and
``viz.attention_heatmap(...)`` is all a caller needs. Token labels and the heatmap every matrix chart uses
live in ``common``.
"""

from .attention import alignment_lines, attention_heatmap, matrix_heatmap
from .attribution import attribution_heatmap, coverage_chart
from .beam import beam_tree_animation, beam_tree_chart, beam_tree_frames
from .cell import cell_player, cell_svg, player_height
from .common import LABEL_EXPR, axis_labels, readable_piece
from .gates import SIGMOID_GATES, gate_heatmap, intervention_chart, saturation_histogram, unit_lines
from .gradients import grad_norm_chart, salience_heatmap
from .labs import (
    bottleneck_chart,
    clipping_chart,
    depth_chart,
    greedy_vs_beam_chart,
    tbptt_accuracy_chart,
    tbptt_gradient_chart,
    tbptt_speed_chart,
    vanishing_accuracy_chart,
    vanishing_gradient_chart,
)
from .training import length_histogram, token_logprob_bars, training_curves
from .training_replay import training_replay_chart

__all__ = [
    "LABEL_EXPR", "SIGMOID_GATES", "alignment_lines", "attention_heatmap", "attribution_heatmap", "axis_labels",
    "beam_tree_animation", "beam_tree_chart", "beam_tree_frames", "bottleneck_chart", "cell_player", "cell_svg",
    "clipping_chart", "coverage_chart", "depth_chart", "gate_heatmap", "grad_norm_chart", "greedy_vs_beam_chart",
    "intervention_chart", "length_histogram", "matrix_heatmap", "player_height", "readable_piece", "salience_heatmap",
    "saturation_histogram", "tbptt_accuracy_chart", "tbptt_gradient_chart", "tbptt_speed_chart", "token_logprob_bars",
    "training_curves", "training_replay_chart", "unit_lines", "vanishing_accuracy_chart", "vanishing_gradient_chart",
]
