"""A shared classroom server: every value from outside bounded on the server, checkpoints checked before any
allocation, no silent wrong result, runs owned by whoever started them, and a stop that always wins.

One test per case of the safety issue (docs/robustness.md, section 7, lists them with these names)."""

from __future__ import annotations

import copy
import errno
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest_app import studio_folder, tiny_checkpoint
from streamlit.testing.v1 import AppTest

from nmt_core import jobs
from nmt_core.checkpoint import CheckpointError, load_checkpoint, read_payload, save_checkpoint, validate_checkpoint
from nmt_core.cli import main
from nmt_core.config import ConfigError, ExperimentConfig, load_config
from nmt_core.corpus import CorpusError, read_csv, read_tsv
from nmt_core.limits import BOUNDS, LimitError, check, clamp
from nmt_core.runs import RunDir, run_info
from nmt_core.train import Trainer
from nmt_core.translator import Translator

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
TOY = ROOT / "checkpoints" / "toy-en-es.pt"


def tiny_raw(**train) -> dict:
    return {"name": "tiny", "data": {"task": "toy-en-es", "size": 300, "dev_size": 20, "test_size": 20},
            "tokenizer": {"type": "word", "vocab_size": 1000}, "model": {"embedding_size": 8, "hidden_size": 8},
            "train": {"batch_size": 16, "max_steps": 20, "eval_every": 10, "log_every": 5, "dev_bleu_sentences": 10,
                      "threads": 1, **train}}


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    yield from studio_folder(tmp_path_factory, "safety-studio")


# ------------------------------------------------------------------------------------------ the bounds table
def test_every_bound_refuses_outside_and_accepts_inside():
    for name, bound in BOUNDS.items():
        assert check(name, bound.low) == bound.low and check(name, bound.high) == bound.high
        for outside in (bound.high * 10 + 1, bound.low - 1, float("inf"), "abc", None, True):
            with pytest.raises(LimitError) as err:
                check(name, outside)
            assert "\n" not in str(err.value) and name in str(err.value)
    assert check("train.lr", "1e-3") == 0.001  # the way people write it
    assert clamp("beam_size", 1500) == (64, "beam_size=1500 is outside 1..64: using 64")
    assert clamp("alpha", 1e308, 0, 2)[0] == 2 and clamp("beam_size", 3) == (3, None)


# ------------------------------------------------------------------------------------------ links in locked mode
def open_locked(page: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"locked": "1", **query})
    at.run()
    at.switch_page(f"pages/{page}").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.mark.parametrize("page,query,notice", [
    ("1_Translate.py", {"beam_size": "1500", "s": "the red car"}, "1500 is outside 1..12; using 12"),
    ("1_Translate.py", {"lp": "gnmt", "alpha": "1e308", "s": "the red car"}, "outside 0.0..2.0; using 2.0"),
    ("1_Translate.py", {"prefix": "el " * 1500, "s": "the red car"}, "4,500 characters, cut to the first 300"),
    ("7_Data.py", {"corpus": "built-in task: toy-en-es", "size": "1000000"}, "1000000 is outside 100..20000"),
    ("3_Gates.py", {"unit": "100000", "s": "the red car"}, "100000 is outside 0.."),
    ("1_Translate.py", {"s": "the red car " * 400}, "cut to the first 2,000"),
])
def test_locked_links_are_bounded_like_their_widgets(studio, page, query, notice):
    started = time.perf_counter()
    at = open_locked(page, **query)
    warnings = " ".join(w.value for w in at.warning)
    assert notice in warnings, warnings
    assert time.perf_counter() - started < 60


def test_a_link_with_junk_numbers_gets_the_defaults(studio):
    at = open_locked("1_Translate.py", beam_size="abc", alpha="nan", n="1e999", s="the red car")
    assert not at.exception and at.code  # a translation, no traceback


