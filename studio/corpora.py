"""The data behind a model: its train/dev/test splits exactly as training made them, and BLEU by length.

``corpus_splits`` reruns the core's seeded split on the model's data config, so the Data page shows the very
pairs the model trained and was tested on; it is cached on that config (a plain dict).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from nmt_core.config import DataConfig
from nmt_core.corpus import CorpusError
from nmt_core.data import make_splits
from nmt_core.labs.bottleneck import bleu_by_length as bleu_per_bucket
from studio import models
from studio.models import ModelRef


@st.cache_data(max_entries=8, show_spinner="Preparing the corpus…")
def corpus_splits(data: dict[str, Any]) -> tuple[dict[str, pd.DataFrame], dict[str, int]]:
    """The train/dev/test pairs exactly as training splits them for this data config (generation or
    reading, cleaning, seeded split), as DataFrames, plus the cleaning report."""
    splits, report = make_splits(DataConfig(**data))
    frames = {name: getattr(splits, name).to_frame() for name in ("train", "dev", "test")}
    return frames, report


def missing_file(err: Exception) -> bool:
    """Whether reading a corpus failed because its file is not on this machine (not because it is damaged)."""
    return isinstance(err, CorpusError) and err.path is not None and not Path(err.path).exists()


def stored_test_splits(ref: ModelRef) -> tuple[dict[str, pd.DataFrame], dict[str, Any]] | None:
    """The held-out test pairs a shipped checkpoint carries, as splits (train and dev empty) and a cleaning report,
    or None. Why: the shipped English-German models' corpus is not in the repository, and a newcomer's first look
    at their data should be sentences, not only an error."""
    sample = models.checkpoint(ref).extra.get("test_sample")
    if not (isinstance(sample, dict) and sample.get("src")) or len(sample["src"]) != len(sample.get("tgt") or ()):
        return None
    test = pd.DataFrame({"src": [str(s) for s in sample["src"]], "tgt": [str(t) for t in sample["tgt"]]})
    report = {"input_pairs": len(test), "kept": len(test), "source": str(sample.get("source", "the checkpoint"))}
    return {"train": test.iloc[0:0], "dev": test.iloc[0:0], "test": test}, report


def model_data(ref: ModelRef) -> dict[str, Any]:
    """The data section of a model's config, as a plain dict (the cache key of ``corpus_splits``)."""
    return asdict(models.checkpoint(ref).config.data)


def spread(total: int, n: int) -> list[int]:
    """``n`` positions evenly spaced over ``range(total)`` (all of them when ``n >= total``). Why not the first
    ``n``: test files are often sorted by length (Tatoeba's is, and so is the sample a shipped model carries), so
    the first sentences would all be short and a chart by sentence length would have one bucket."""
    return list(range(total)) if n >= total else [k * total // n for k in range(n)]


def test_pairs(ref: ModelRef, n: int) -> tuple[list[str], list[str], str]:
    """``n`` held-out test pairs of a model, evenly spaced (``spread``), and where they come from: the sample a
    shipped model carries (so it can be scored without its corpus), else its data's test split, made as training
    made it."""
    sample = models.checkpoint(ref).extra.get("test_sample")
    if isinstance(sample, dict) and sample.get("src"):
        picks = spread(len(sample["src"]), n)
        source = str(sample.get("source", "the model's test sample"))
        return [sample["src"][i] for i in picks], [sample["tgt"][i] for i in picks], source
    test = corpus_splits(model_data(ref))[0]["test"]
    test = test.iloc[spread(len(test), n)]
    return test["src"].tolist(), test["tgt"].tolist(), "the test split of the model's data"


def length_edges(src: list[str], buckets: int = 3) -> tuple[int, ...]:
    """Bucket edges (each bucket holds lengths in (lo, hi]; the first edge is the shortest length - 1, the last the
    longest) cut at the ``buckets``-quantiles of these sentences' word counts: parts of about equal size unless many
    sentences share a length (the table gives each bucket's count). Fixed 5-word buckets would leave a sample of
    2-7-word sentences with one or two."""
    lengths = pd.Series([len(s.split()) for s in src])
    cuts = sorted({int(q) for q in lengths.quantile([k / buckets for k in range(1, buckets)])})
    low, high = int(lengths.min()), int(lengths.max())
    return (low - 1, *[c for c in cuts if low <= c < high], high)


@st.cache_data(max_entries=16, show_spinner="Translating the test set…")
def _bleu_by_length(_refs: tuple[ModelRef, ...], keys: tuple[tuple[str, float], ...],
                    n: int) -> tuple[pd.DataFrame, str]:
    src, refs, source = test_pairs(_refs[0], n)
    if not src:
        raise ValueError("it holds no test sentences")
    edges = length_edges(src)
    frames = []
    for ref in _refs:
        hyps = models.translator(ref).translate(src)
        frames.append(bleu_per_bucket(src, hyps, refs, edges).assign(model=ref.label))
    return pd.concat(frames, ignore_index=True), (f"{len(src):,} sentences evenly spaced through {source}, "
                                                  f"{edges[0] + 1} to {edges[-1]} words long")


def bleu_by_length(refs: tuple[ModelRef, ...], n: int) -> tuple[pd.DataFrame, str]:
    """BLEU/chrF per source-length bucket (about equal thirds of the sentences) on ``n`` evenly spaced test pairs
    of the first model, one block of rows per model (greedy), and a line saying which sentences. Cached on the
    models' (path, mtime) and ``n``."""
    return _bleu_by_length(refs, tuple((r.path, r.mtime) for r in refs), n)
