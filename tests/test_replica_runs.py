"""Runs on a shared folder seen from several studio replicas (docs/deploy.md): a pid is only checked on the host
that wrote it; another host's run is alive while its status keeps being rewritten, and is never signalled."""

from __future__ import annotations

import time

import pytest

from nmt_core import jobs, runs
from nmt_core.runs import RunDir, run_info


def _status(tmp_path, **fields):
    run = RunDir(tmp_path / "r1")
    run.path.mkdir(parents=True)
    run.write_status("running", step=5, max_steps=10)
    status = {**run.read_status(), **fields}
    runs.write_json_atomic(run.status_file, status)
    return run


def test_a_run_of_another_host_is_alive_while_its_status_is_fresh(tmp_path):
    run = _status(tmp_path, host="replica-b", pid=1)  # pid 1 exists here, but it is not that host's process
    assert run_info(run.path).state == "running"
    runs.write_json_atomic(run.status_file, {**run.read_status(),
                                             "updated_at": time.time() - runs.REMOTE_HEARTBEAT_S - 5})
    assert run_info(run.path).state == "died"


def test_a_dead_local_pid_is_died_and_the_host_is_recorded(tmp_path):
    run = _status(tmp_path, pid=2**22 + 12345)
    assert run.read_status()["host"] == runs.HOST
    assert run_info(run.path).state == "died"


def test_kill_refuses_another_hosts_pid(tmp_path):
    run = _status(tmp_path, host="replica-b", pid=1)
    with pytest.raises(jobs.JobLimitError, match="replica-b"):
        jobs.kill_run(run.path)
    assert run.read_status()["state"] == "running"  # untouched


def test_a_lab_started_elsewhere_counts_while_its_log_grows(tmp_path):
    (tmp_path / "vanishing.pid").write_text("1 replica-b", encoding="utf-8")
    (tmp_path / "vanishing.log").write_text("step 1\n", encoding="utf-8")
    assert jobs.lab_running("vanishing", tmp_path)
    (tmp_path / "vanishing.pid").write_text("1 " + runs.HOST, encoding="utf-8")
    assert not jobs.lab_running("vanishing", tmp_path)  # here: pid 1 is no nmt_core process


def test_stop_from_another_replica_only_writes_the_stop_file(tmp_path):
    run = _status(tmp_path, host="replica-b", pid=1, state="starting")
    jobs.stop_run(run.path)  # no exception, no signal: the trainer there sees STOP before its first step
    assert run.stop_file.exists() and run.read_status()["state"] == "starting"


def test_a_finished_remote_lab_is_not_running(tmp_path):
    (tmp_path / "vanishing.pid").write_text("1 replica-b", encoding="utf-8")
    (tmp_path / "vanishing.log").write_text("done\n", encoding="utf-8")
    assert jobs.lab_running("vanishing", tmp_path)
    (tmp_path / "vanishing_info.json").write_text("{}", encoding="utf-8")  # written last by the lab
    assert not jobs.lab_running("vanishing", tmp_path)
