"""The beam-search tree as an Altair chart (the one figure ``viz.py`` does not have).

Input is ``BeamTrace.to_frame()`` (one row per node: id, step, parent, piece, scores, finished,
nbest_rank). The layout is a classic left-to-right tree: x = decoding step, leaves stacked top to
bottom with the better-scoring child first, an inner node centred on its children. The layout is
computed once for the whole search, so stepping through it (``upto_step``) only reveals nodes and never
moves them, which is what makes "play" watchable.

Node status at step s (colour legend):
  best      on the path to the returned best hypothesis (shown once the search has finished)
  n-best    on the path to another returned hypothesis
  in beam   alive at step s (one of the k kept prefixes)
  kept      an earlier prefix that still has descendants in the beam or among the finished
  finished  a completed hypothesis (ended with </s> or hit the length cap) that was not returned
  pruned    a prefix whose every continuation fell out of the beam (greyed)
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

STATUS_ORDER = ["best", "n-best", "in beam", "kept", "finished", "pruned"]
STATUS_COLOURS = ["#d62728", "#ff7f0e", "#1f77b4", "#6baed6", "#2ca02c", "#c7c7c7"]


def _children(parent: np.ndarray) -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for node, p in enumerate(parent):
        if p >= 0:
            kids.setdefault(int(p), []).append(node)
    return kids


def _layout(frame: pd.DataFrame) -> np.ndarray:
    """y position of every node: leaves 0, 1, 2, ... in depth-first order (best child first)."""
    parent = frame["parent"].to_numpy()
    score = frame["score"].to_numpy(dtype=float)
    kids = _children(parent)
    y = np.zeros(len(frame))
    next_leaf = 0
    stack: list[tuple[int, bool]] = [(0, False)]
    while stack:  # iterative post-order, so deep searches cannot hit the recursion limit
        node, expanded = stack.pop()
        children = sorted(kids.get(node, []), key=lambda c: -score[c] if np.isfinite(score[c]) else np.inf)
        if not children:
            y[node], next_leaf = next_leaf, next_leaf + 1
        elif expanded:
            y[node] = float(np.mean([y[c] for c in children]))
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(children))
    return y


def beam_tree_frames(trace_frame: pd.DataFrame, upto_step: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(nodes, edges) DataFrames for the chart, with the status of every node at ``upto_step``
    (default: the end of the search). Nodes after ``upto_step`` are dropped."""
    frame = trace_frame.reset_index(drop=True)
    last = int(frame["step"].max()) if len(frame) else 0
    s = last if upto_step is None else max(0, min(int(upto_step), last))
    parent = frame["parent"].to_numpy()
    step = frame["step"].to_numpy()
    finished = frame["finished"].to_numpy(dtype=bool)
    rank = frame["nbest_rank"].astype("Float64").fillna(0).to_numpy(dtype=float).astype(int)
    visible = step <= s
    # Which nodes lie on the path to a returned hypothesis (rank 1 = best).
    on_path = np.zeros(len(frame), dtype=int)
    for node in np.argsort(-rank):  # lower ranks overwrite higher ones, so the best path wins
        r = rank[node]
        if r <= 0:
            continue
        n = int(node)
        while n >= 0:
            on_path[n] = r
            n = int(parent[n])
    # Alive at s: visible leaves of the step-s frontier; "kept": has a visible alive/finished descendant.
    alive = visible & (step == s) & ~finished
    useful = alive | (visible & finished)
    has_useful = useful.copy()
    for node in np.argsort(-step):  # children before parents
        p = int(parent[node])
        if p >= 0 and has_useful[node] and visible[node]:
            has_useful[p] = True
    done = s >= last
    status = np.full(len(frame), "pruned", dtype=object)
    status[has_useful] = "kept"
    status[visible & finished] = "finished"
    status[alive] = "in beam"
    if done:
        status[on_path > 1] = "n-best"
        status[on_path == 1] = "best"
    if "piece" in frame and frame["piece"].notna().all():
        piece = frame["piece"].astype(str).str.replace("▁", "", regex=False).replace("", "▁")
    else:
        piece = frame["token"].astype(str)
    nodes = pd.DataFrame({
        "id": frame["id"], "step": step, "y": _layout(frame), "piece": piece.astype(str),
        "token_logprob": frame["token_logprob"].astype(float).round(3),
        "logprob": frame["logprob"].astype(float).round(3), "score": frame["score"].astype(float).round(3),
        "finished": finished, "nbest_rank": rank, "status": status, "parent": parent,
    })
    nodes["label"] = [f"{p} {sc:.2f}" if i else "<s>" for i, p, sc in zip(nodes["id"], nodes["piece"], nodes["score"])]
    nodes = nodes[visible].reset_index(drop=True)
    pos = nodes.set_index("id")[["step", "y"]]
    child = nodes[nodes["parent"] >= 0]
    edges = pd.DataFrame({
        "x": pos.loc[child["parent"], "step"].to_numpy(), "y": pos.loc[child["parent"], "y"].to_numpy(),
        "x2": child["step"].to_numpy(), "y2": child["y"].to_numpy(), "status": child["status"].to_numpy(),
    })
    return nodes, edges