# ------------------------------------------------------------------------------------------ checkpoints
def _mutated(tmp_path: Path, change) -> Path:
    payload = read_payload(TOY if TOY.exists() else tiny_checkpoint(tmp_path / "base.pt"))
    payload = copy.deepcopy(payload)
    change(payload)
    save_checkpoint(payload, tmp_path / "x.pt")
    return tmp_path / "x.pt"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("field,value,message", [
    ("hidden_size", 8000, "model.hidden_size=8000 is out of range"),
    ("hidden_size", 100000, "model.hidden_size=100000 is out of range"),
    ("encoder_layers", 3000, "model.encoder_layers=3000 is out of range"),
    ("embedding_size", 1e9, "model.embedding_size=1000000000.0 is out of range"),
    ("hidden_size", 1024, "weights do not fit the model config: 'encoder.layers.0.weight_ih_l0'"),
    ("hidden_size", "big", "model.hidden_size must be a number"),
])
@pytest.mark.parametrize("check", [load_checkpoint, validate_checkpoint], ids=["load", "validate"])
def test_checkpoint_configs_are_checked_before_allocation(tmp_path, field, value, message, check):
    """``validate_checkpoint`` (the studio's check of every listed file) refuses what loading refuses."""
    path = _mutated(tmp_path, lambda p: p["config"]["model"].__setitem__(field, value))
    before = _rss_mb()
    with pytest.raises(CheckpointError, match=message) as err:
        check(path)
    assert "\n" not in str(err.value)
    assert _rss_mb() - before < 300  # nothing near the gigabytes the config claims


@pytest.mark.parametrize("field,value,message", [
    ("step", "abc", "field 'step' must be a whole number"), ("metrics", [1], "field 'metrics' must be a mapping"),
    ("src_spm", "text", "field 'src_spm' must be"), ("model_state", {"x": 1}, "non-tensor entries"),
])
@pytest.mark.parametrize("check", [load_checkpoint, validate_checkpoint], ids=["load", "validate"])
def test_every_malformed_checkpoint_field_gets_its_own_reason(tmp_path, field, value, message, check):
    path = _mutated(tmp_path, lambda p: p.__setitem__(field, value))
    with pytest.raises(CheckpointError, match=message):
        check(path)


@pytest.mark.parametrize("content,message", [
    (b'{"format": "nmt-studio-checkpoint"}', "a JSON or text file"), (bytes(range(256)) * 4, "foreign bytes"),
    (b"", "the file is empty"),
])
def test_files_that_are_not_checkpoints_get_the_real_reason(tmp_path, content, message):
    (tmp_path / "x.pt").write_bytes(content)
    with pytest.raises(CheckpointError, match=message) as err:
        load_checkpoint(tmp_path / "x.pt")
    assert "pickled" not in str(err.value)


def test_a_junk_checkpoint_is_never_a_default(studio):
    from studio import models

    junk = Path(studio, "checkpoints", "aaa-junk.pt")  # sorts first by name
    junk.write_text("not a checkpoint")
    try:
        available = models.available_models()
        keys = list(available)
        assert available[keys[0]].problem is None and available["aaa-junk (shipped)"].problem
        assert keys[-1] == "aaa-junk (shipped)" and "cannot be loaded" in available[keys[-1]].label
        for key in keys[:-1]:
            assert available[models.contrast_model(key, keys)].problem is None
        at = AppTest.from_file(APP, default_timeout=120).run()
        at.switch_page("pages/6_Compare.py").run()
        assert not at.exception and not at.error
    finally:
        junk.unlink()


