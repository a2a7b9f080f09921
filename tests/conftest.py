"""Shared fixtures: tiny corpora, tokenizers and models the tests make for themselves."""

from __future__ import annotations

import random

import pytest
import torch

from nmt_core.config import ExperimentConfig
from nmt_core.model import Seq2Seq
from nmt_core.tokenizer import train_tokenizers

# Tests use tiny models, which run fastest on one thread; more threads only add OpenMP contention
# on a loaded 2-core machine (observed: up to 30x slower).
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _one_thread_again():
    """A command or trainer run in-process may set torch's threads (the thread governor, ``--threads``): give the
    next test the suite's one thread back."""
    yield
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)

WORDS_SRC = ["the", "a", "red", "big", "small", "car", "house", "dog", "cat", "is", "fast", "slow", "green", "blue"]
WORDS_TGT = ["el", "la", "rojo", "grande", "pequeño", "coche", "casa", "perro", "gato", "es", "rápido", "lento",
             "verde", "azul"]


@pytest.fixture(scope="session")
def tiny_pairs() -> tuple[list[str], list[str]]:
    """A word-substitution 'language pair' (target = word-by-word map of the source)."""
    rng = random.Random(0)
    mapping = dict(zip(WORDS_SRC, WORDS_TGT))
    src = [" ".join(rng.choice(WORDS_SRC) for _ in range(rng.randint(2, 7))) for _ in range(300)]
    return src, [" ".join(mapping[w] for w in s.split()) for s in src]


@pytest.fixture(scope="session")
def tiny_tokenizers(tiny_pairs):
    return train_tokenizers(*tiny_pairs, model_type="word", vocab_size=100, joint=False)


@pytest.fixture()
def tiny_config(tiny_tokenizers) -> ExperimentConfig:
    cfg = ExperimentConfig.from_dict({
        "name": "tiny",
        "data": {"task": "toy-en-es", "size": 400, "dev_size": 40, "test_size": 40},
        "tokenizer": {"type": "word", "vocab_size": 500},
        "model": {"embedding_size": 16, "hidden_size": 16, "dropout": 0.0},
        "train": {"batch_size": 16, "max_steps": 30, "eval_every": 15, "log_every": 5,
                  "dev_bleu_sentences": 20, "threads": 1},
    })
    cfg.model.src_vocab_size = tiny_tokenizers.src.vocab_size
    cfg.model.tgt_vocab_size = tiny_tokenizers.tgt.vocab_size
    return cfg


@pytest.fixture()
def tiny_model(tiny_config) -> Seq2Seq:
    torch.manual_seed(0)
    return Seq2Seq(tiny_config.model).eval()
