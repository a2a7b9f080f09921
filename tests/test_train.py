"""Training end to end on a tiny built-in task: run files, stop file, resume, kill -9, NaN guard."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from nmt_core.checkpoint import load_checkpoint
from nmt_core.config import ExperimentConfig
from nmt_core.runs import RunDir
from nmt_core.train import Trainer, train

ROOT = Path(__file__).resolve().parents[1]


def tiny(**train_overrides) -> ExperimentConfig:
    raw = {
        "name": "tiny",
        "data": {"task": "toy-en-es", "size": 400, "dev_size": 30, "test_size": 30},
        "tokenizer": {"type": "word", "vocab_size": 1000},
        "model": {"embedding_size": 16, "hidden_size": 16, "dropout": 0.0},
        "train": {"batch_size": 16, "max_steps": 20, "eval_every": 10, "log_every": 5,
                  "dev_bleu_sentences": 10, "threads": 1, **train_overrides},
    }
    return ExperimentConfig.from_dict(raw)


def test_run_directory_contract(tmp_path):
    result = train(tiny(), tmp_path / "run", progress_bar=False)
    run = RunDir(tmp_path / "run")
    assert result.state == "finished" and result.step == 20
    status = run.read_status()
    assert status["state"] == "finished" and status["step"] == 20
    metrics = run.read_metrics()
    assert set(metrics["kind"]) == {"train", "dev"}
    assert metrics[metrics.kind == "train"]["step"].tolist() == [5, 10, 15, 20]
    dev = metrics[metrics.kind == "dev"]
    assert dev["step"].tolist() == [10, 20] and dev["bleu"].notna().all()
    assert yaml.safe_load(run.config_file.read_text())["name"] == "tiny"
    best = load_checkpoint(run.best_checkpoint)
    assert best.metrics["bleu"] == dev["bleu"].max() and best.step in (10, 20)
    assert [h["step"] for h in best.history][:2] == [5, 10]
    assert load_checkpoint(run.last_checkpoint).extra["training_state"] is not None


def test_stop_file_saves_and_exits(tmp_path):
    run = RunDir(tmp_path / "run")
    seen = []

    def on_log(record):
        seen.append(record["step"])
        if record["step"] >= 5:
            run.request_stop()

    result = Trainer(tiny(max_steps=1000), run.path, progress_bar=False, on_log=on_log).train()
    assert result.state == "stopped" and result.step < 20
    assert run.read_status()["state"] == "stopped"
    assert load_checkpoint(run.last_checkpoint).step == result.step
    assert not run.stop_requested()


def test_resume_continues_exactly(tmp_path):
    """Stop at step 10, resume to 20: the weights equal an uninterrupted 20-step run."""
    straight = train(tiny(), tmp_path / "a", progress_bar=False)
    train(tiny(max_steps=10), tmp_path / "b", progress_bar=False)
    resumed = Trainer(tiny(), tmp_path / "b", resume=True, progress_bar=False).train()
    assert straight.step == resumed.step == 20
    a = load_checkpoint(tmp_path / "a" / "last.pt").model.state_dict()
    b = load_checkpoint(tmp_path / "b" / "last.pt").model.state_dict()
    for name in a:
        torch.testing.assert_close(a[name], b[name], atol=1e-6, rtol=1e-5, msg=name)


def test_killed_run_resumes_from_last_checkpoint(tmp_path):
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny(max_steps=100000, eval_every=10).to_dict()))
    run = RunDir(tmp_path / "run")
    proc = subprocess.Popen([sys.executable, "-m", "nmt_core", "train", str(cfg_path), "--run-dir", str(run.path)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (run.last_checkpoint.exists() and
                                               load_checkpoint(run.last_checkpoint).step >= 20):
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    saved_step = load_checkpoint(run.last_checkpoint).step
    assert saved_step >= 20
    result = Trainer(tiny(max_steps=saved_step + 10), run.path, resume=True, progress_bar=False).train()
    assert result.step == saved_step + 10
    steps = [json.loads(line)["step"] for line in run.metrics_file.read_text().splitlines()]
    assert steps[-1] == saved_step + 10


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    run = RunDir(tmp_path / "run")
    trainer = Trainer(tiny(max_steps=40, lr=1e-3), run.path, progress_bar=False)
    original = trainer._train_step

    def poisoned(*args, **kwargs):  # signature-agnostic: _train_step's arguments are an implementation detail
        loss, *rest = original(*args, **kwargs)
        if trainer.progress.step >= 12:  # after the step-10 checkpoint
            with torch.no_grad():
                for p in trainer.model.parameters():
                    p.fill_(float("nan"))
            return (torch.full_like(loss, float("nan")), *rest)
        return (loss, *rest)

    trainer._train_step = poisoned
    result = trainer.train()
    assert result.state == "failed" and "non-finite loss" in result.message
    assert run.read_status()["state"] == "failed"
    good = load_checkpoint(run.last_checkpoint)
    assert good.step == 10
    assert all(torch.isfinite(p).all() for p in good.model.parameters())


def test_cli_reports_bad_config_in_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  cell: transformer\n")
    out = subprocess.run([sys.executable, "-m", "nmt_core", "train", str(bad)], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().startswith("error: model.cell must be one of")
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize("override,message", [
    ("model.hidden=3", "unknown key"), ("train.lr=-1", "train.lr must be positive"), ("nonsense", "section.key=value"),
])
def test_config_overrides_are_checked(tmp_path, override, message):
    from nmt_core.config import ConfigError, load_config

    path = tmp_path / "c.yaml"
    path.write_text("name: x\n")
    with pytest.raises(ConfigError, match=message):
        load_config(path, [override])


def test_user_tsv_corpus_trains_end_to_end(tmp_path):
    """A user's own Tatoeba-style TSV (with an attribution column) goes through the same train command."""
    from nmt_core import tasks

    pairs = tasks.generate("numbers-de", size=300, seed=3)
    tsv = tmp_path / "mine.tsv"
    tsv.write_text("".join(f"{s}\t{t}\tCC-BY (#{i})\n" for i, (s, t) in enumerate(zip(pairs.src, pairs.tgt))),
                   encoding="utf-8")
    cfg_path = tmp_path / "cfg.yaml"
    raw = tiny(max_steps=10, eval_every=10).to_dict()
    raw["data"] = {"task": None, "corpus": {"format": "tsv", "path": str(tsv)}, "dev_size": 20, "test_size": 20}
    raw["tokenizer"] = {"type": "unigram", "vocab_size": 60}
    cfg_path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "nmt_core", "train", str(cfg_path), "--run-dir", str(tmp_path / "r")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1])["state"] == "finished"
    ckpt = load_checkpoint(tmp_path / "r" / "best.pt")
    assert ckpt.metrics["data"]["train"] == 260 and ckpt.tokenizers.src.model_type() == "unigram"
