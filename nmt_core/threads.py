"""Training threads that step back while other work takes the cores.

Why: a training step is thousands of small operations, each split across the OpenMP threads. Idle threads
spin-wait for the next one (libgomp's default), which makes a second thread pay: 1.6-1.7x the steps of one
on a free 2-core machine. Sleeping instead (``OMP_WAIT_POLICY=PASSIVE``) costs a wake-up per operation and
made two threads *slower* than one. But spinning threads on a core that another process needs take turns
with it, and a step waits for the descheduled one: many times slower than one thread. So the trainer keeps
spinning threads and uses only the cores that other processes leave free, measured from ``/proc/stat`` every
few seconds: all of them on a free machine, one while other work (a second training, a test run, a busy
studio) takes the rest. Measurements: docs/benchmarks.md, "Threads".

``train.threads`` set by the user is a fixed count; unset, it is this governor's ceiling (the physical
cores). Without ``/proc/stat`` (not Linux) the governor keeps the ceiling.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import torch

from .device import default_threads

# Other processes may use this much of a core before a thread gives it up: an idle desktop or a studio between
# requests stays under it, a busy loop, a second training or a test run does not.
TOLERATED_CORES = 0.3


def busy_cpu_seconds(stat: Path = Path("/proc/stat")) -> float | None:
    """CPU-seconds the whole machine has spent not idle since boot (steal time counts as taken), or None."""
    try:
        fields = stat.read_text().split("\n", 1)[0].split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class ThreadGovernor:
    """Sets torch's intra-op threads to the cores that other processes leave free, at most ``ceiling``."""

    def __init__(self, ceiling: int, *, interval_s: float = 5.0, cores: int | None = None,
                 busy: Callable[[], float | None] = busy_cpu_seconds,
                 own: Callable[[], float] = time.process_time, clock: Callable[[], float] = time.monotonic):
        self.ceiling, self.interval_s = max(1, ceiling), interval_s
        self.cores = cores or os.cpu_count() or 1
        self._busy, self._own, self._clock = busy, own, clock
        self.others = 0.0  # cores other processes used in the last interval
        self._mark = self._read()
        self.threads = self._apply(self.ceiling)

    @classmethod
    def for_setting(cls, threads: int | None) -> ThreadGovernor:
        """``train.threads``: a number is fixed (a ceiling that is never lowered); unset is governed."""
        if threads:
            return cls(int(threads), busy=lambda: None)
        return cls(default_threads())

    def update(self) -> int:
        """Call once per step (cheap: it reads the clock). Returns the thread count now in force."""
        now = self._clock()
        if now - self._mark[0] < self.interval_s:
            return self.threads
        mark, self._mark = self._mark, self._read()
        if mark[1] is None or self._mark[1] is None:
            return self.threads
        elapsed = self._mark[0] - mark[0]
        self.others = max(0.0, (self._mark[1] - mark[1]) - (self._mark[2] - mark[2])) / elapsed
        free = self.cores - self.others
        return self._apply(min(self.ceiling, max(1, int(free + TOLERATED_CORES))))

    def _read(self) -> tuple[float, float | None, float]:
        return self._clock(), self._busy(), self._own()

    def _apply(self, n: int) -> int:
        if n != torch.get_num_threads():
            torch.set_num_threads(n)
        self.threads = n
        return n
