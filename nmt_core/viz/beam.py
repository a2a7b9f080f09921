"""The beam-search tree as an Altair chart: layout and drawing only, the search facts come from the trace.

Which nodes are alive, finished, kept or pruned at step s, and which lie on the path to a returned
hypothesis, are questions about the search, answered by ``BeamTrace.node_states`` and
``BeamTrace.nbest_rank_through``. This module turns those answers into colours and places the nodes: a
classic left-to-right tree, x = decoding step, leaves stacked top to bottom with the better-scoring child
first, an inner node centred on its children. The layout is computed once for the whole search, so stepping
through it (``upto_step``) only reveals nodes and never moves them, which is what makes "play" watchable.

Node status at step s (colour legend):
  best      on the path to the returned best hypothesis (shown once the search has finished)
  n-best    on the path to another returned hypothesis
  in beam   alive at step s (one of the k kept prefixes)
  kept      an earlier prefix that still has descendants in the beam or among the finished
  finished  a completed hypothesis (ended with </s> or hit the length cap) that was not returned
  pruned    a prefix whose every continuation fell out of the beam (greyed)
"""

from __future__ import annotations

from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from ..beam_trace import BeamTrace
from .common import readable_piece

STATUS_ORDER = ["best", "n-best", "in beam", "kept", "finished", "pruned"]
#: Above this many steps a node's label is its token only (its score is in the tooltip).
DENSE_STEPS = 10
#: Okabe-Ito hues (colour-blind safe): best vermillion, n-best orange, in beam blue, kept sky blue, finished
#: bluish green, pruned grey.
STATUS_COLOURS = ["#D55E00", "#E69F00", "#0072B2", "#56B4E9", "#009E73", "#BBBBBB"]
#: The chart's name for each of ``BeamTrace.node_states``'s answers.
STATUS_OF_STATE = {"alive": "in beam", "kept": "kept", "finished": "finished", "pruned": "pruned", "later": "later"}


def _last_step(trace: BeamTrace) -> int:
    return int(trace.step.max()) if len(trace) else 0


def _layout(trace: BeamTrace) -> np.ndarray:
    """y position of every node: leaves 0, 1, 2, ... in depth-first order (best child first)."""
    children: dict[int, list[int]] = {}
    for node, parent in enumerate(trace.parent.tolist()):
        if parent >= 0:
            children.setdefault(parent, []).append(node)
    score = trace.score.astype(float)
    y = np.zeros(len(trace))
    next_leaf = 0
    stack: list[tuple[int, bool]] = [(0, False)] if len(trace) else []
    while stack:  # iterative post-order, so deep searches cannot hit the recursion limit
        node, expanded = stack.pop()
        kids = sorted(children.get(node, []), key=lambda c: -score[c] if np.isfinite(score[c]) else np.inf)
        if not kids:
            y[node], next_leaf = next_leaf, next_leaf + 1
        elif expanded:
            y[node] = float(np.mean([y[c] for c in kids]))
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(kids))
    return y


def _statuses(trace: BeamTrace, step: int) -> np.ndarray:
    """Legend status of every node at ``step``; once the search is over, the returned paths are highlighted."""
    status = np.array([STATUS_OF_STATE[s] for s in trace.node_states(step)], dtype=object)
    if step >= _last_step(trace):
        on_path = trace.nbest_rank_through()
        status[on_path > 1] = "n-best"
        status[on_path == 1] = "best"
    return status


def _node_text(trace: BeamTrace) -> list[str]:
    """Each node's token as a reader sees it (its id where the trace has no pieces)."""
    if trace.pieces is not None:
        return [readable_piece(p) for p in trace.pieces]
    return [str(t) for t in trace.token.tolist()]


