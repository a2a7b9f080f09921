"""Checkpoints: one self-contained file, a plain dict of tensors and primitives.

Why a plain dict: ``torch.load(weights_only=True)`` can read it without unpickling arbitrary objects,
so opening a checkpoint somebody hands you cannot run their code. The dict holds the experiment
config (rebuilds the model), the sentencepiece model bytes (tokenises exactly as in training),
metrics and training history (the model card), and, for resumable checkpoints, optimizer state.

Writes are atomic: a temp file in the same directory, fsync, then ``os.replace``. A process killed
mid-save leaves the previous checkpoint intact, never a truncated "latest".
"""

from __future__ import annotations

import io
import os
import pickle
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .config import ExperimentConfig
from .model import Seq2Seq
from .tokenizer import Tokenizer, TokenizerError, TokenizerPair

FORMAT = "nmt-studio-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint file cannot be used; the message is one line meant for the user."""


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model in eval mode on ``device`` plus everything needed to use it."""

    path: Path | None
    config: ExperimentConfig
    model: Seq2Seq
    tokenizers: TokenizerPair
    step: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # training state for --resume

    @property
    def training_max_words(self) -> int:
        """The longest source sentence (in words) of the training split, as recorded at training time; for
        older checkpoints the corpus length filter (``data.max_len``), which no training pair exceeds. An
        input longer than this gets a notice (``notices.check_source``)."""
        recorded = (self.metrics.get("data") or {}).get("src_words_max")
        return int(recorded) if isinstance(recorded, int | float) else self.config.data.max_len


def make_payload(cfg: ExperimentConfig, model: Seq2Seq, tokenizers: TokenizerPair, *, step: int,
                 metrics: dict[str, Any] | None = None, history: list[dict[str, Any]] | None = None,
                 training_state: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": cfg.to_dict(),
        "model_state": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "src_spm": tokenizers.src.to_bytes(),
        "tgt_spm": None if tokenizers.joint else tokenizers.tgt.to_bytes(),
        "step": int(step),
        "metrics": dict(metrics or {}),
        "history": list(history or []),
        "training_state": training_state,
    }


def save_checkpoint(payload: dict[str, Any], path: str | Path) -> None:
    """Atomically write ``payload`` to ``path`` (temp file + fsync + rename). Raises OSError (e.g. a
    full disk) after removing the temp file, so callers can report it; the old file is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                torch.save(payload, f)
            except RuntimeError as err:  # torch's zip writer turns a failed write (ENOSPC...) into a RuntimeError
                if isinstance(err.__context__, OSError):
                    raise err.__context__ from None
                raise
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644 & ~_umask())  # mkstemp creates 0600; a checkpoint is a shareable artefact
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_payload(path: str | Path) -> dict[str, Any]:
    """Load and validate the raw dict, turning every failure into a one-line CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    _check_container(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else "unsupported content"
        raise CheckpointError(f"{path}: refused: the file contains pickled objects that are not plain "
                              f"tensors or values ({first[:160]})") from None
    except Exception as err:  # junk bytes reach torch's legacy unpickler, which raises KeyError, IndexError, ...
        detail = str(err).strip().splitlines()[0][:160] if str(err).strip() else ""
        if not isinstance(err, RuntimeError | EOFError | zipfile.BadZipFile | OSError | ValueError):
            detail = f"{type(err).__name__} {detail}".strip()
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated or corrupt?): "
                              f"{detail or type(err).__name__}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an NMT Studio checkpoint (no '{FORMAT}' marker)")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {version!r} is not supported "
                              f"(this NMT Studio reads version {FORMAT_VERSION})")
    return payload


def _check_container(path: Path) -> None:
    """Refuse a file that is not a PyTorch checkpoint at all before torch reads it, with the real reason:
    torch.save writes a zip archive (``PK``), very old files a pickle (``\\x80``); anything else (a JSON file, a
    text file, random bytes renamed .pt) would otherwise get torch's confusing "pickled objects" message."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as err:
        raise CheckpointError(f"{path}: cannot read the file ({err.strerror})") from None
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\x80"):
        return
    if not head:
        raise CheckpointError(f"{path}: the file is empty")
    text = all(32 <= b < 127 or b in (9, 10, 13) for b in head)
    kind = "a JSON or text file" if text else "foreign bytes, not a PyTorch file"
    raise CheckpointError(f"{path}: not a checkpoint ({kind}; a checkpoint is the zip archive torch.save writes)")


