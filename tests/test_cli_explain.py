"""``python -m nmt_core lesson`` and ``replay``: the explainer files a teacher or a model's recipe writes."""

from __future__ import annotations

import shutil

import pytest
from test_training_replay import tiny

from nmt_core.cli import main
from nmt_core.inspection.training_replay import load_json
from nmt_core.snapshots import list_snapshots
from nmt_core.train import train


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli-replay") / "run"
    assert train(tiny(snapshots=3), folder, progress_bar=False).state == "finished"
    return folder


def test_replay_stores_every_sentence_through_every_snapshot(run, tmp_path, capsys):
    from nmt_core.checkpoint import load_checkpoint

    sentences = tmp_path / "examples.txt"
    sentences.write_text("# examples\nthe red car is fast\n\na big dog\n", encoding="utf-8")
    out = tmp_path / "model.replay.json"
    assert main(["replay", str(run), str(sentences), "--out", str(out)]) == 0  # on the run's best.pt
    replays = load_json(out)
    assert [r.sentence for r in replays] == ["the red car is fast", "a big dog"]
    final = load_checkpoint(run / "best.pt").step
    steps = [s.step for s in list_snapshots(run) if s.step < final] + [final]
    assert all(list(r.frames.step) == steps for r in replays) and len(steps) >= 2
    assert f"2 sentences x {len(steps)} frames" in capsys.readouterr().out


def test_replay_skips_a_sentence_it_cannot_replay_and_says_so(run, tmp_path, capsys):
    (tmp_path / "s.txt").write_text("the red car is fast\n.\n", encoding="utf-8")
    out = tmp_path / "x.json"
    assert main(["replay", str(run), str(tmp_path / "s.txt"), "--out", str(out)]) == 0
    assert [r.sentence for r in load_json(out)] == ["the red car is fast"]
    assert "skipped '.'" in capsys.readouterr().err


def test_replay_refuses_a_run_without_snapshots_and_an_unbounded_count(run, tmp_path, capsys):
    (tmp_path / "s.txt").write_text("the red car\n", encoding="utf-8")
    assert main(["replay", str(tmp_path), str(tmp_path / "s.txt"), "--checkpoint", str(run / "best.pt"),
                 "--out", str(tmp_path / "x.json")]) == 2
    assert "has no snapshots" in capsys.readouterr().err
    assert main(["replay", str(run), str(tmp_path / "s.txt"), "--out", str(tmp_path / "x.json"),
                 "--max-sentences", "1000"]) == 2
    assert "--max-sentences must be in 1..32" in capsys.readouterr().err


def test_lesson_writes_one_offline_file_with_the_stored_replay(run, tmp_path, capsys):
    ckpt = tmp_path / "tiny.pt"
    shutil.copy(run / "best.pt", ckpt)
    (tmp_path / "s.txt").write_text("the red car is fast\n", encoding="utf-8")
    assert main(["replay", str(run), str(tmp_path / "s.txt"), "--checkpoint", str(ckpt),
                 "--out", str(ckpt.with_suffix(".replay.json"))]) == 0
    out = tmp_path / "lesson.html"
    assert main(["lesson", str(ckpt), "the red car is fast", "--out", str(out), "--ig-steps", "4",
                 "--beam-size", "1"]) == 0  # this 50-step model's beam of 5 prefers the empty translation
    page = out.read_text(encoding="utf-8")
    assert "with its training replay" in capsys.readouterr().out
    for section in ("Every view, linked", "Beam search, step by step", "The cell, live", "Training replay"):
        assert f"<h2>{section}</h2>" in page
    assert "<script src=" not in page and "https://" not in page.split("<script>")[0]


def test_lesson_reports_unknown_words_and_refuses_bad_bounds(run, tmp_path, capsys):
    out = tmp_path / "lesson.html"
    assert main(["lesson", str(run / "best.pt"), "the zebra car is fast", "--out", str(out), "--ig-steps", "2",
                 "--beam-size", "1"]) == 0
    assert 'notice: not in the model\'s vocabulary, read as <unk>: "zebra"' in capsys.readouterr().err
    assert main(["lesson", str(run / "best.pt"), "the red car is fast", "--beam-size", "0", "--out", str(out)]) == 2
    assert "--beam-size must be positive" in capsys.readouterr().err