def beam_tree_frames(trace: BeamTrace, upto_step: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(nodes, edges) DataFrames for the chart, with the status of every node at ``upto_step``
    (default: the end of the search). Nodes after ``upto_step`` are dropped."""
    last = _last_step(trace)
    step = last if upto_step is None else max(0, min(int(upto_step), last))
    frame = trace.to_frame()
    nodes = pd.DataFrame({
        "id": frame["id"], "step": frame["step"], "y": _layout(trace), "piece": _node_text(trace),
        "token_logprob": frame["token_logprob"].astype(float).round(3),
        "logprob": frame["logprob"].astype(float).round(3), "score": frame["score"].astype(float).round(3),
        "finished": frame["finished"].astype(bool), "nbest_rank": frame["nbest_rank"].fillna(0).astype(int),
        "status": _statuses(trace, step), "parent": frame["parent"],
    })
    nodes["label"] = [f"{p} {sc:.2f}" if i else "<s>" for i, p, sc in zip(nodes["id"], nodes["piece"], nodes["score"])]
    nodes = nodes[nodes["step"] <= step].reset_index(drop=True)
    pos = nodes.set_index("id")[["step", "y"]]
    child = nodes[nodes["parent"] >= 0]
    edges = pd.DataFrame({
        "x": pos.loc[child["parent"], "step"].to_numpy(), "y": pos.loc[child["parent"], "y"].to_numpy(),
        "x2": child["step"].to_numpy(), "y2": child["y"].to_numpy(), "status": child["status"].to_numpy(),
    })
    return nodes, edges


def _greyed_when_pruned(on: float, off: float) -> dict[str, Any]:
    """Opacity ``on`` for live parts of the tree, ``off`` for pruned ones."""
    return alt.condition(alt.datum.status == "pruned", alt.value(off), alt.value(on))


def beam_tree_chart(trace: BeamTrace, upto_step: int | None = None, *, row_px: int = 24,
                    step_px: int = 110) -> alt.LayerChart:
    """The search tree up to ``upto_step``: nodes labelled "piece score", edges parent -> child, colour =
    status (see module docstring), square = finished hypothesis, hover for every number."""
    full_nodes, _ = beam_tree_frames(trace)  # fixed axes: the chart does not rescale while playing
    nodes, edges = beam_tree_frames(trace, upto_step)
    zoom = alt.selection_interval(bind="scales", encodings=["x", "y"], name="zoom")
    return _draw(nodes, edges, full_nodes, _last_step(trace), zoom, row_px, step_px)


def beam_tree_animation(trace: BeamTrace, *, row_px: int = 24, step_px: int = 110) -> alt.LayerChart:
    """The same tree with every step's statuses in the data and a slider (the ``beam_step`` parameter) that picks
    one: it plays in the browser with no server, e.g. in an exported lesson. Each frame is
    ``beam_tree_frames(trace, k)``, so a node's colour at step k is exactly what the studio shows at step k."""
    last = _last_step(trace)
    frames = [beam_tree_frames(trace, k) for k in range(last + 1)]
    nodes = pd.concat([n.assign(frame=k) for k, (n, _) in enumerate(frames)], ignore_index=True)
    edges = pd.concat([e.assign(frame=k) for k, (_, e) in enumerate(frames)], ignore_index=True)
    step = alt.param(name="beam_step", value=last, bind=alt.binding_range(min=0, max=max(last, 1), step=1,
                                                                           name="search step "))
    return _draw(nodes, edges, frames[-1][0], last, step, row_px, step_px, frame=step)


def _draw(nodes: pd.DataFrame, edges: pd.DataFrame, full_nodes: pd.DataFrame, last: int, param: alt.Parameter,
          row_px: int, step_px: int, frame: alt.Parameter | None = None) -> alt.LayerChart:
    """The tree's layers; with ``frame`` every layer keeps only the rows of that frame (the animation)."""
    n_rows = max(1.0, float(full_nodes["y"].max()) + 1) if len(full_nodes) else 1.0
    x_scale = alt.Scale(domain=[-0.3, last + 0.9])
    y_scale = alt.Scale(domain=[n_rows - 0.5, -0.5])
    colour = alt.Color("status:N", scale=alt.Scale(domain=STATUS_ORDER, range=STATUS_COLOURS),
                       legend=alt.Legend(title="node", orient="top"))

    def chart(data: pd.DataFrame) -> alt.Chart:
        base = alt.Chart(data)
        return base if frame is None else base.transform_filter(alt.datum.frame == frame)

    edge_layer = chart(edges).mark_rule(strokeWidth=1.5).encode(
        x=alt.X("x:Q", scale=x_scale, title="decoding step"), y=alt.Y("y:Q", axis=None, scale=y_scale),
        x2="x2:Q", y2="y2:Q", color=colour, opacity=_greyed_when_pruned(0.9, 0.35))
    tooltip = [alt.Tooltip("piece:N", title="token"), alt.Tooltip("step:Q"),
               alt.Tooltip("token_logprob:Q", title="log p(token)"), alt.Tooltip("logprob:Q", title="log p(prefix)"),
               alt.Tooltip("score:Q", title="score"), alt.Tooltip("status:N"), alt.Tooltip("finished:N"),
               alt.Tooltip("nbest_rank:Q", title="n-best rank (0 = not returned)")]
    base = chart(nodes).encode(
        x=alt.X("step:Q", title="decoding step", scale=x_scale, axis=alt.Axis(tickMinStep=1, format="d", grid=False)),
        y=alt.Y("y:Q", axis=None, scale=y_scale))
    points = base.mark_point(filled=True, size=90).encode(
        color=colour, shape=alt.Shape("finished:N", scale=alt.Scale(domain=[False, True], range=["circle", "square"]),
                                      legend=alt.Legend(title="finished", orient="top")),
        opacity=_greyed_when_pruned(1.0, 0.5), tooltip=tooltip)
    # A long search in a narrow column: the tree is fitted to the column's width (studio), so the labels keep only
    # the token when steps are many (the score stays in the tooltip), and dragging or scrolling pans and zooms.
    label = "label:N" if last <= DENSE_STEPS else "piece:N"
    labels = base.mark_text(align="left", dx=6, dy=-8, fontSize=12 if last <= DENSE_STEPS else 10).encode(
        text=label, color=alt.condition(alt.datum.status == "pruned", alt.value("#9e9e9e"), alt.value("#222")),
        tooltip=tooltip)
    return (edge_layer + points.add_params(param) + labels).properties(
        width=max(300, step_px * (last + 1)), height=max(160, int(row_px * n_rows)))