def _check_fields(payload: dict[str, Any], where: str) -> None:
    """One reason per malformed field, before anything is built from them."""
    checks = [
        ("config", dict, "a mapping (the experiment config)"), ("model_state", dict, "a mapping of tensors"),
        ("src_spm", bytes, "the source sentencepiece model's bytes"), ("step", int, "a whole number"),
        ("metrics", dict, "a mapping"), ("history", list, "a list"),
    ]
    for name, kind, what in checks:
        value = payload.get(name)
        if name in ("metrics", "history", "step") and value is None:
            continue
        if not isinstance(value, kind) or isinstance(value, bool):
            raise CheckpointError(f"{where}: damaged checkpoint: field '{name}' must be {what}, got "
                                  f"{type(value).__name__} {str(value)[:40]!r}")
    if payload.get("tgt_spm") is not None and not isinstance(payload["tgt_spm"], bytes):
        raise CheckpointError(f"{where}: damaged checkpoint: field 'tgt_spm' must be the target sentencepiece "
                              "model's bytes")
    bad = [k for k, v in payload["model_state"].items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(f"{where}: damaged checkpoint: field 'model_state' holds non-tensor entries: "
                              f"{bad[:3]}")


def _check_shapes(cfg: ExperimentConfig, payload: dict[str, Any], where: str) -> None:
    """Every weight the config implies, with its shape, must be in the file: checked on a model built on the
    ``meta`` device (no memory), so a config that claims a huge model fails here, before allocation."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in Seq2Seq(cfg.model).state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in payload["model_state"].items()}
    if cfg.model.tie_embeddings:
        stored.setdefault("out.weight", stored.get("tgt_embed.weight"))
    for name, shape in expected.items():
        if name not in stored:
            raise CheckpointError(f"{where}: weights do not fit the model config: '{name}' is missing")
        if stored[name] != shape:
            raise CheckpointError(f"{where}: weights do not fit the model config: '{name}' is {stored[name]} in "
                                  f"the file but the config needs {shape}")
    extra = sorted(set(stored) - set(expected))
    if extra:
        raise CheckpointError(f"{where}: weights do not fit the model config: unexpected '{extra[0]}'")


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> Checkpoint:
    """Rebuild model and tokenizers from a checkpoint file; the model is in eval mode on ``device``."""
    payload = read_payload(path)
    return checkpoint_from_payload(payload, Path(path), device)


def validate_checkpoint(path: str | Path) -> None:
    """The checks ``load_checkpoint`` makes before it builds the model (fields, config bounds, tokenizers, every
    weight's name and shape, the weights' encoding); only ``load_state_dict`` itself is left out, and the names
    and shapes it would compare are already checked. Raises ``CheckpointError``. Why: the studio checks every
    checkpoint it lists; building each model only to throw it away was most of a class's first page load."""
    _validated(read_payload(path), str(path))


def _validated(payload: dict[str, Any], where: str) -> tuple[ExperimentConfig, Tokenizer, Tokenizer, dict[str, Any]]:
    """(config, source and target tokenizers, the float32 state dict) of a checked payload."""
    _check_fields(payload, where)
    try:
        cfg = ExperimentConfig.from_dict(payload["config"])
        src_tok = Tokenizer(payload["src_spm"])
        tgt_tok = src_tok if payload.get("tgt_spm") is None else Tokenizer(payload["tgt_spm"])
    except (KeyError, TypeError, ValueError, TokenizerError) as err:
        raise CheckpointError(f"{where}: damaged checkpoint contents: {err}") from None
    if (src_tok.vocab_size, tgt_tok.vocab_size) != (cfg.model.src_vocab_size, cfg.model.tgt_vocab_size):
        raise CheckpointError(f"{where}: vocabulary does not match the model (tokenizers have "
                              f"{src_tok.vocab_size}/{tgt_tok.vocab_size} pieces, model expects "
                              f"{cfg.model.src_vocab_size}/{cfg.model.tgt_vocab_size})")
    _check_shapes(cfg, payload, where)
    try:
        state = expand_state(payload, where)
    except (KeyError, TypeError, AttributeError, RuntimeError) as err:
        raise CheckpointError(f"{where}: damaged weights: {str(err).splitlines()[0][:200]}") from None
    return cfg, src_tok, tgt_tok, state


def checkpoint_from_payload(payload: dict[str, Any], path: Path | None, device: str | torch.device = "cpu"):
    where = str(path) if path else "checkpoint"
    cfg, src_tok, tgt_tok, state = _validated(payload, where)
    model = Seq2Seq(cfg.model)
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError) as err:
        raise CheckpointError(f"{where}: weights do not fit the model config: "
                              f"{str(err).splitlines()[0][:200]}") from None
    model.to(device).eval()
    for stack in (model.encoder, model.decoder):
        for rnn in stack.layers:
            rnn.flatten_parameters()
    return Checkpoint(path, cfg, model, TokenizerPair(src_tok, tgt_tok), int(payload.get("step", 0)),
                      dict(payload.get("metrics") or {}), list(payload.get("history") or []),
                      {"training_state": payload.get("training_state"),
                       "evaluations": list(payload.get("evaluations") or []),
                       "examples": list(payload.get("examples") or []),
                       "test_sample": payload.get("test_sample"), "attribution": payload.get("attribution"),
                       "weights": payload.get("weights", "float32"), "shortlist": payload.get("shortlist")})


