"""The Train page's form: data, tokenizer, model and training settings -> a validated run, started in the
background.

The widgets keep their values in the session under ``tr_*`` keys; ``config_from_form`` turns those into the
raw experiment config that ``ExperimentConfig`` validates when ``start_run`` launches the training process
(``nmt_core.jobs``). Uploaded corpus files are saved inside the new run's folder first (``uploads``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from nmt_core import jobs, tasks
from nmt_core.config import ATTENTIONS, CELLS, TOKENIZER_TYPES, ConfigError, ExperimentConfig
from nmt_core.recipes import QUICK
from nmt_core.runs import run_path
from studio import identity, paths
from studio.display import escape_md
from studio.uploads import Upload, csv_columns, save_upload

BUILT_IN, ONE_FILE, TWO_FILES = "Built-in task", "One file (TSV/CSV)", "Two files"


# --------------------------------------------------------------------------------------- starting runs
def start_run(name: str, raw_config: dict[str, Any], uploads: Mapping[str, Upload] | None = None) -> str | None:
    """Validate a config, save any uploaded corpus files into the run folder, and start training in the
    background. Returns None on success, else a message for the user (nothing is started then)."""
    try:
        path = run_path(paths.runs_root(), name)
        if (path / "status.json").exists():
            return f"A run named '{name}' already exists: choose another name (or resume it below)."
        corpus = raw_config["data"].get("corpus")
        for key, upload in (uploads or {}).items():  # key: the corpus spec field the file fills
            fixed = {"path": "corpus" + Path(upload.name).suffix.lower(), "src_path": "source.txt",
                     "tgt_path": "target.txt"}[key]  # never the user's file name: nothing escapes the run folder
            corpus[key] = str(save_upload(upload, path, fixed))
        cfg = ExperimentConfig.from_dict({**raw_config, "name": name})
        jobs.start_training(cfg, paths.runs_root(), name, cwd=paths.ROOT, owner=identity.owner_id(),
                            per_owner=identity.per_user_limit())
    except jobs.JobLimitError as err:
        return str(err)
    except (ConfigError, ValueError, OSError) as err:
        return f"Cannot start: {escape_md(err)}"  # the reason may quote a run or file name the user typed
    return None


def resume_run(name: str) -> str | None:
    """Continue a run from its last.pt in the background; a message for the user when it cannot."""
    try:
        jobs.resume_training(paths.runs_root(), name, cwd=paths.ROOT)
    except (jobs.JobLimitError, ValueError) as err:
        return str(err)
    return None


def _data_section(s: Mapping[str, Any]) -> dict[str, Any]:
    data = {"dev_size": s["tr_dev"], "test_size": s["tr_dev"]}
    if s["tr_source"] != BUILT_IN:  # real corpora repeat sentences: keep dev/test ones out of training
        data["held_out"] = "sentences"
    if s["tr_source"] == BUILT_IN:
        data |= {"task": s["tr_task"], "size": s["tr_size"]}
    elif s["tr_source"] == TWO_FILES:
        data |= {"task": None, "corpus": {"format": "parallel"}}
    elif s.get("tr_file") is not None and s["tr_file"].name.lower().endswith(".csv"):
        data |= {"task": None,
                 "corpus": {"format": "csv", "src_column": s["tr_src_col"], "tgt_column": s["tr_tgt_col"]}}
    else:
        data |= {"task": None, "corpus": {"format": "tsv"}}
    return data


def config_from_form(s: Mapping[str, Any]) -> dict[str, Any]:
    """The experiment config the form's widgets (``tr_*`` keys of ``s``, the session state) describe;
    validated by ``ExperimentConfig`` when the run starts."""
    steps, every = s["tr_steps"], s["tr_eval"]
    raw = {"data": _data_section(s), "tokenizer": {"type": s["tr_tok"], "vocab_size": s["tr_vocab"]},
           "model": {"cell": s["tr_cell"], "attention": s["tr_att"], "embedding_size": s["tr_emb"],
                     "hidden_size": s["tr_hidden"], "encoder_layers": s["tr_layers"], "bidirectional": s["tr_bidir"],
                     "input_feeding": s["tr_feed"], "dropout": s["tr_dropout"]},
           "train": {"max_steps": steps, "batch_size": s["tr_batch"], "lr": s["tr_lr"],
                     "time_budget_s": s["tr_budget"], "eval_every": every, "lr_schedule": "cosine",
                     "log_every": max(1, min(20, every // 5)), "warmup_steps": min(100, steps // 10),
                     "dev_bleu_sentences": 200}}
    if s.get("tr_quick"):  # the recipe's settings that have no widget of their own
        raw["train"] |= {k: QUICK["train"][k] for k in ("batch_tokens", "label_smoothing", "dev_bleu_sentences")}
        raw["model"]["tie_embeddings"] = s["tr_emb"] == s["tr_hidden"]
    return raw


def _start() -> None:
    """The Start button: refuse without the corpus files, else start the run and watch it."""
    s = st.session_state
    uploads = {ONE_FILE: {"path": s.get("tr_file")},
               TWO_FILES: {"src_path": s.get("tr_src_file"), "tgt_path": s.get("tr_tgt_file")}}.get(s.tr_source, {})
    if any(f is None for f in uploads.values()):
        s["tr_message"] = "Upload the corpus file(s) first."
        return
    message = start_run(s.tr_name.strip(), config_from_form(s), uploads)
    s["tr_message"] = message
    if message is None:
        s["run"] = s.tr_name.strip()  # watch the new run
        s.pop("tr_name")  # a fresh default name for the next run


# --------------------------------------------------------------------------------------- the widgets
def _use_quick_recipe() -> None:
    """A corpus of your own gets the recipe that reaches the most BLEU in one lesson (nmt_core.recipes);
    a built-in task keeps the small defaults below. Every value stays editable."""
    s = st.session_state
    own = s.tr_source != BUILT_IN
    s["tr_quick"] = own
    if own:
        tok, model, train = QUICK["tokenizer"], QUICK["model"], QUICK["train"]
        s.update(tr_tok=tok["type"], tr_vocab=tok["vocab_size"], tr_emb=model["embedding_size"],
                 tr_hidden=model["hidden_size"], tr_dropout=model["dropout"], tr_lr=train["lr"],
                 tr_budget=train["time_budget_s"], tr_steps=train["max_steps"], tr_eval=train["eval_every"])


def _data_widgets() -> str:
    st.markdown("**Data**")
    source = st.radio("Source", [BUILT_IN, ONE_FILE, TWO_FILES], key="tr_source", on_change=_use_quick_recipe)
    limit = int(paths.MAX_UPLOAD_MB)
    if source == BUILT_IN:
        infos = {t.name: t for t in tasks.list_tasks()}
        task = st.selectbox("Task", list(infos), key="tr_task", on_change=lambda: st.session_state.update(
            tr_tok=infos[st.session_state.tr_task].recommended_tokenizer))
        st.caption(infos[task].description)
        st.number_input("Sentence pairs to generate", 100, 200_000, 5000, step=500, key="tr_size")
    elif source == ONE_FILE:
        file = st.file_uploader("source<TAB>target per line, or a CSV", ["tsv", "csv", "txt"], key="tr_file",
                                max_upload_size=limit)
        if file is not None and file.name.lower().endswith(".csv") and file.size <= paths.MAX_UPLOAD_MB * 2**20:
            columns = csv_columns(file.getvalue()[:65536])
            st.selectbox("Source column", columns, key="tr_src_col")
            st.selectbox("Target column", columns, index=min(1, len(columns) - 1), key="tr_tgt_col")
    else:
        st.file_uploader("Source sentences, one per line", ["txt"], key="tr_src_file", max_upload_size=limit)
        st.file_uploader("Target sentences, line by line", ["txt"], key="tr_tgt_file", max_upload_size=limit)
    st.number_input("Held-out dev sentences", 10, 2000, 300, key="tr_dev")
    return source


def _tokenizer_widgets() -> None:
    st.markdown("**Tokenizer**")
    st.session_state.setdefault("tr_tok", "word")
    st.selectbox("Pieces", TOKENIZER_TYPES, key="tr_tok",
                 help="word: one piece per word (clean attention pictures); char: letters; unigram/bpe: subwords")
    st.number_input("Vocabulary size (upper bound)", 50, 32000, 4000, step=500, key="tr_vocab")


def _model_widgets() -> None:
    st.markdown("**Model**")
    st.selectbox("Cell", CELLS, index=CELLS.index("lstm"), key="tr_cell")
    st.selectbox("Attention", ATTENTIONS, index=ATTENTIONS.index("additive"), key="tr_att")
    st.number_input("Embedding size", 4, 512, 64, key="tr_emb")
    st.number_input("Hidden size", 4, 1024, 128, key="tr_hidden")
    st.number_input("Encoder layers", 1, 4, 1, key="tr_layers")
    st.checkbox("Bidirectional encoder", True, key="tr_bidir")
    st.checkbox("Input feeding", True, key="tr_feed")
    st.slider("Dropout", 0.0, 0.6, 0.1, 0.05, key="tr_dropout")


def _training_widgets(source: str) -> None:
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
    if st.session_state.get("tr_quick") and source != BUILT_IN and (evidence := recipe_evidence()):
        st.caption(evidence)


#: The time-to-quality benchmark's results (bench/time_to_quality.py --json), committed with docs/benchmarks.md.
TIME_TO_QUALITY = paths.ROOT / "docs" / "time-to-quality.json"


def recipe_evidence() -> str | None:
    """What the quick recipe measured, from the benchmark's own result file (None when it is not there):
    the caption is generated from the numbers, never typed in."""
    try:
        result = json.loads(TIME_TO_QUALITY.read_text(encoding="utf-8"))
        ours = {r["minutes"]: r for r in result["ours"] if r.get("bleu") is not None}
        peer = {r["minutes"]: r for r in result["peer"] if r.get("bleu") is not None}
        pairs = result["about"]["sizes"]["train"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if 10 not in ours:
        return None
    text = (f"Measured on {pairs:,} Tatoeba English–German pairs, 2 CPU cores: this recipe reached test BLEU "
            f"{ours[10]['bleu']:.1f} in 10 minutes")
    if 10 in peer:
        longest = max(peer)
        text += f" (JoeyNMT 2.3.0, same model size and data: {peer[10]['bleu']:.1f} in 10 minutes"
        text += f", {peer[longest]['bleu']:.1f} after {longest:g})" if longest > 10 else ")"
    return text + "; docs/benchmarks.md has the whole table."


def training_form() -> None:
    """The form: run name, data | tokenizer | model | training columns, the Start button and its message
    (kept until the next Start, so a run monitor's rerun cannot hide it)."""
    st.session_state.setdefault("tr_name", time.strftime("run-%m%d-%H%M"))
    st.text_input("Run name", key="tr_name", max_chars=80, help="Letters, digits, '.', '_' or '-'.")
    data_col, tok_col, model_col, train_col = st.columns(4, gap="medium")
    with data_col:
        source = _data_widgets()
    with tok_col:
        _tokenizer_widgets()
    with model_col:
        _model_widgets()
    with train_col:
        _training_widgets(source)
    st.button("Start training", key="tr_start", type="primary", on_click=_start, icon=":material/model_training:")
    if st.session_state.get("tr_message"):
        st.warning(st.session_state["tr_message"])
