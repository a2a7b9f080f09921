"""Teaching labs: small controlled experiments, each a function returning tables (``LabResult``).

    python -m nmt_core lab vanishing --budget small --out labs/

=============== ==========================================================================================
vanishing       rnn / gru / lstm / lstm with an open forget gate on "recall the first symbol", lags 5..100:
                accuracy per lag and ‖dL_T/dh_{T-k}‖ against k, at initialisation and after training
bottleneck      attention vs no attention on the same data: BLEU by source-length bucket (Bahdanau 2015)
clipping        the same model with and without gradient clipping at a high learning rate: gradient-norm
                and loss traces, and what the NaN guard does
depth           1 vs 2 layers, uni- vs bidirectional encoder, under the same budget
greedy-vs-beam  dev sentences where beam search beats greedy, and the step where greedy went wrong
bottleneck-en-de      the bottleneck on real English-German: the shipped attention and no-attention models
greedy-vs-beam-en-de  greedy vs beam on the shipped English-German model (no training: held-out test pairs)
tbptt           truncated BPTT: the learnable dependency length as a function of the window k (rnn, lstm),
                the gradient that stops at the window edge, and the time per sequence
=============== ==========================================================================================

Every lab takes ``budget`` ("tiny" for tests, "small" for a live run of a minute or two on a laptop
CPU, "full" for a classroom-quality run), a ``seed`` and an optional ``progress`` callback, and writes
one CSV per table with ``LabResult.write(out_dir)``. Lab modules are imported only when a lab runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

from .common import BUDGETS, LabResult

#: lab name -> module in this package and its function ``(budget, *, seed, work_dir, progress)`` (default ``run``).
LABS: dict[str, str] = {
    "vanishing": "vanishing",
    "bottleneck": "bottleneck",
    "clipping": "clipping",
    "depth": "depth",
    "greedy-vs-beam": "greedy_vs_beam",
    "tbptt": "tbptt",
    "bottleneck-en-de": "real_language:run_bottleneck",
    "greedy-vs-beam-en-de": "real_language:run_greedy_vs_beam",
}


def run_lab(name: str, *, budget: str = "small", out_dir: str | Path | None = None, seed: int = 0,
            progress: Callable[[str], None] | None = None) -> LabResult:
    """Run lab ``name``; with ``out_dir`` its tables are written there as CSV (runs go to out_dir/runs)."""
    if name not in LABS:
        raise ValueError(f"unknown lab {name!r}; available: {', '.join(LABS)}")
    if budget not in BUDGETS:
        raise ValueError(f"unknown budget {budget!r}; use one of {', '.join(BUDGETS)}")
    module_name, _, function = LABS[name].partition(":")
    lab = getattr(importlib.import_module(f".{module_name}", __name__), function or "run")
    work_dir = None if out_dir is None else Path(out_dir) / "runs" / name
    result = lab(budget, seed=seed, work_dir=work_dir, progress=progress)
    if out_dir is not None:
        result.write(out_dir)
    return result


__all__ = ["BUDGETS", "LABS", "LabResult", "run_lab"]
