"""Train: configure a model, train it in the background, watch it learn, stop or resume it."""

import time

import streamlit as st

import ui_common as ui
from nmt_core import jobs, tasks
from nmt_core.config import ATTENTIONS, CELLS, TOKENIZER_TYPES
from nmt_core.recipes import QUICK
from nmt_core.runs import list_runs

ui.page("Train", "Training runs in its own process and reports through files in its run folder, so it keeps "
        "going when you switch pages, refresh, or close the tab. Come back any time to watch it.", needs_model=False)
runs = list_runs(ui.runs_root())
active = [r for r in runs if r.active]

st.header("Your runs")
if runs:
    by_name = {r.name: r for r in runs}
    name = ui.control(st.selectbox, "Run", "run", (active or runs)[0].name, options=list(by_name))
    run = by_name[name]
    b1, b2, b3 = st.columns(3, width=560)
    if run.active and b1.button("Stop (saves first)", key="tr_stop", icon=":material/stop:"):
        jobs.stop_run(run.path)
        st.toast(f"Asked {name} to stop; it saves a checkpoint first.")
    if run.active and b2.button("Kill now", key="tr_kill", help="For a run that does not react to Stop"):
        jobs.kill_run(run.path)
    if not run.active and run.has_last and b1.button("Resume", key="tr_resume", icon=":material/play_arrow:"):
        if message := ui.resume_run(name):
            st.warning(message)
        else:
            st.rerun()
    if run.has_best and b3.button("Open this model", key="tr_open", icon=":material/visibility:"):
        ui.open_model(run.path / "best.pt")
    ui.run_monitor(name)
else:
    st.caption("No runs yet: configure one below.")

st.header("New training run")
if ui.locked():
    st.info("Training is switched off in a locked exercise.")
    st.stop()
for r in active:
    st.warning(f"Busy: {r.describe()}. This server trains {jobs.max_trainings()} model(s) at a time; a new run "
               "can start when it ends (or stop it above).")
st.session_state.setdefault("tr_name", time.strftime("run-%m%d-%H%M"))
st.text_input("Run name", key="tr_name", max_chars=80, help="Letters, digits, '.', '_' or '-'.")



def use_quick_recipe() -> None:
    """A corpus of your own gets the recipe that reaches the most BLEU in one lesson (nmt_core.recipes);
    a built-in task keeps the small defaults below. Every value stays editable."""
    s = st.session_state
    own = s.tr_source != "Built-in task"
    s["tr_quick"] = own
    if own:
        tok, model, train = QUICK["tokenizer"], QUICK["model"], QUICK["train"]
        s.update(tr_tok=tok["type"], tr_vocab=tok["vocab_size"], tr_emb=model["embedding_size"],
                 tr_hidden=model["hidden_size"], tr_dropout=model["dropout"], tr_lr=train["lr"],
                 tr_budget=train["time_budget_s"], tr_steps=train["max_steps"], tr_eval=train["eval_every"])


data_col, tok_col, model_col, train_col = st.columns(4, gap="medium")
with data_col:
    st.markdown("**Data**")
    source = st.radio("Source", ["Built-in task", "One file (TSV/CSV)", "Two files"], key="tr_source",
                      on_change=use_quick_recipe)
    if source == "Built-in task":
        infos = {t.name: t for t in tasks.list_tasks()}
        task = st.selectbox("Task", list(infos), key="tr_task", on_change=lambda: st.session_state.update(
            tr_tok=infos[st.session_state.tr_task].recommended_tokenizer))
        st.caption(infos[task].description)
        st.number_input("Sentence pairs to generate", 100, 200_000, 5000, step=500, key="tr_size")
    elif source == "One file (TSV/CSV)":
        file = st.file_uploader("source<TAB>target per line, or a CSV", ["tsv", "csv", "txt"], key="tr_file",
                                max_upload_size=int(ui.MAX_UPLOAD_MB))
        if file is not None and file.name.lower().endswith(".csv") and file.size <= ui.MAX_UPLOAD_MB * 2**20:
            columns = ui.csv_columns(file.getvalue()[:65536])
            st.selectbox("Source column", columns, key="tr_src_col")
            st.selectbox("Target column", columns, index=min(1, len(columns) - 1), key="tr_tgt_col")
    else:
        st.file_uploader("Source sentences, one per line", ["txt"], key="tr_src_file",
                         max_upload_size=int(ui.MAX_UPLOAD_MB))
        st.file_uploader("Target sentences, line by line", ["txt"], key="tr_tgt_file",
                         max_upload_size=int(ui.MAX_UPLOAD_MB))
    st.number_input("Held-out dev sentences", 10, 2000, 300, key="tr_dev")
