"""The bounds of every value that comes from outside: one table, enforced the same way everywhere.

Why one table: a value reaches the core from a URL, a widget, a CLI flag, a YAML file, a checkpoint's config
or an uploaded file, and a classroom server is shared. ``?locked=1&beam_size=1500`` once held the server for
44 s; a checkpoint whose config said ``hidden_size: 8000`` allocated 7 GB before its weights were checked.
Each bound here is what the studio can serve to a class on a few CPU cores, with room to spare for real use;
``check`` refuses a value outside it with one line naming the value, the bound and what to do, and
``clamp`` (for links, which must never break) brings it inside and says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class LimitError(ValueError):
    """A value is outside its bound; the message names the value, the bound and what to do."""


@dataclass(frozen=True)
class Bound:
    low: float
    high: float
    integer: bool
    why: str  # what the bound protects, for the message


BOUNDS: dict[str, Bound] = {
    # decoding (CLI flags, the Python API, the studio)
    "beam_size": Bound(1, 64, True, "each step scores beam_size x vocabulary continuations"),
    "nbest": Bound(1, 64, True, "at most the beam size"),
    "max_ratio": Bound(0.1, 10.0, False, "outputs longer than 10x their source are runaway repetitions"),
    "alpha": Bound(0.0, 5.0, False, "the GNMT length penalty's exponent"),
    "batch_size": Bound(1, 4096, True, "sentences decoded at once"),
    "top_n_rejected": Bound(0, 50, True, "rejected continuations recorded per hypothesis"),
    "samples": Bound(1, 100, True, "translations sampled for one sentence"),
    "shortlist_frequent": Bound(0, 50_000, True, "target pieces every shortlist keeps"),
    "shortlist_per_source": Bound(0, 1_000, True, "target pieces kept per source piece"),
    "temperature": Bound(0.01, 100.0, False, "sampling temperature"),
    # inspection
    "attribution_steps": Bound(1, 256, True, "integrated gradients runs one batched backward pass per step"),
    # model configuration (YAML, the Train page, checkpoints)
    "model.embedding_size": Bound(1, 2048, True, "memory grows with vocabulary x embedding size"),
    "model.hidden_size": Bound(1, 2048, True, "memory grows with the square of the hidden size"),
    "model.encoder_layers": Bound(1, 8, True, "deeper recurrent stacks do not train in a lesson"),
    "model.decoder_layers": Bound(1, 8, True, "deeper recurrent stacks do not train in a lesson"),
    "model.src_vocab_size": Bound(0, 100_000, True, "the embedding table's rows"),
    "model.tgt_vocab_size": Bound(0, 100_000, True, "the output layer's rows"),
    "tokenizer.vocab_size": Bound(8, 100_000, True, "sentencepiece pieces"),
    # training
    "train.lr": Bound(1e-7, 100.0, False, "a learning rate; SGD in the clipping lab uses up to ~10"),
    "train.batch_size": Bound(1, 8192, True, "sentences per batch"),
    "train.batch_tokens": Bound(1, 1_000_000, True, "target tokens per batch"),
    "train.max_steps": Bound(1, 10_000_000, True, "optimizer steps"),
    "train.warmup_steps": Bound(0, 10_000_000, True, "warm-up steps"),
    "train.time_budget_s": Bound(1, 7 * 24 * 3600, False, "seconds (a week at most)"),
    "train.eval_every": Bound(1, 10_000_000, True, "steps between validations"),
    "train.log_every": Bound(1, 10_000_000, True, "steps between log lines"),
    "train.dev_bleu_sentences": Bound(1, 100_000, True, "dev sentences decoded per validation"),
    "train.patience": Bound(0, 10_000, True, "validations without improvement"),
    "train.threads": Bound(1, 512, True, "CPU threads"),
    "train.max_decode_ratio": Bound(0.1, 10.0, False, "outputs longer than 10x their source are runaway repetitions"),
    "train.clip_norm": Bound(1e-6, 1e6, False, "gradient clipping norm"),
    "train.tbptt": Bound(1, 10_000, True, "target steps a gradient may travel back"),
    "train.snapshots": Bound(0, 16, True, "weight snapshots kept for the training replay"),
    # data
    "data.size": Bound(3, 1_000_000, True, "pairs to generate"),
    "data.max_len": Bound(1, 1000, True, "words per sentence"),
    "data.min_len": Bound(1, 1000, True, "words per sentence"),
    "data.dev_size": Bound(0, 100_000, True, "held-out pairs"),
    "data.test_size": Bound(0, 100_000, True, "held-out pairs"),
}


def _number(name: str, value: Any) -> float:
    """``value`` as a number (YAML reads ``1e-3`` as a string: accept the strings people write)."""
    if isinstance(value, bool):
        raise LimitError(f"{name} must be a number, got {value!r}")
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise LimitError(f"{name} must be a number, got {value!r}") from None
    if not isinstance(value, int | float) or math.isnan(value):
        raise LimitError(f"{name} must be a number, got {value!r}")
    return value


def check_number(name: str, value: Any) -> float:
    """Any finite number (or a string that is one), for values without a bound of their own."""
    number = _number(name, value)
    if not math.isfinite(number):
        raise LimitError(f"{name} must be a finite number, got {value!r}")
    return number


def check_whole(name: str, value: Any) -> int:
    """A whole number (``3``, ``3.0`` or ``"3"``), for values without a bound of their own."""
    number = check_number(name, value)
    if number != int(number):
        raise LimitError(f"{name} must be a whole number, got {value!r}")
    return int(number)


def check(name: str, value: Any, label: str | None = None) -> Any:
    """``value`` as the number ``name`` takes (int or float), or a ``LimitError`` saying why not; ``label`` is
    how the user wrote the name (``--beam-size`` on the command line)."""
    bound = BOUNDS[name]
    name = label or name
    number = _number(name, value)
    if bound.integer:
        if not math.isfinite(number) or number != int(number):
            raise LimitError(f"{name} must be a whole number, got {value!r}")
        number = int(number)
    if not bound.low <= number <= bound.high:
        shown = f"{bound.low:g}..{bound.high:g}"
        if number <= 0 < bound.low:
            raise LimitError(f"{name} must be positive, got {value!r}: choose a value in {shown}")
        raise LimitError(f"{name}={value!r} is out of range {shown} ({bound.why}): choose a value in {shown}")
    return number


def clamp(name: str, value: Any, low: float | None = None, high: float | None = None) -> tuple[Any, str | None]:
    """``value`` brought inside its bound (and inside ``low``/``high`` when a widget is narrower), with a
    notice saying what changed, or (the value, None) when nothing had to. Non-numbers become the nearest bound
    only when they are numbers at all; otherwise ``LimitError``."""
    bound = BOUNDS.get(name)
    lo = max(low if low is not None else -math.inf, bound.low if bound else -math.inf)
    hi = min(high if high is not None else math.inf, bound.high if bound else math.inf)
    number = _number(name, value)
    fixed = min(max(number, lo), hi) if math.isfinite(number) else (hi if number > 0 else lo)
    if bound is not None and bound.integer or (isinstance(low, int) and isinstance(high, int)):
        fixed = int(round(fixed))
    if fixed == number:
        return fixed, None
    return fixed, f"{name}={value!r} is outside {lo:g}..{hi:g}: using {fixed:g}"
