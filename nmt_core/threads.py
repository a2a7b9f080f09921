"""Threads that step back while other work takes the cores: training, and ``translate``/``evaluate`` between
batches.

Why: a training step is thousands of small operations, each split across the OpenMP threads. Idle threads
spin-wait for the next one (libgomp's default), which makes a second thread pay: 1.44x the steps of one on a
free 2-core machine. Sleeping instead (``OMP_WAIT_POLICY=PASSIVE``) costs a wake-up per operation: two
threads then ran no faster than one. But spinning threads on a core that another process needs take turns
with it, and a step waits for the descheduled one: with one busy loop beside it, two threads ran at about
half the speed of one. So the trainer keeps spinning threads and uses only the cores that other processes
leave free, measured from ``/proc/stat`` every few seconds (the first time after one second): all of them on a
free machine, one while other work (a second training, a test run, a busy studio) takes the rest.
Measurements: docs/benchmarks.md, "Threads".

Only the CPUs this process may run on are read. Under a CPU quota (``docker run --cpus``, a Kubernetes CPU
limit) ``/proc/stat`` counts the whole host, whose other work says nothing about this container's share: there
the threads are fixed at the quota's whole cores (``device.quota_cores``) and ``/proc/stat`` is not read.

``train.threads`` (or ``--threads``) set by the user is a fixed count; unset, it is this governor's ceiling (the
physical cores). Without ``/proc/stat`` (not Linux) the governor keeps the ceiling.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

from .device import default_threads, physical_cores, quota_cores, set_threads
from .limits import check

# Other processes may use this much of a core before a thread gives it up: an idle desktop or a studio between
# requests stays under it, a busy loop, a second training or a test run does not.
TOLERATED_CORES = 0.3


def busy_cpu_seconds(stat: Path = Path("/proc/stat"), cpus: set[int] | None = None) -> float | None:
    """CPU-seconds the CPUs this process may run on (``cpus``, default its affinity) have spent not idle since
    boot, steal time counted as taken; None without ``/proc/stat``. Only those CPUs: work pinned elsewhere on
    a large machine does not compete with this process's threads."""
    try:
        lines = stat.read_text().splitlines()
    except OSError:
        return None
    if cpus is None:
        cpus = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    total, seen = 0, False
    for line in lines:
        name, *fields = line.split()
        if not (name.startswith("cpu") and name[3:].isdigit()) or (cpus is not None and int(name[3:]) not in cpus):
            continue
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
        total, seen = total + user + nice + system + irq + softirq + steal, True
    return total / os.sysconf("SC_CLK_TCK") if seen else None


class ThreadGovernor:
    """Sets torch's intra-op threads to the cores that other processes leave free, at most ``ceiling``."""

    def __init__(self, ceiling: int, *, interval_s: float = 5.0, cores: int | None = None,
                 busy: Callable[[], float | None] = busy_cpu_seconds,
                 own: Callable[[], float] = time.process_time, clock: Callable[[], float] = time.monotonic):
        self.ceiling, self.interval_s = max(1, ceiling), interval_s
        # physical cores: a logical CPU busy with other work counts as a whole core taken (SMT siblings share one)
        self.cores = cores or physical_cores()
        self._busy, self._own, self._clock = busy, own, clock
        self.others = 0.0  # cores other processes used in the last interval
        self._mark, self._interval = self._read(), min(1.0, interval_s)  # a first look soon, then every interval
        self.threads = self._apply(self.ceiling)

    @classmethod
    def for_setting(cls, threads: int | None, label: str = "train.threads") -> ThreadGovernor:
        """``train.threads`` or ``--threads`` (``label``, for the message): a number is fixed (a ceiling that is
        never lowered), checked against its bound in ``limits.py``; unset (None) is governed."""
        if threads is not None:
            return cls(check("train.threads", threads, label), busy=lambda: None)
        if quota_cores() is not None:  # the host's /proc/stat does not measure this container's share
            return cls(default_threads(), busy=lambda: None)
        return cls(default_threads())

    def update(self) -> int:
        """Call once per step (cheap: it reads the clock). Returns the thread count now in force."""
        now = self._clock()
        if now - self._mark[0] < self._interval:
            return self.threads
        mark, self._mark, self._interval = self._mark, self._read(), self.interval_s
        if mark[1] is None or self._mark[1] is None:
            return self.threads
        elapsed = self._mark[0] - mark[0]
        self.others = max(0.0, (self._mark[1] - mark[1]) - (self._mark[2] - mark[2])) / elapsed
        free = self.cores - self.others
        return self._apply(min(self.ceiling, max(1, int(free + TOLERATED_CORES))))

    def _read(self) -> tuple[float, float | None, float]:
        return self._clock(), self._busy(), self._own()

    def _apply(self, n: int) -> int:
        self.threads = set_threads(n)
        return n
