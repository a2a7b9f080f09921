"""The training thread governor: all threads on a free machine, one while other processes take the cores, a
fixed count when the user sets one. Driven by fake clocks and counters, so the test does not depend on load."""

from __future__ import annotations

import os

import torch

from nmt_core import device
from nmt_core.device import cpu_quota
from nmt_core.threads import TOLERATED_CORES, ThreadGovernor, busy_cpu_seconds


class FakeMachine:
    """A machine of ``cores`` cores on which other processes use ``others`` cores and this one ``own``."""

    def __init__(self, others: float, own: float = 1.0):
        self.t = self.busy_s = self.own_s = 0.0
        self.others, self.own = others, own

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self.own_s += self.own * seconds
        self.busy_s += (self.own + self.others) * seconds


def governor_on(machine: FakeMachine, ceiling: int = 2) -> ThreadGovernor:
    return ThreadGovernor(ceiling, cores=2, interval_s=5.0, busy=lambda: machine.busy_s,
                          own=lambda: machine.own_s, clock=lambda: machine.t)


def test_a_free_machine_gets_every_thread_and_a_busy_core_is_given_back():
    before = torch.get_num_threads()
    try:
        machine = FakeMachine(others=0.05, own=2.0)
        governor = governor_on(machine)
        machine.advance(6)
        assert governor.update() == 2 and torch.get_num_threads() == 2
        machine.others = 1.0  # a busy loop, a second training, a test run
        machine.advance(1)
        assert governor.update() == 2  # not measured again before the interval is over
        machine.advance(5)
        assert governor.update() == 1 and torch.get_num_threads() == 1
        assert abs(governor.others - 1.0) < 1e-9
        machine.others = TOLERATED_CORES - 0.05  # the other work ends (an idle studio stays below the tolerance)
        machine.advance(6)
        assert governor.update() == 2
    finally:
        torch.set_num_threads(before)


def test_a_thread_count_set_by_the_user_is_kept():
    before = torch.get_num_threads()
    try:
        governor = ThreadGovernor.for_setting(1)
        assert governor.threads == 1 and torch.get_num_threads() == 1
        governor._mark = (governor._mark[0] - 60, *governor._mark[1:])  # a minute later
        assert governor.update() == 1
    finally:
        torch.set_num_threads(before)


def test_without_proc_stat_the_ceiling_is_kept(tmp_path):
    assert busy_cpu_seconds(tmp_path / "missing") is None
    before = torch.get_num_threads()
    machine = FakeMachine(others=2.0)
    governor = ThreadGovernor(2, cores=2, busy=lambda: None, own=lambda: machine.own_s, clock=lambda: machine.t)
    machine.advance(10)
    try:
        assert governor.update() == 2
    finally:
        torch.set_num_threads(before)


def test_proc_stat_is_read_for_this_process_cpus_only(tmp_path):
    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice: busy = all but idle, iowait and guest
    stat.write_text("cpu  160 5 30 1800 30 1 2 9 0 0\n"
                    "cpu0 50 2 10 450 15 0 1 3 0 0\ncpu1 100 1 10 450 15 1 1 4 0 0\ncpu2 10 2 10 900 0 0 0 2 0 0\n"
                    "intr 5 6\n")
    tick = os.sysconf("SC_CLK_TCK")
    assert abs(busy_cpu_seconds(stat, cpus={0, 2}) - (66 + 24) / tick) < 1e-9
    assert abs(busy_cpu_seconds(stat, cpus={1}) - 117 / tick) < 1e-9
    assert busy_cpu_seconds(stat, cpus={7}) is None  # none of its CPUs listed: no measurement, not zero
    stat.write_text("intr 0\n")
    assert busy_cpu_seconds(stat) is None


def _cgroup(tmp_path, lines: str):
    (tmp_path / "self-cgroup").write_text(lines)
    return {"root": tmp_path / "fs", "cgroup": tmp_path / "self-cgroup"}