def beam_tree_chart(trace_frame: pd.DataFrame, upto_step: int | None = None, *, row_px: int = 24,
                    step_px: int = 110) -> alt.LayerChart:
    """The search tree up to ``upto_step``: nodes labelled "piece score", edges parent -> child, colour =
    status (see module docstring), square = finished hypothesis, hover for every number."""
    full_nodes, _ = beam_tree_frames(trace_frame)  # fixed axes: the chart does not rescale while playing
    nodes, edges = beam_tree_frames(trace_frame, upto_step)
    n_rows = max(1.0, float(full_nodes["y"].max()) + 1) if len(full_nodes) else 1.0
    last = int(full_nodes["step"].max()) if len(full_nodes) else 0
    x_scale = alt.Scale(domain=[-0.3, last + 0.9])
    y_scale = alt.Scale(domain=[n_rows - 0.5, -0.5])
    c_scale = alt.Scale(domain=STATUS_ORDER, range=STATUS_COLOURS)
    x = alt.X("step:Q", title="decoding step", scale=x_scale, axis=alt.Axis(tickMinStep=1, format="d", grid=False))
    y = alt.Y("y:Q", axis=None, scale=y_scale)
    legend = alt.Legend(title="node", orient="top")
    colour = alt.Color("status:N", scale=c_scale, legend=legend)
    edge_layer = alt.Chart(edges).mark_rule(strokeWidth=1.5).encode(
        x=alt.X("x:Q", scale=x_scale, title="decoding step"), y=alt.Y("y:Q", axis=None, scale=y_scale),
        x2="x2:Q", y2="y2:Q", color=alt.Color("status:N", scale=c_scale, legend=legend),
        opacity=alt.condition(alt.datum.status == "pruned", alt.value(0.35), alt.value(0.9)),
    )
    tooltip = [alt.Tooltip("piece:N", title="token"), alt.Tooltip("step:Q"),
               alt.Tooltip("token_logprob:Q", title="log p(token)"), alt.Tooltip("logprob:Q", title="log p(prefix)"),
               alt.Tooltip("score:Q", title="score"), alt.Tooltip("status:N"), alt.Tooltip("finished:N"),
               alt.Tooltip("nbest_rank:Q", title="n-best rank (0 = not returned)")]
    base = alt.Chart(nodes).encode(x=x, y=y)
    points = base.mark_point(filled=True, size=90).encode(
        color=colour, shape=alt.Shape("finished:N", scale=alt.Scale(domain=[False, True], range=["circle", "square"]),
                                      legend=alt.Legend(title="finished", orient="top")),
        opacity=alt.condition(alt.datum.status == "pruned", alt.value(0.5), alt.value(1.0)), tooltip=tooltip)
    labels = base.mark_text(align="left", dx=7, dy=-8, fontSize=12).encode(
        text="label:N", color=alt.condition(alt.datum.status == "pruned", alt.value("#9e9e9e"), alt.value("#222")),
        tooltip=tooltip)
    return (edge_layer + points + labels).properties(width=max(300, step_px * (last + 1)),
                                                     height=max(160, int(row_px * n_rows)))