# ------------------------------------------------------------------------------------------ configs and the CLI
def test_numbers_parse_the_way_people_write_them(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: x\ntrain:\n  lr: 1e-3\n  warmup_steps: 1e2\n")
    cfg = load_config(path, ["train.label_smoothing=1e-1"])
    assert (cfg.train.lr, cfg.train.warmup_steps, cfg.train.label_smoothing) == (0.001, 100, 0.1)
    with pytest.raises(ConfigError, match="train.lr='1e6' is out of range"):
        load_config(path, ["train.lr=1e6"])
    with pytest.raises(ConfigError, match="train.warmup_steps must be a whole number"):
        load_config(path, ["train.warmup_steps=2.5"])


@pytest.mark.skipif(not TOY.exists(), reason="needs the shipped toy model")
@pytest.mark.parametrize("flags,message", [
    (["--batch-size", "-1"], "--batch-size must be positive"), (["--beam-size", "0"], "--beam-size must be positive"),
    (["--beam", "0", "--nbest", "3"], "--beam-size must be positive"),
    (["--max-ratio", "1e9"], "--max-ratio=1000000000.0 is out of range"),
    (["--beam", "100000"], "--beam-size=100000 is out of range"), (["--alpha", "1e308"], "--alpha=1e+308"),
    (["--threads", "100000"], "--threads=100000 is out of range 1..512"),
])
def test_cli_decoding_flags_are_bounded(monkeypatch, capsys, flags, message):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"the red car\n"), encoding="utf-8"))
    started = time.perf_counter()
    assert main(["translate", "--checkpoint", str(TOY), *flags]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ") and message in err and err.count("\n") == 1
    assert time.perf_counter() - started < 20


@pytest.mark.skipif(not TOY.exists(), reason="needs the shipped toy model")
def test_the_python_api_enforces_the_same_bounds():
    tr = Translator.from_path(TOY, "cpu")
    for options in ({"beam_size": 100000}, {"beam_size": 3, "max_ratio": 1e9}, {"beam_size": 3, "batch_size": 0}):
        with pytest.raises(LimitError):
            tr.translate(["the red car"], **options)
    with pytest.raises(LimitError, match="nbest=4 is more than beam_size=2"):
        tr.decode(["the red car"], beam_size=2, nbest=4)


def test_cr_only_line_endings_are_line_ends(tmp_path):
    path = tmp_path / "mac.tsv"
    path.write_bytes(b"a b\tc d\re f\tg h\rx\ty\r")
    assert len(read_tsv(path)) == 3


def test_a_one_column_csv_cannot_train_source_to_source(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("en\nhello\nworld\n")
    with pytest.raises(CorpusError, match="the source and target columns are the same"):
        read_csv(path, "en", "en")


# ------------------------------------------------------------------------------------------ training
def test_divergence_is_a_failure_and_says_truthfully_what_is_kept(tmp_path):
    cfg = ExperimentConfig.from_dict(tiny_raw(lr=50.0, max_steps=60, eval_every=1000, log_every=2,
                                              clip_norm=None))
    result = Trainer(cfg, tmp_path / "run", progress_bar=False).train()
    assert result.state == "failed" and "diverged" in result.message
    assert "no checkpoint had been saved yet" in result.message and "last good" not in result.message
    assert RunDir(tmp_path / "run").read_status()["state"] == "failed"


def test_a_failure_after_a_checkpoint_says_it_is_kept(tmp_path):
    run = tmp_path / "run"
    Trainer(ExperimentConfig.from_dict(tiny_raw(max_steps=10)), run, progress_bar=False).train()
    cfg = ExperimentConfig.from_dict(tiny_raw(lr=50.0, max_steps=80, eval_every=1000, log_every=2, clip_norm=None))
    result = Trainer(cfg, run, resume=True, progress_bar=False).train()
    assert result.state == "failed" and "the last good checkpoint (last.pt) is kept" in result.message


def test_resume_applies_a_new_learning_rate_and_refuses_a_new_data_order(tmp_path):
    run = tmp_path / "run"
    Trainer(ExperimentConfig.from_dict(tiny_raw(max_steps=10, lr=0.001)), run, progress_bar=False).train()
    trainer = Trainer(ExperimentConfig.from_dict(tiny_raw(max_steps=20, lr=0.01)), run, resume=True,
                      progress_bar=False)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.01)
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["lr"] == 0.01
    trainer.train()
    lrs = [r["lr"] for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
           if r["kind"] == "train" and r["step"] > 10]
    assert lrs and all(lr == pytest.approx(0.01) for lr in lrs)
    with pytest.raises(Exception, match="cannot resume with train.batch_size=32"):
        Trainer(ExperimentConfig.from_dict(tiny_raw(max_steps=30, batch_size=32)), run, resume=True,
                progress_bar=False)


def test_metrics_have_each_step_once_after_resumes(tmp_path):
    run = RunDir(tmp_path / "run")
    Trainer(ExperimentConfig.from_dict(tiny_raw(max_steps=15)), run.path, progress_bar=False).train()  # last.pt: 15
    with open(run.metrics_file, "a") as f:  # a killed process wrote past its last checkpoint
        f.write(json.dumps({"kind": "train", "step": 17, "loss": 1.0}) + "\n" + '{"kind": "tr')
    size = run.metrics_file.stat().st_size
    Trainer(ExperimentConfig.from_dict(tiny_raw(max_steps=20)), run.path, resume=True, progress_bar=False).train()
    records = run.read_metrics().to_dict(orient="records")
    keys = [(r["kind"], r["step"]) for r in records]
    assert len(keys) == len(set(keys)) and ("train", 17) not in keys
    assert [k for k in keys if k[0] == "train"] == [("train", s) for s in (5, 10, 15, 20)]
    assert run.metrics_file.stat().st_size > size  # the file only grows: a kill at any moment loses nothing


def test_a_full_disk_on_resume_is_one_line_and_leaves_no_stale_status(tmp_path, monkeypatch, capsys):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(tiny_raw(max_steps=10)))
    run = RunDir(tmp_path / "run")
    assert main(["train", str(cfg), "--run-dir", str(run.path)]) == 0
    assert run.read_status()["state"] == "finished"
    capsys.readouterr()
    real_write = Path.write_text

    def full(self, *args, **kwargs):
        if self.name in ("config.yaml", "status.json") or self.name.startswith("status.json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    from nmt_core import runs as runs_module

    monkeypatch.setattr(runs_module, "write_json_atomic", lambda *a, **k: (_ for _ in ()).throw(
        OSError(errno.ENOSPC, "No space left on device")))
    assert main(["train", str(cfg), "--run-dir", str(run.path), "--resume", "--set", "train.max_steps=20"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "No space left on device" in err and "Traceback" not in err
    monkeypatch.undo()
    assert (run.read_status() or {}).get("state") != "finished"


# ------------------------------------------------------------------------------------------ who may stop what
def test_classroom_runs_belong_to_their_browser(tmp_path, monkeypatch):
    from studio import identity

    cfg = ExperimentConfig.from_dict(tiny_raw(max_steps=2000, eval_every=1000))
    info = jobs.start_training(cfg, tmp_path, "mine", owner="alice", per_owner=1)
    try:
        with pytest.raises(jobs.JobLimitError, match="allows 1 per person"):
            jobs.start_training(cfg, tmp_path, "second", owner="alice", per_owner=1, limit=5)
        other = jobs.start_training(cfg, tmp_path, "theirs", owner="bob", per_owner=1, limit=5)
        monkeypatch.setenv("NMT_STUDIO_MODE", "classroom")
        monkeypatch.setattr(identity, "owner_id", lambda: "bob")
        assert not identity.may_control(run_info(info.path)) and identity.may_control(run_info(other.path))
        monkeypatch.setenv("NMT_STUDIO_MODE", "single-user")
        assert identity.may_control(run_info(info.path))  # make app on a laptop: every button for everyone
    finally:
        for name in ("mine", "theirs"):
            jobs.kill_run(tmp_path / name)


def test_upload_limit_is_enforced_by_the_server_config():
    """Streamlit rejects a larger upload at its endpoint (HTTP 413) before the app reads a byte; the app's own
    limit is the same number."""
    import tomllib

    from studio import paths

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] == paths.MAX_UPLOAD_MB == 50


# ------------------------------------------------------------------------------------------ the stop race
def test_a_stop_file_present_before_the_trainer_starts_wins(tmp_path):
    run = RunDir(tmp_path / "run").create()
    run.request_stop()
    result = Trainer(ExperimentConfig.from_dict(tiny_raw()), run.path, progress_bar=False).train()
    assert result.state == "stopped" and result.step == 0


def test_start_then_stop_always_stops_under_load(tmp_path):
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        cfg = ExperimentConfig.from_dict(tiny_raw(max_steps=100_000, eval_every=100_000))
        for i in range(8):
            info = jobs.start_training(cfg, tmp_path, f"r{i}", limit=20)
            time.sleep(0.05 * (i % 4))  # stop at different moments of the child's start-up
            jobs.stop_run(info.path)
            deadline = time.time() + 120
            while run_info(info.path).active and time.time() < deadline:
                time.sleep(0.1)
            final = run_info(info.path)
            assert final.state == "stopped" and not final.active, (i, final, jobs.log_tail(info.path))
    finally:
        hog.kill()
        for path in tmp_path.iterdir():
            if path.is_dir():
                jobs.kill_run(path)


def test_the_cli_clears_a_stale_stop_only_when_started_by_hand(tmp_path):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(yaml.safe_dump(tiny_raw(max_steps=5)))
    run = RunDir(tmp_path / "run").create()
    run.request_stop()
    env = {**os.environ, "NMT_STUDIO_JOB": "1"}
    subprocess.run([sys.executable, "-m", "nmt_core", "train", str(cfg), "--run-dir", str(run.path)], cwd=ROOT,
                   env=env, capture_output=True, timeout=300, check=True)
    assert run.read_status()["state"] == "stopped"  # the studio's stop wins
    env.pop("NMT_STUDIO_JOB")
    run.request_stop()
    subprocess.run([sys.executable, "-m", "nmt_core", "train", str(cfg), "--run-dir", str(tmp_path / "run2")],
                   cwd=ROOT, env=env, capture_output=True, timeout=300, check=True)
    run2 = RunDir(tmp_path / "run2")
    run2.request_stop()
    subprocess.run([sys.executable, "-m", "nmt_core", "train", str(cfg), "--run-dir", str(run2.path), "--set",
                    "train.max_steps=8", "--resume"], cwd=ROOT, env=env, capture_output=True, timeout=300, check=True)
    assert run2.read_status()["state"] == "finished"  # a stale STOP from an earlier stop: cleared by hand-start