with tok_col:
    st.markdown("**Tokenizer**")
    st.session_state.setdefault("tr_tok", "word")
    st.selectbox("Pieces", TOKENIZER_TYPES, key="tr_tok",
                 help="word: one piece per word (clean attention pictures); char: letters; unigram/bpe: subwords")
    st.number_input("Vocabulary size (upper bound)", 50, 32000, 4000, step=500, key="tr_vocab")
with model_col:
    st.markdown("**Model**")
    st.selectbox("Cell", CELLS, index=CELLS.index("lstm"), key="tr_cell")
    st.selectbox("Attention", ATTENTIONS, index=ATTENTIONS.index("additive"), key="tr_att")
    st.number_input("Embedding size", 4, 512, 64, key="tr_emb")
    st.number_input("Hidden size", 4, 1024, 128, key="tr_hidden")
    st.number_input("Encoder layers", 1, 4, 1, key="tr_layers")
    st.checkbox("Bidirectional encoder", True, key="tr_bidir")
    st.checkbox("Input feeding", True, key="tr_feed")
    st.slider("Dropout", 0.0, 0.6, 0.1, 0.05, key="tr_dropout")
with train_col:
    st.markdown("**Training**")
    st.number_input("Steps", 10, 100_000, 1500, step=100, key="tr_steps")
    st.number_input("Batch size", 1, 512, 64, key="tr_batch")
    st.number_input("Learning rate", 1e-5, 1.0, 0.002, format="%.4f", key="tr_lr")
    st.number_input("Time budget (seconds)", 10, 36_000, 300, step=30, key="tr_budget")
    st.number_input("Validate every (steps)", 5, 10_000, 250, step=50, key="tr_eval")
    st.checkbox("Quick recipe", False, key="tr_quick",
                help=f"Batches of about {QUICK['train']['batch_tokens']:,} target tokens, label smoothing "
                     f"{QUICK['train']['label_smoothing']}, tied output embeddings (when embedding = hidden size) "
                     "and a learning rate that decays over the time budget: the settings that reached the most "
                     "BLEU in 10 minutes on 20k real sentence pairs (docs/models.md). On by default for your own "
                     "corpus.")
    if st.session_state.get("tr_quick") and source != "Built-in task":
        st.caption("Recipe for your own corpus: 10 minutes on 2 cores gave test BLEU ≈ 20 on 20k English–German "
                   "pairs (docs/benchmarks.md).")


def start() -> None:
    s = st.session_state
    uploads = {"One file (TSV/CSV)": {"path": s.get("tr_file")},
               "Two files": {"src_path": s.get("tr_src_file"), "tgt_path": s.get("tr_tgt_file")}}.get(s.tr_source, {})
    if any(f is None for f in uploads.values()):
        st.session_state["tr_message"] = "Upload the corpus file(s) first."
        return
    message = ui.start_run(st.session_state.tr_name.strip(), ui.config_from_form(st.session_state), uploads)
    st.session_state["tr_message"] = message
    if message is None:
        st.session_state["run"] = st.session_state.tr_name.strip()  # watch the new run
        st.session_state.pop("tr_name")  # a fresh default name for the next run


st.button("Start training", key="tr_start", type="primary", on_click=start, icon=":material/model_training:")
if st.session_state.get("tr_message"):  # kept until the next Start: a monitor rerun must not hide it
    st.warning(st.session_state["tr_message"])