# --------------------------------------------------------------------------------------- compact weights
WEIGHT_ENCODINGS = ("float32", "float16", "int8")


def compact_payload(payload: dict[str, Any], weights: str = "int8") -> dict[str, Any]:
    """A shareable copy of ``payload``: no training state, and matrices stored in ``weights`` precision.

    Why: a shipped model must fit in a few megabytes (the repository carries five). ``int8`` stores every
    matrix as int8 with one float32 scale per row (symmetric, scale = max |w| / 127), a quarter of the
    float32 size; vectors (biases) stay float32. A tied output layer is stored once. Loading turns the
    weights back into float32 (``expand_state``), so nothing else changes; what it costs in BLEU is
    measured per shipped model (docs/models.md)."""
    if weights not in WEIGHT_ENCODINGS:
        raise ValueError(f"weights must be one of {WEIGHT_ENCODINGS}, got {weights!r}")
    state = dict(payload["model_state"])
    if payload["config"]["model"].get("tie_embeddings"):
        state.pop("out.weight", None)  # the same matrix as tgt_embed.weight
    stored, scales = {}, {}
    for name, tensor in state.items():
        if weights == "float32" or not tensor.is_floating_point() or tensor.dim() < 2:
            stored[name] = tensor.float() if tensor.is_floating_point() else tensor
        elif weights == "float16":
            stored[name] = tensor.half()
        else:
            rows = tensor.float().reshape(tensor.shape[0], -1)
            scale = rows.abs().amax(dim=1).clamp(min=1e-12) / 127.0
            stored[name] = torch.round(rows / scale[:, None]).to(torch.int8).reshape(tensor.shape)
            scales[name] = scale
    return {**payload, "model_state": stored, "weights": weights, "weight_scales": scales,
            "training_state": None}


def expand_state(payload: dict[str, Any], where: str) -> dict[str, torch.Tensor]:
    """The float32 state dict of a payload stored by ``compact_payload`` (or a plain one, unchanged)."""
    weights = payload.get("weights", "float32")
    if weights not in WEIGHT_ENCODINGS:
        raise CheckpointError(f"{where}: unknown weight encoding {weights!r} (expected one of {WEIGHT_ENCODINGS})")
    state, scales = dict(payload["model_state"]), payload.get("weight_scales") or {}
    for name, tensor in state.items():
        if tensor.dtype == torch.int8:
            scale = scales.get(name)
            if scale is None or scale.shape != (tensor.shape[0],):
                raise CheckpointError(f"{where}: int8 weights {name!r} have no matching row scales")
            state[name] = (tensor.float().reshape(tensor.shape[0], -1) * scale.float()[:, None]).reshape(tensor.shape)
        elif tensor.is_floating_point():
            state[name] = tensor.float()
    if payload["config"]["model"].get("tie_embeddings") and "out.weight" not in state and "tgt_embed.weight" in state:
        state["out.weight"] = state["tgt_embed.weight"]
    return state


def record_evaluation(path: str | Path, result: dict[str, Any], sources: list[str], references: list[str]) -> None:
    """Add a test score to the checkpoint's model card (``payload["evaluations"]``), with what it was
    measured on: file names, sentence count and a fingerprint of the exact text (sha256 of sources and
    references), so "BLEU 35" always comes with "on which sentences". A record with the same data and
    decoding settings is replaced."""
    import hashlib
    import time

    payload = read_payload(path)
    digest = hashlib.sha256("\n".join(sources + ["\t"] + references).encode("utf-8", "surrogatepass")).hexdigest()
    record = {**{k: v for k, v in result.items() if v is not None}, "sentences": len(sources),
              "data_sha256": digest[:16], "date": time.strftime("%Y-%m-%d")}
    same = ("data_sha256", "beam_size", "length_penalty", "alpha", "stopping")
    kept = [r for r in payload.get("evaluations") or [] if any(r.get(k) != record.get(k) for k in same)]
    payload["evaluations"] = [*kept, record]
    save_checkpoint(payload, path)


def payload_bytes(payload: dict[str, Any]) -> bytes:
    """Serialise a payload in memory (used by tests and the app's download button)."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()
