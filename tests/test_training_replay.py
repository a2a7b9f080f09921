"""Snapshots are written at the scheduled steps, hold the weights of that step, and replay a sentence frame by
frame; the chart scrubs through every frame."""

from __future__ import annotations

import json

import pytest
import torch

from nmt_core.checkpoint import load_checkpoint
from nmt_core.config import ConfigError, ExperimentConfig
from nmt_core.inspection.training_replay import TrainingReplay, load_json, save_json, training_replay
from nmt_core.runs import RunDir
from nmt_core.snapshots import list_snapshots, snapshot_steps
from nmt_core.train import train
from nmt_core.viz import training_replay_chart


def tiny(**train_overrides) -> ExperimentConfig:
    return ExperimentConfig.from_dict({
        "name": "tiny", "data": {"task": "toy-en-es", "size": 400, "dev_size": 30, "test_size": 30},
        "tokenizer": {"type": "word", "vocab_size": 1000},
        "model": {"embedding_size": 16, "hidden_size": 16, "dropout": 0.0},
        "train": {"batch_size": 16, "max_steps": 100, "eval_every": 50, "log_every": 10, "dev_bleu_sentences": 10,
                  "threads": 1, **train_overrides}})


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("replay") / "run"
    result = train(tiny(snapshots=3), folder, progress_bar=False)
    assert result.state == "finished" and result.step == 100
    return folder


def test_snapshots_are_written_at_the_scheduled_steps_with_their_weights(run):
    assert snapshot_steps(3) == [25, 50, 100]
    snaps = list_snapshots(run)
    assert [s.step for s in snaps] == [25, 50, 100]
    loaded = [s.load() for s in snaps]
    for snap, ckpt in zip(snaps, loaded):
        assert ckpt.step == snap.step and ckpt.extra["weights"] == "int8"
        assert ckpt.metrics["step"] == snap.step and 0 <= ckpt.metrics["dev_bleu"] <= 100
        assert ckpt.metrics["train_loss"] > 0 and ckpt.metrics["snapshot_s"] >= 0
    last = load_checkpoint(RunDir(run).last_checkpoint)  # float32, written at step 100 too
    assert last.step == 100
    for name, weight in last.model.state_dict().items():
        stored = loaded[-1].model.state_dict()[name]
        if weight.dim() >= 2:  # int8 with a scale per row: off by at most half a step of that row's scale
            step = weight.reshape(weight.shape[0], -1).abs().amax(1) / 127
            assert torch.all((stored - weight).reshape(weight.shape[0], -1).abs() <= step[:, None] / 2 + 1e-7)
        else:
            torch.testing.assert_close(stored, weight)
    early = loaded[0].model.state_dict()["out.weight"]
    assert not torch.allclose(early, last.model.state_dict()["out.weight"], atol=1e-2)  # they are other steps


def test_no_snapshots_and_the_bound(tmp_path):
    assert snapshot_steps(0) == []
    with pytest.raises(ConfigError, match="train.snapshots"):
        tiny(snapshots=99)


def test_replay_of_a_sentence_has_one_frame_per_snapshot_on_one_target(run):
    snaps = [s.load() for s in list_snapshots(run)]
    final = load_checkpoint(RunDir(run).best_checkpoint)
    replay = training_replay(snaps, final, "the red car is fast")
    assert list(replay.frames.step) == [25, 50, 100, final.step]
    assert replay.frames.label.iloc[-1].endswith("(final)") and replay.frames.translation.iloc[-1] == replay.target
    rows = replay.attention.groupby("frame").t.max()
    assert len(rows) == 4 and rows.nunique() == 1  # the same rows (the final translation) in every frame
    assert replay.attention.groupby(["frame", "t"]).weight.sum().round(5).eq(1).all()
    assert set(replay.gradients.frame) == {0, 1, 2, 3} and (replay.gradients.grad_norm >= 0).all()
    again = TrainingReplay.from_dict(json.loads(json.dumps(replay.to_dict())))
    assert again.frames.equals(replay.frames) and len(again.attention) == len(replay.attention)


def test_replay_file_round_trip_and_refusal(run, tmp_path):
    snaps = [s.load() for s in list_snapshots(run)]
    replay = training_replay(snaps, load_checkpoint(RunDir(run).best_checkpoint), "a big dog")
    path = tmp_path / "model.replay.json"
    save_json([replay], path)
    (loaded,) = load_json(path)
    assert loaded.sentence == "a big dog" and len(loaded.frames) == 4
    path.write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not a training replay file"):
        load_json(path)


def test_the_chart_scrubs_every_frame_in_the_browser(run):
    snaps = [s.load() for s in list_snapshots(run)]
    replay = training_replay(snaps, load_checkpoint(RunDir(run).best_checkpoint), "the red car is fast")
    spec = training_replay_chart(replay).to_dict()
    (param,) = [p for p in spec["params"] if p["name"] == "snapshot"]
    assert param["bind"]["max"] == 3 and param["value"] == 3
    filters = json.dumps(spec).count('"filter": "(datum.frame === snapshot)"')
    assert filters >= 4  # the chosen point, the translation, the attention and the gradients follow the slider


def test_the_shipped_toy_replay_belongs_to_the_shipped_toy_model():
    """checkpoints/toy-en-es.replay.json (``python -m nmt_core replay``, recipe in configs/toy-en-es.yaml): one replay
    per example sentence, snapshots at the doubling steps, and a last frame that is the shipped model itself."""
    from pathlib import Path

    from nmt_core.inspection.sentence import prepare
    from nmt_core.tasks import get_task

    root = Path(__file__).resolve().parents[1]
    final = load_checkpoint(root / "checkpoints" / "toy-en-es.pt")
    replays = load_json(root / "checkpoints" / "toy-en-es.replay.json")
    assert [r.sentence for r in replays] == list(get_task("toy-en-es").info.examples)
    for replay in replays[:3]:
        assert list(replay.frames.step) == [25, 50, 100, 200, 400, 800, 1600, final.step]
        own = prepare(final.model.eval(), final.tokenizers, replay.sentence).tgt_text
        assert replay.target == own == replay.frames.translation.iloc[-1]
        assert replay.frames.dev_bleu.iloc[0] < 5 < 95 < replay.frames.dev_bleu.iloc[-2]
