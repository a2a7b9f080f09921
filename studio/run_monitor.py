"""Watching a training run: progress, ETA, dev scores, curves, dev translations and the log.

It reads only the run folder (status.json, metrics.jsonl, the log), so it shows runs started by other
sessions or from a terminal just as well. While the run is active a fragment polls it every 2 s; when the
run's state changes it forces a full rerun, which redraws the run list and buttons and starts or stops polling.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from nmt_core import jobs, viz
from nmt_core.runs import format_seconds, list_runs, log_tail, read_metrics, run_info
from studio import paths
from studio.display import escape_md
from studio.downloads import chart_with_downloads


def busy_notice() -> None:
    """Which runs are using the server, refreshed every 2 s while any is (the step count must not stand still)."""
    active = [r for r in list_runs(paths.runs_root()) if r.active]

    @st.fragment(run_every=2.0 if active else None)
    def notice() -> None:
        now = [r for r in list_runs(paths.runs_root()) if r.active]
        if bool(now) != bool(active):
            st.rerun()
        for r in now:
            st.warning(f"Busy: {r.describe()}. This server trains {jobs.max_trainings()} model(s) at a time; a new "
                       "run can start when it ends (or stop it above).")

    notice()


def run_monitor(name: str) -> None:
    """Live view of one run; polls every 2 s while it runs."""
    path = paths.runs_root() / name
    info = run_info(path)

    @st.fragment(run_every=2.0 if info.active else None)
    def monitor() -> None:
        now = run_info(path)
        if now.state != info.state:
            st.rerun()  # started, running or ended: redraw the run list and buttons, start or stop polling
        eta = f" · about {format_seconds(now.eta_s)} left" if now.eta_s is not None else ""
        st.progress(now.progress, text=f"**{escape_md(name)}**: {now.state} · {now.position()}{eta}")
        if now.message and now.state in ("failed", "died", "stopped", "finished"):
            (st.error if now.state in ("failed", "died") else st.caption)(f"{now.state}: {now.message}"
                                                                          if now.state != "died" else
                                                                          "the training process ended unexpectedly")
        metrics = read_metrics(path / "metrics.jsonl")
        if metrics.empty:
            st.caption("Waiting for the first metrics (generating data and training the tokenizer)…")
        else:
            run_charts(metrics, name)
        with st.expander("Training log"):
            st.code(log_tail(path, 25) or "(empty)", language=None)

    monitor()


def run_charts(metrics: pd.DataFrame, name: str) -> None:
    """Dev scores, the latest training step, the curves and the latest dev translations of one run."""
    table = metrics.drop(columns=["samples"], errors="ignore")
    train = table[table["kind"] == "train"] if "kind" in table else table.iloc[0:0]
    dev = metrics[metrics["kind"] == "dev"] if "kind" in metrics else metrics.iloc[0:0]
    if len(dev):
        _dev_scores(dev)
    if len(train):
        last = train.iloc[-1]
        threads = last.get("threads")  # CPU runs log it: the trainer uses fewer while other work takes the cores
        n = None if threads is None or pd.isna(threads) else int(threads)
        on = "" if n is None else f" on {n} CPU thread{'s' * (n != 1)}"
        st.caption(f"Step {int(last['step'])}: training loss {last['loss']:.3f} (perplexity {last['ppl']:.2f}), "
                   f"gradient norm {last['grad_norm']:.2f}, {last['tgt_tokens_per_s']:,.0f} target tokens/s{on}")
    chart_with_downloads(viz.training_curves(table), table, f"{name}-curves")
    if len(dev) and isinstance(dev.iloc[-1].get("samples"), list):
        st.caption(f"Dev translations at step {int(dev.iloc[-1]['step'])} (dev BLEU {dev.iloc[-1]['bleu']:.1f})")
        st.dataframe(pd.DataFrame(dev.iloc[-1]["samples"]), hide_index=True)


def _dev_scores(dev: pd.DataFrame) -> None:
    cols = st.columns(3, width=560)
    latest = dev.iloc[-1]
    change = round(latest["bleu"] - dev.iloc[-2]["bleu"], 1) if len(dev) > 1 else 0.0
    change = f"{change:+.1f}" if change else None  # no arrow for a change that shows as 0.0
    cols[0].metric("Dev BLEU", f"{latest['bleu']:.1f}", change,
                   help=f"Greedy translations of the dev sentences at step {int(latest['step'])} (sacrebleu)")
    cols[1].metric("Dev chrF", f"{latest['chrf']:.1f}")
    cols[2].metric("Best dev BLEU", f"{dev['bleu'].max():.1f}")
