"""The data behind a model: its train/dev/test splits exactly as training made them, and BLEU by length.

``corpus_splits`` reruns the core's seeded split on the model's data config, so the Data page shows the very
pairs the model trained and was tested on; it is cached on that config (a plain dict).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandas as pd
import streamlit as st

from nmt_core.config import DataConfig
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


def model_data(ref: ModelRef) -> dict[str, Any]:
    """The data section of a model's config, as a plain dict (the cache key of ``corpus_splits``)."""
    return asdict(models.checkpoint(ref).config.data)


def test_pairs(ref: ModelRef, n: int) -> tuple[list[str], list[str], str]:
    """The first ``n`` held-out test pairs of a model and where they come from: the sample a shipped model
    carries (so it can be scored without its corpus), else its data's test split, made as training made it."""
    sample = models.checkpoint(ref).extra.get("test_sample")
    if isinstance(sample, dict) and sample.get("src"):
        return list(sample["src"][:n]), list(sample["tgt"][:n]), str(sample.get("source", "the model's test sample"))
    test = corpus_splits(model_data(ref))[0]["test"].head(n)
    return test["src"].tolist(), test["tgt"].tolist(), "the test split of the model's data"


@st.cache_data(max_entries=16, show_spinner="Translating the test set…")
def _bleu_by_length(_refs: tuple[ModelRef, ...], keys: tuple[tuple[str, float], ...], n: int) -> pd.DataFrame:
    src, refs, _ = test_pairs(_refs[0], n)
    frames = []
    for ref in _refs:
        hyps = models.translator(ref).translate(src)
        frames.append(bleu_per_bucket(src, hyps, refs).assign(model=ref.label))
    return pd.concat(frames, ignore_index=True)


def bleu_by_length(refs: tuple[ModelRef, ...], n: int) -> pd.DataFrame:
    """BLEU/chrF per source-length bucket on the first ``n`` test pairs of the first model, one block of rows
    per model (greedy). Cached on the models' (path, mtime) and ``n``."""
    return _bleu_by_length(refs, tuple((r.path, r.mtime) for r in refs), n)