def test_a_cgroup_cpu_quota_is_read_in_cores(tmp_path):
    v2 = _cgroup(tmp_path, "0::/kubepods/pod1\n")
    assert cpu_quota(**v2) is None  # no cpu.max anywhere
    fs = tmp_path / "fs"
    fs.mkdir()
    (fs / "cpu.max").write_text("max 100000\n")
    assert cpu_quota(**v2) is None  # "max": no quota
    (fs / "cpu.max").write_text("250000 100000\n")  # docker run --cpus 2.5, seen as the mount's root
    assert cpu_quota(**v2) == 2.5
    (fs / "kubepods").mkdir()
    (fs / "kubepods" / "cpu.max").write_text("150000 100000\n")  # a cgroup above the process's own
    (fs / "kubepods" / "pod1").mkdir()
    (fs / "kubepods" / "pod1" / "cpu.max").write_text("400000 100000\n")
    assert cpu_quota(**v2) == 1.5  # the smallest along the path: the kernel enforces each one
    (fs / "kubepods" / "cpu.max").write_text("\n")  # unreadable values are skipped, never raised
    assert cpu_quota(**v2) == 2.5

    v1 = _cgroup(tmp_path, "garbage line\n4:memory:/x\n2:cpu,cpuacct:/docker/abc\n")
    place = fs / "cpu,cpuacct"
    place.mkdir()
    (place / "cpu.cfs_quota_us").write_text("-1\n")
    (place / "cpu.cfs_period_us").write_text("100000\n")
    assert cpu_quota(**v1) is None
    (place / "cpu.cfs_quota_us").write_text("300000\n")
    assert cpu_quota(**v1) == 3.0
    (place / "cpu.cfs_quota_us").write_text("")
    assert cpu_quota(**v1) is None
    (fs / "cpu").mkdir()  # a mount named "cpu" rather than after the controller list
    (fs / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (fs / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cpu_quota(**v1) == 0.5
    assert cpu_quota(cgroup=tmp_path / "missing") is None  # not Linux


def test_under_a_cpu_quota_the_threads_are_its_whole_cores_and_fixed(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(device, "affinity_cores", lambda: 4)
    monkeypatch.setattr(device, "cpu_quota", lambda: 3.5)
    assert device.quota_cores() == 3 and device.physical_cores() == 3  # a fourth thread would be throttled
    governor = ThreadGovernor.for_setting(None)
    assert governor.threads == 3 and governor._busy() is None  # fixed: the host's /proc/stat is not read
    monkeypatch.setattr(device, "cpu_quota", lambda: 0.5)
    assert device.physical_cores() == 1  # half a core still trains, on one thread
    monkeypatch.setattr(device, "cpu_quota", lambda: 64.0)  # a quota above the cores changes nothing
    assert device.quota_cores() is None and device.physical_cores() == 4
    governed = ThreadGovernor.for_setting(None)
    assert governed.threads == 4 and governed._busy is busy_cpu_seconds  # governed as without a quota


def _monitor_app():
    import pandas as pd

    from studio.run_monitor import run_charts

    record = {"kind": "train", "step": 10, "epoch": 0, "loss": 2.0, "ppl": 7.39, "grad_norm": 1.0, "grad_norm_max": 1.2,
              "lr": 1e-3, "src_tokens_per_s": 1400.0, "tgt_tokens_per_s": 1500.0, "elapsed_s": 3.0}
    older = dict(record, step=5)  # a run from before the governor: no thread count
    dev = {"kind": "dev", "step": 5, "epoch": 0, "dev_loss": 0.1, "dev_ppl": 1.1, "bleu": 99.73, "chrf": 99.9}
    run_charts(pd.DataFrame([older, dev, dict(record, threads=1), dict(dev, step=10, bleu=99.72)]), "demo")


def test_the_run_monitor_says_how_many_threads_train():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_monitor_app).run(timeout=60)
    assert not at.exception
    assert any(c.value.startswith("Step 10:") and c.value.endswith("1,500 target tokens/s on 1 CPU thread")
               for c in at.caption)
    bleu = next(m for m in at.metric if m.label == "Dev BLEU")
    assert bleu.value == "99.7" and not bleu.delta  # a change of -0.01 shows no "-0.0" arrow
