"""Listing the runs is on every page's rerun (the sidebar's model picker): each run's config and metrics are
parsed once per version of the file, and a file that changes is read again, so a running training stays live."""

from __future__ import annotations

import yaml

from nmt_core import runs
from nmt_core.runs import RunDir, list_runs, run_info


def _run(tmp_path, name="r1") -> RunDir:
    run = RunDir(tmp_path / name)
    run.path.mkdir(parents=True)
    run.config_file.write_text(yaml.safe_dump({"train": {"max_steps": 100, "time_budget_s": 600}}), encoding="utf-8")
    run.write_status("running", step=10, max_steps=100)
    run.append_metrics({"kind": "train", "step": 10, "elapsed_s": 20.0})
    return run


def test_each_file_is_parsed_once_per_version_and_again_when_it_changes(tmp_path, monkeypatch):
    run = _run(tmp_path)
    monkeypatch.setattr(runs, "status_alive", lambda status: True)  # "running": the test's own pid is no trainer
    parsed = []
    real_load, real_read = yaml.safe_load, runs.read_metrics
    monkeypatch.setattr(runs.yaml, "safe_load", lambda text: parsed.append("config") or real_load(text))
    monkeypatch.setattr(runs, "read_metrics", lambda path: parsed.append("metrics") or real_read(path))
    first = run_info(run.path)
    assert first.eta_s == 180.0 and parsed == ["config", "metrics"]  # 90 steps left at 2 s a step
    for _ in range(5):
        assert list_runs(tmp_path)[0].eta_s == 180.0
    assert parsed == ["config", "metrics"]  # five more listings, nothing parsed again
    run.append_metrics({"kind": "train", "step": 20, "elapsed_s": 30.0})  # the training logs on
    run.write_status("running", step=20, max_steps=100)
    assert run_info(run.path).eta_s == 120.0 and parsed == ["config", "metrics", "metrics"]
    run.config_file.write_text(yaml.safe_dump({"train": {"max_steps": 100, "time_budget_s": 60}}), encoding="utf-8")
    assert run_info(run.path).eta_s == 30.0 and parsed[-1] == "config"  # the budget now ends it sooner


def test_a_broken_config_falls_back_to_the_request_and_a_missing_one_to_nothing(tmp_path):
    run = _run(tmp_path)
    run.config_file.write_text("train: [unclosed", encoding="utf-8")
    (run.path / "requested.yaml").write_text(yaml.safe_dump({"train": {"max_steps": 40}}), encoding="utf-8")
    run.write_status("running", step=10)
    assert run_info(run.path).max_steps == 40
    run.config_file.write_text("- a list, not a config\n", encoding="utf-8")
    assert run_info(run.path).max_steps == 40
    run.config_file.write_text(yaml.safe_dump({"train": ["not", "a", "mapping"]}), encoding="utf-8")
    assert run_info(run.path).max_steps == 0  # a config without usable limits: no crash, no fallback
    run.config_file.write_text(yaml.safe_dump({"train": {"max_steps": "many", "time_budget_s": True}}),
                               encoding="utf-8")
    info = run_info(run.path)
    assert info.max_steps == 0 and info.budget_s is None
    run.config_file.unlink()
    (run.path / "requested.yaml").unlink()
    assert run_info(run.path).max_steps == 0


def test_a_run_says_where_it_is_by_both_of_its_limits(tmp_path):
    """A run stopped by its time budget shows a full bar: its line must say so next to the small step count."""
    from nmt_core.runs import RunInfo

    timed = RunInfo("r", tmp_path, "finished", 694, 100_000, None, "time budget of 600s used", None, 600.4, True,
                    True, budget_s=600)
    assert timed.progress == 1.0
    assert timed.position() == "step 694/100,000 · 10 min 00 s of its 10 min 00 s time budget"
    assert "step 694/100,000 · 10 min 00 s of its" in timed.describe()
    stepped = RunInfo("r", tmp_path, "running", 50, 200, None, "", 30.0, 12.0, False, False)
    assert stepped.position() == "step 50/200" and stepped.progress == 0.25
