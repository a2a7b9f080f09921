"""Experiment configuration: four small dataclasses, one YAML file, dotted overrides.

Why dataclasses and not a dict: every field has a default and a comment, unknown keys fail loudly
(a typo in a YAML file must not silently train the wrong model), and the same objects are stored
inside every checkpoint, so a checkpoint alone rebuilds its model (nanoGPT's ``GPTConfig`` idea).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .limits import BOUNDS, LimitError, check, check_number, check_whole

CELLS = ("rnn", "gru", "lstm")
ATTENTIONS = ("none", "dot", "general", "additive")
TOKENIZER_TYPES = ("unigram", "bpe", "char", "word")
LR_SCHEDULES = ("constant", "cosine", "plateau")
HELD_OUT = ("pairs", "sentences")


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range."""


@dataclass
class DataConfig:
    task: str | None = "toy-en-es"  # a built-in task name, or None when `corpus` is given
    task_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"lag": 20} for recall
    size: int = 20000  # pairs to generate for a built-in task
    corpus: dict[str, Any] | None = None  # user files: {"format": "tsv", "path": "..."} etc.
    seed: int = 1  # generation and split seed
    min_len: int = 1  # length filter, in whitespace tokens, both sides
    max_len: int = 50
    dev_size: int = 500  # pairs carved off for validation (ignored when dev_corpus is given)
    test_size: int = 1000
    held_out: str = "pairs"  # pairs | sentences: no dev/test sentence (lower-cased) occurs in train
    dev_corpus: dict[str, Any] | None = None  # the user's own dev files, same spec format as `corpus`
    test_corpus: dict[str, Any] | None = None


@dataclass
class TokenizerConfig:
    type: str = "word"  # sentencepiece model type: unigram | bpe | char | word
    vocab_size: int = 8000  # upper bound; word/char vocabularies stop at what the data has
    joint: bool = False  # one vocabulary for both sides (needed to tie embeddings)
    character_coverage: float = 1.0


@dataclass
class ModelConfig:
    cell: str = "lstm"  # rnn | gru | lstm
    embedding_size: int = 128
    hidden_size: int = 256  # per direction in the encoder; the decoder's size
    encoder_layers: int = 1
    bidirectional: bool = True
    decoder_layers: int = 1
    attention: str = "additive"  # none (the bottleneck model) | dot | general | additive
    input_feeding: bool = True  # feed the previous attentional vector into the next step
    dropout: float = 0.2
    residual: bool = False  # add each stacked layer's input to its output (layers >= 2)
    forget_bias: float = 1.0  # LSTM forget-gate bias at init (Jozefowicz et al. 2015)
    tie_embeddings: bool = False  # output layer shares the target embedding matrix (needs embedding = hidden)
    src_vocab_size: int = 0  # filled in from the tokenizer
    tgt_vocab_size: int = 0
    pad_id: int = 0


@dataclass
class TrainConfig:
    batch_size: int = 64  # sentences per batch (with batch_tokens: the average, which sizes the length pools)
    batch_tokens: int | None = None  # token-based batches: at most this many padded target positions each
    lr: float = 1e-3  # Adam
    lr_schedule: str = "constant"  # constant | cosine | plateau (halve on a dev-BLEU plateau)
    # cosine decays over max_steps, or over time_budget_s when that comes first: a timed run ends decayed
    warmup_steps: int = 0
    max_steps: int = 3000
    max_epochs: int = 1000
    time_budget_s: float | None = None  # stop cleanly after this many seconds
    clip_norm: float | None = 1.0  # gradient clipping by global norm; None disables it
    label_smoothing: float = 0.0
    tbptt: int | None = None  # truncated BPTT in the decoder: gradients flow back at most this many target steps
    eval_every: int = 500  # steps between validations (and checkpoints)
    snapshots: int = 10  # weight snapshots at steps 25, 50, 100, ... for the training replay (0 = none)
    log_every: int = 20  # steps between metric lines
    dev_bleu_sentences: int = 300  # cap on dev sentences decoded for BLEU
    patience: int = 0  # early stopping: validations without BLEU gain (0 = off)
    max_decode_ratio: float = 2.0  # decode at most ratio * source length + 5 tokens
    seed: int = 1
    # torch CPU threads, fixed; None = up to OMP_NUM_THREADS if set, else the physical cores, fewer while other
    # processes take the cores (threads.py)
    threads: int | None = None
    device: str = "auto"  # auto | cpu | cuda | mps | cuda:1 ...
    amp: bool = True  # autocast on CUDA (bf16 when supported); ignored on CPU
    compile: bool = False  # torch.compile the loss function (see docs/benchmarks.md for when it pays)


