"""The home page's model card: what a checkpoint is (architecture, data, scores) and how it trained.

Everything comes from the checkpoint itself (config, metrics, history, recorded evaluations), so the card of a
model is the same wherever the file goes.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
import yaml

from nmt_core import viz
from nmt_core.checkpoint import Checkpoint
from studio import models
from studio.display import escape_md
from studio.downloads import chart, frame_download
from studio.models import ModelRef


def _architecture(ckpt: Checkpoint) -> str:
    cfg, m = ckpt.config, ckpt.config.model
    return (f"**Architecture:** {'bidirectional ' if m.bidirectional else ''}{m.cell.upper()} encoder "
            f"({m.encoder_layers} layer{'s' * (m.encoder_layers > 1)}, {m.hidden_size} units per direction) → "
            f"{m.cell.upper()} decoder ({m.decoder_layers} layer{'s' * (m.decoder_layers > 1)}), "
            f"**{m.attention}** attention{', input feeding' if m.input_feeding and m.attention != 'none' else ''}; "
            f"embeddings {m.embedding_size}; vocabularies {m.src_vocab_size:,} → {m.tgt_vocab_size:,} "
            f"({cfg.tokenizer.type} pieces).")


def _headline(ckpt: Checkpoint) -> None:
    metrics = ckpt.metrics
    cols = st.columns(5)
    cols[0].metric("Parameters", f"{ckpt.model.num_parameters():,}")
    cols[1].metric("Training steps", f"{ckpt.step:,}")
    cols[2].metric("Dev BLEU", f"{metrics['bleu']:.1f}" if "bleu" in metrics else "–")
    cols[3].metric("Dev chrF", f"{metrics['chrf']:.1f}" if "chrf" in metrics else "–")
    cols[4].metric("Dev perplexity", f"{metrics['dev_ppl']:.2f}" if "dev_ppl" in metrics else "–")


def _data(ckpt: Checkpoint) -> None:
    cfg, report = ckpt.config, ckpt.metrics.get("data") or {}
    corpus_files = ", ".join(str(v) for k, v in (cfg.data.corpus or {}).items() if k.endswith("path"))
    data = f"built-in task {cfg.data.task}" if cfg.data.task and not cfg.data.corpus else f"corpus {corpus_files}"
    sources = report.get("sources") or {}
    st.markdown(f"**Data:** {escape_md(data)}" + (f" · {escape_md(ckpt.extra['attribution'])}"
                                                   if ckpt.extra.get("attribution") else ""))
    if sources:
        st.caption("Dev scores above: " + escape_md(sources.get("dev", "")) + " · test: "
                   + escape_md(sources.get("test", "")))
    scalars = {k: v for k, v in report.items() if isinstance(v, int | float | str)}
    if scalars:
        st.dataframe(pd.DataFrame([scalars]), hide_index=True)


def _test_scores(ckpt: Checkpoint, ref: ModelRef) -> None:
    evaluations = ckpt.extra.get("evaluations") or []
    if evaluations:
        st.subheader("Test scores")
        st.caption("Measured with `python -m nmt_core evaluate --record`: sacrebleu BLEU and chrF against one "
                   "reference, on the file named in each row (its text fingerprinted by `data_sha256`).")
        table = pd.DataFrame(evaluations)
        shown = [c for c in ("bleu", "chrf", "sentences", "beam", "length_penalty", "alpha", "src", "ref",
                              "data_sha256", "date") if c in table]
        st.dataframe(table[shown], hide_index=True)
        frame_download(table, f"{ref.key.split(' ')[0]}-evaluations")
    if ckpt.extra.get("weights", "float32") != "float32":
        st.caption(f"Weights stored as {ckpt.extra['weights']} (loaded as float32); docs/models.md gives what that "
                   "costs in BLEU.")


def model_card(ref: ModelRef) -> None:
    """Headline numbers, architecture, data, recorded test scores, training curves and the full config."""
    ckpt = models.checkpoint(ref)
    _headline(ckpt)
    st.markdown(_architecture(ckpt))
    _data(ckpt)
    _test_scores(ckpt, ref)
    history = pd.DataFrame(ckpt.history)
    if not history.empty:
        st.subheader("How it trained")
        chart(viz.training_curves, history, data=history, name="training-curves")  # one spec per server
    with st.expander("Full configuration (YAML)"):
        text = yaml.safe_dump(ckpt.config.to_dict(), sort_keys=False, allow_unicode=True)
        st.code(text, language="yaml")
        st.download_button("Download config", text, f"{ref.key.replace('/', '_')}.yaml", key="dl-config",
                           on_click="ignore")
