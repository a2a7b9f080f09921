"""Checkpoints: round trip, and one clear line for every kind of bad file."""

import io
import os
import pickle

import pytest
import torch

from nmt_core.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    load_checkpoint,
    make_payload,
    save_checkpoint,
    validate_checkpoint,
)
from nmt_core.tokenizer import TokenizerPair


@pytest.fixture()
def saved(tmp_path, tiny_config, tiny_model, tiny_tokenizers):
    path = tmp_path / "model.pt"
    save_checkpoint(make_payload(tiny_config, tiny_model, tiny_tokenizers, step=7, metrics={"bleu": 1.5}), path)
    return path


def test_round_trip_restores_weights_tokenizers_and_metrics(saved, tiny_model, tiny_tokenizers):
    ckpt = load_checkpoint(saved)
    assert ckpt.step == 7 and ckpt.metrics["bleu"] == 1.5
    assert not ckpt.model.training
    for (name, a), (_, b) in zip(tiny_model.state_dict().items(), ckpt.model.state_dict().items()):
        assert torch.equal(a, b), name
    sentence = "the red car is fast"
    assert ckpt.tokenizers.src.encode(sentence) == tiny_tokenizers.src.encode(sentence)
    assert ckpt.tokenizers.tgt.to_bytes() == tiny_tokenizers.tgt.to_bytes()


def test_joint_vocabulary_is_stored_once(tmp_path, tiny_config, tiny_model, tiny_tokenizers):
    joint = TokenizerPair(tiny_tokenizers.src, tiny_tokenizers.src)
    tiny_config.model.tgt_vocab_size = tiny_tokenizers.src.vocab_size
    from nmt_core.model import Seq2Seq

    payload = make_payload(tiny_config, Seq2Seq(tiny_config.model), joint, step=0)
    assert payload["tgt_spm"] is None
    save_checkpoint(payload, tmp_path / "j.pt")
    assert load_checkpoint(tmp_path / "j.pt").tokenizers.joint


class Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned > /tmp/nmt_studio_pwned",))


@pytest.mark.parametrize("check", [load_checkpoint, validate_checkpoint], ids=["load", "validate"])
def test_pickle_with_code_is_refused(tmp_path, check):
    path = tmp_path / "evil.pt"
    torch.save({"format": "nmt-studio-checkpoint", "payload": Evil()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        check(path)
    assert not os.path.exists("/tmp/nmt_studio_pwned")


@pytest.mark.parametrize("check", [load_checkpoint, validate_checkpoint], ids=["load", "validate"])
def test_plain_pickle_file_is_refused(tmp_path, check):
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(CheckpointError) as err:
        check(path)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("check", [load_checkpoint, validate_checkpoint], ids=["load", "validate"])
def test_truncated_file(saved, tmp_path, check):
    data = saved.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        check(cut)


@pytest.mark.parametrize("check", [load_checkpoint, validate_checkpoint], ids=["load", "validate"])
def test_unknown_format_version(tmp_path, tiny_config, tiny_model, tiny_tokenizers, check):
    payload = make_payload(tiny_config, tiny_model, tiny_tokenizers, step=0)
    payload["format_version"] = FORMAT_VERSION + 1
    save_checkpoint(payload, tmp_path / "v2.pt")
    with pytest.raises(CheckpointError, match="format version"):
        check(tmp_path / "v2.pt")


@pytest.mark.parametrize("check", [load_checkpoint, validate_checkpoint], ids=["load", "validate"])
def test_foreign_checkpoint(tmp_path, check):
    torch.save({"model": {"w": torch.zeros(2)}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an NMT Studio checkpoint"):
        check(tmp_path / "other.pt")


@pytest.mark.parametrize("check", [load_checkpoint, validate_checkpoint], ids=["load", "validate"])
def test_vocabulary_mismatch(tmp_path, tiny_config, tiny_model, tiny_tokenizers, check):
    payload = make_payload(tiny_config, tiny_model, tiny_tokenizers, step=0)
    payload["config"]["model"]["tgt_vocab_size"] += 3  # weights and config for another vocabulary
    save_checkpoint(payload, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="vocabulary does not match"):
        check(tmp_path / "mismatch.pt")


@pytest.mark.parametrize("check", [load_checkpoint, validate_checkpoint], ids=["load", "validate"])
def test_missing_file(tmp_path, check):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        check(tmp_path / "nope.pt")


def test_failed_save_leaves_previous_file_intact(saved, monkeypatch, tiny_config, tiny_model, tiny_tokenizers):
    before = saved.read_bytes()

    def boom(obj, f, *a, **k):
        f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(make_payload(tiny_config, tiny_model, tiny_tokenizers, step=9), saved)
    assert saved.read_bytes() == before
    assert [p.name for p in saved.parent.iterdir()] == [saved.name]  # no temp file left behind


def test_in_memory_bytes_round_trip(saved):
    assert torch.load(io.BytesIO(saved.read_bytes()), weights_only=True)["step"] == 7
