"""Train: configure a model, train it in the background, watch it learn, stop or resume it."""

import streamlit as st

from nmt_core import jobs
from nmt_core.runs import list_runs
from studio import identity, layout, paths, run_monitor, state, train_form

layout.page("Train", "Training runs in its own process and reports through files in its run folder, so it keeps "
            "going when you switch pages, refresh, or close the tab. Come back any time to watch it.",
            needs_model=False)
runs = list_runs(paths.runs_root())
active = [r for r in runs if r.active]

st.header("Your runs")
if runs:
    by_name = {r.name: r for r in runs}
    name = state.control(st.selectbox, "Run", "run", (active or runs)[0].name, options=list(by_name))
    run, mine = by_name[name], identity.may_control(by_name[name]) and not state.locked()
    b1, b2, b3 = st.columns(3, width=560)
    if not mine and not state.locked():
        st.caption("Started by another browser: you can watch it; only the person who started it can stop or "
                   "resume it.")
    if mine and run.active and b1.button("Stop (saves first)", key="tr_stop", icon=":material/stop:"):
        jobs.stop_run(run.path)
        st.toast(f"Asked {name} to stop; it saves a checkpoint first.")
    if mine and run.active and b2.button("Kill now", key="tr_kill", help="For a run that does not react to Stop"):
        try:
            jobs.kill_run(run.path)
        except jobs.JobLimitError as err:  # a run of another replica (docs/deploy.md)
            st.warning(str(err))
    if mine and not run.active and run.has_last and b1.button("Resume", key="tr_resume", icon=":material/play_arrow:"):
        if message := train_form.resume_run(name):
            st.warning(message)
        else:
            st.rerun()
    if run.has_best and b3.button("Open this model", key="tr_open", icon=":material/visibility:"):
        layout.open_model(run.path / "best.pt")
    run_monitor.run_monitor(name)
else:
    st.caption("No runs yet: configure one below.")

st.header("New training run")
if state.locked():
    st.info("Training is switched off in a locked exercise.")
    st.stop()
run_monitor.busy_notice()
train_form.training_form()
