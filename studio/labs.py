"""The labs on the pages: their stored result tables, and a button that runs one in the background.

A lab (``nmt_core.labs``) trains several small models and writes CSV tables. The studio shows the newest
tables it can find (a run started here, else the results shipped in labs/ or docs/labs/) and can start a
fresh run through ``nmt_core.jobs``, whose log it follows while the lab runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from nmt_core import jobs, viz
from nmt_core.labs import LABS
from nmt_core.runs import read_metrics
from studio import paths, state


def labs_dir() -> Path:
    """Where a lab started from the studio writes its tables (inside the runs folder)."""
    return paths.runs_root() / "_labs"


def lab_budget() -> str:
    """Budget of a live lab run (env NMT_STUDIO_LAB_BUDGET: tiny | small | full; default small)."""
    return os.environ.get("NMT_STUDIO_LAB_BUDGET", "small")


def lab_tables(name: str) -> tuple[Path | None, dict[str, pd.DataFrame]]:
    """The stored tables of lab ``name``: a run started here (runs/_labs) when there is one, else the shipped
    full-budget results (docs/labs/full), else the shipped small-budget ones (labs/, docs/labs/). Returns
    (folder, {table: DataFrame}); (None, {}) when the lab never ran. Which budget they are: ``lab_info``."""
    stem = name.replace("-", "_")
    longer = [other.replace("-", "_") for other in LABS if other != name and other.startswith(name)]
    folders = [labs_dir(), paths.ROOT / "labs", paths.ROOT / "docs" / "labs" / "full", paths.ROOT / "docs" / "labs"]
    for folder in folders:
        files = sorted(p for p in folder.glob(f"{stem}_*.csv")  # not greedy_vs_beam_en_de_* for greedy-vs-beam
                       if not any(p.name.startswith(f"{o}_") for o in longer)) if folder.is_dir() else []
        if not files or jobs.lab_running(name, folder):
            continue
        tables = {}
        for path in files:
            try:
                tables[path.stem[len(stem) + 1:]] = _read_table(str(path), path.stat().st_mtime)
            except (OSError, ValueError, pd.errors.ParserError):
                continue
        return folder, tables
    return None, {}


@st.cache_data(max_entries=256, show_spinner=False)
def _read_table(path: str, mtime: float) -> pd.DataFrame:
    """One stored lab table, read once per file version (pages show them on every rerun)."""
    return pd.read_csv(path)


def lab_info(name: str, folder: Path | None) -> dict:
    """The ``<lab>_info.json`` beside the tables (budget, settings, run time), or {}."""
    if folder is None:
        return {}
    try:
        return json.loads((folder / f"{name.replace('-', '_')}_info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def live_curves(name: str) -> pd.DataFrame:
    """The training curves of a lab running now (its variants' metrics.jsonl), one ``variant`` each."""
    frames = []
    for path in sorted((labs_dir() / "runs" / name).glob("*/metrics.jsonl")):
        frame = read_metrics(path)
        if not frame.empty and "kind" in frame:
            frames.append(frame[frame["kind"] == "train"].assign(variant=path.parent.name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def lab_runner(name: str, what: str) -> None:
    """A button that runs lab ``name`` in a background process, and its live log while it runs."""
    out = labs_dir()
    if jobs.lab_running(name, out):
        @st.fragment(run_every=2.0)
        def watch() -> None:
            if not jobs.lab_running(name, out):
                st.rerun()  # finished: redraw the page with the new tables
            st.info(f"The {name} lab is running in the background ({lab_budget()} budget); you can leave this page.")
            curves = live_curves(name)
            if not curves.empty:
                st.altair_chart(viz.clipping_chart(curves.assign(kind="train")), width="stretch")
            st.code((out / f"{name}.log").read_text(encoding="utf-8", errors="replace")[-3000:] or "starting…",
                    language=None)

        watch()
        return
    if state.locked():  # an exercise link starts no work
        return
    if st.button(f"Run the {name} lab now ({lab_budget()} budget)", key=f"lab-{name}", help=what,
                 icon=":material/science:"):
        jobs.start_lab(name, out, budget=lab_budget(), cwd=paths.ROOT)
        st.rerun()
