"""Home: what the studio is, which model is loaded, and that model's card."""

import pandas as pd
import streamlit as st
import yaml

import ui_common as ui
from nmt_core import viz

ref = ui.page("NMT Studio", "A studio for teaching and inspecting recurrent neural machine translation.",
              needs_model=False)

st.markdown("""
Type a sentence, watch a **recurrent encoder-decoder with attention** translate it, and open up every
step: the beam search tree, the attention weights, the LSTM gates and the gradients flowing back in time.
Then train a model of your own and watch it learn.
""")
guide = st.columns(4)
for col, (page, label, what) in zip(guide * 2, [
    ("pages/1_Translate.py", "Translate & beam search", "greedy vs beam, the search tree, n-best, what-ifs"),
    ("pages/2_Attention.py", "Attention", "soft alignment as a heatmap and as lines, vs gold alignments"),
    ("pages/3_Gates.py", "Gates", "i, f, o, g, c, h of every LSTM layer; clamp a gate and re-translate"),
    ("pages/4_Gradients.py", "Gradient flow", "per-step gradient norms; the vanishing-gradient lab"),
    ("pages/5_Train.py", "Train", "train a model on a built-in task or your own data, live"),
    ("pages/6_Compare.py", "Compare", "two models on one sentence; BLEU by sentence length"),
    ("pages/7_Data.py", "Data", "browse the corpus, tokenizer pieces, length histograms"),
]):
    with col:
        st.page_link(page, label=label)
        st.caption(what)

if ref is None:
    st.info("No model yet: start one on the **Train** page.")
    st.stop()

st.header("Model card")
ckpt = ui.checkpoint(ref)
cfg, metrics = ckpt.config, ckpt.metrics
m = cfg.model
corpus_files = ", ".join(str(v) for k, v in (cfg.data.corpus or {}).items() if k.endswith("path"))
data = f"built-in task {cfg.data.task}" if cfg.data.task and not cfg.data.corpus else f"corpus {corpus_files}"
cols = st.columns(5)
cols[0].metric("Parameters", f"{ckpt.model.num_parameters():,}")
cols[1].metric("Training steps", f"{ckpt.step:,}")
cols[2].metric("Dev BLEU", f"{metrics['bleu']:.1f}" if "bleu" in metrics else "–")
cols[3].metric("Dev chrF", f"{metrics['chrf']:.1f}" if "chrf" in metrics else "–")
cols[4].metric("Dev perplexity", f"{metrics['dev_ppl']:.2f}" if "dev_ppl" in metrics else "–")
st.markdown(
    f"**Architecture:** {'bidirectional ' if m.bidirectional else ''}{m.cell.upper()} encoder "
    f"({m.encoder_layers} layer{'s' * (m.encoder_layers > 1)}, {m.hidden_size} units per direction) → "
    f"{m.cell.upper()} decoder ({m.decoder_layers} layer{'s' * (m.decoder_layers > 1)}), "
    f"**{m.attention}** attention{', input feeding' if m.input_feeding and m.attention != 'none' else ''}; "
    f"embeddings {m.embedding_size}; vocabularies {m.src_vocab_size:,} → {m.tgt_vocab_size:,} "
    f"({cfg.tokenizer.type} pieces).")
report = metrics.get("data") or {}
sources = report.get("sources") or {}
st.markdown(f"**Data:** {ui.escape_md(data)}" + (f" · {ui.escape_md(ckpt.extra['attribution'])}"
                                                  if ckpt.extra.get("attribution") else ""))
if sources:
    st.caption("Dev scores above: " + ui.escape_md(sources.get("dev", "")) + " · test: "
               + ui.escape_md(sources.get("test", "")))
scalars = {k: v for k, v in report.items() if isinstance(v, int | float | str)}
if scalars:
    st.dataframe(pd.DataFrame([scalars]), hide_index=True)
evaluations = ckpt.extra.get("evaluations") or []
if evaluations:
    st.subheader("Test scores")
    st.caption("Measured with `python -m nmt_core evaluate --record`: sacrebleu BLEU and chrF against one reference, "
               "on the file named in each row (its text fingerprinted by `data_sha256`).")
    table = pd.DataFrame(evaluations)
    shown = [c for c in ("bleu", "chrf", "sentences", "beam", "length_penalty", "alpha", "src", "ref", "data_sha256",
                         "date") if c in table]
    st.dataframe(table[shown], hide_index=True)
    ui.frame_download(table, f"{ref.key.split(' ')[0]}-evaluations")
if ckpt.extra.get("weights", "float32") != "float32":
    st.caption(f"Weights stored as {ckpt.extra['weights']} (loaded as float32); docs/models.md gives what that "
               "costs in BLEU.")

history = pd.DataFrame(ckpt.history)
if not history.empty:
    st.subheader("How it trained")
    ui.chart_with_downloads(viz.training_curves(history), history, "training-curves")

with st.expander("Full configuration (YAML)"):
    text = yaml.safe_dump(cfg.to_dict(), sort_keys=False, allow_unicode=True)
    st.code(text, language="yaml")
    st.download_button("Download config", text, f"{ref.key.replace('/', '_')}.yaml", key="dl-config",
                       on_click="ignore")