@dataclass
class ExperimentConfig:
    name: str = "run"
    data: DataConfig = field(default_factory=DataConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ExperimentConfig:
        sections = {"data": DataConfig, "tokenizer": TokenizerConfig, "model": ModelConfig, "train": TrainConfig}
        unknown = set(raw) - set(sections) - {"name"}
        if unknown:
            raise ConfigError(f"unknown config section(s): {sorted(unknown)}; expected {sorted(sections)} and name")
        built = {name: _build(kind, raw.get(name) or {}, name) for name, kind in sections.items()}
        cfg = cls(name=str(raw.get("name", "run")), **built)
        validate(cfg)
        return cfg


def _build(kind: type, values: dict[str, Any], section: str) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"config section '{section}' must be a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(kind)}
    unknown = set(values) - set(fields)
    if unknown:
        raise ConfigError(f"unknown key(s) in '{section}': {sorted(unknown)}; valid keys: {sorted(fields)}")
    return kind(**{name: _typed(f"{section}.{name}", fields[name], value) for name, value in values.items()})


def _typed(name: str, spec: dataclasses.Field, value: Any) -> Any:
    """A config value checked against its bound (``limits.BOUNDS``) and its declared type, so numbers written
    the way people write them (``1e-3``, which YAML reads as a string) work, and a wrong type fails here, with
    its name, instead of deep inside training or (for a checkpoint's config) after gigabytes were allocated."""
    kind = str(spec.type)
    if value is None:
        if "None" not in kind:
            raise ConfigError(f"{name} must be set (it has no 'none' value)")
        return None
    try:
        if name in BOUNDS:
            return check(name, value)
        if kind.startswith("float"):
            return float(check_number(name, value))
        if kind.startswith("int"):
            return int(check_whole(name, value))
    except LimitError as err:
        raise ConfigError(str(err)) from None
    if kind.startswith("bool") and not isinstance(value, bool):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    if kind.startswith("str") and not isinstance(value, str):
        raise ConfigError(f"{name} must be text, got {value!r}")
    if kind.startswith("dict") and not isinstance(value, dict):
        raise ConfigError(f"{name} must be a mapping, got {value!r}")
    return value


def validate(cfg: ExperimentConfig) -> None:
    """Reject values that would only fail later, deep inside training, with a worse message."""
    m, t, tok, d = cfg.model, cfg.train, cfg.tokenizer, cfg.data
    checks = [
        (m.cell in CELLS, f"model.cell must be one of {CELLS}, got {m.cell!r}"),
        (m.attention in ATTENTIONS, f"model.attention must be one of {ATTENTIONS}, got {m.attention!r}"),
        (tok.type in TOKENIZER_TYPES, f"tokenizer.type must be one of {TOKENIZER_TYPES}, got {tok.type!r}"),
        (t.lr_schedule in LR_SCHEDULES, f"train.lr_schedule must be one of {LR_SCHEDULES}, got {t.lr_schedule!r}"),
        (m.embedding_size > 0 and m.hidden_size > 0, "model sizes must be positive"),
        (m.encoder_layers >= 1 and m.decoder_layers >= 1, "model needs at least one encoder and decoder layer"),
        (0.0 <= m.dropout < 1.0, f"model.dropout must be in [0, 1), got {m.dropout}"),
        (t.batch_size >= 1, "train.batch_size must be >= 1"),
        (t.batch_tokens is None or t.batch_tokens >= 1, "train.batch_tokens must be >= 1 (or null)"),
        (not m.tie_embeddings or m.embedding_size == m.hidden_size,
         "model.tie_embeddings needs model.embedding_size == model.hidden_size (the output layer's input)"),
        (t.lr > 0, "train.lr must be positive"),
        (0.0 <= t.label_smoothing < 1.0, "train.label_smoothing must be in [0, 1)"),
        (t.eval_every >= 1 and t.log_every >= 1, "train.eval_every and train.log_every must be >= 1"),
        (d.task is not None or d.corpus is not None, "data needs either a built-in 'task' or a 'corpus'"),
        (d.max_len >= d.min_len >= 1, "data.max_len must be >= data.min_len >= 1"),
        (d.held_out in HELD_OUT, f"data.held_out must be one of {HELD_OUT}, got {d.held_out!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def load_config(path: str | Path, overrides: list[str] | None = None) -> ExperimentConfig:
    """Read a YAML experiment file and apply ``section.key=value`` overrides (values parsed as YAML)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping of sections")
    apply_overrides(raw, overrides or [])
    return ExperimentConfig.from_dict(raw)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> None:
    """Apply ``model.hidden_size=128`` style overrides in place; the value is parsed as YAML."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        *parents, leaf = key.strip().split(".")
        node = raw
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r}: {part!r} is not a section")
        node[leaf] = yaml.safe_load(value)
