"""Device, dtype and thread choices in one place, so nothing else assumes CPU."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import torch


def pick_device(name: str | None = "auto") -> torch.device:
    """``auto`` picks cuda, then mps, then cpu; anything else is passed to ``torch.device``."""
    if name in (None, "", "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available here")
    return device


def autocast(device: torch.device, enabled: bool = True):
    """Mixed precision where it pays: bf16 on CUDA when supported, else fp16; no autocast on CPU/MPS
    (CPU autocast slows small recurrent models down)."""
    if not enabled or device.type != "cuda":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


def physical_cores() -> int:
    """CPU cores this process may use: the physical cores of its CPU affinity (SMT siblings share one), fewer
    when its cgroup's CPU quota allows fewer (``quota_cores``)."""
    return quota_cores() or affinity_cores()


def affinity_cores() -> int:
    """The physical cores of this process's CPU affinity, each counted once (SMT siblings share one)."""
    try:
        cpus = os.sched_getaffinity(0)
    except AttributeError:  # not Linux
        return max(1, (os.cpu_count() or 2) // 2)
    cores = set()
    for cpu in cpus:
        try:
            cores.add(Path(f"/sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list").read_text().strip())
        except OSError:
            cores.add(str(cpu))
    return max(1, len(cores))


def quota_cores() -> int | None:
    """The whole cores a cgroup CPU quota allows (at least 1) when that is fewer than ``affinity_cores``, else
    None: a quota at or above the cores changes nothing."""
    quota = cpu_quota()
    if quota is None or quota >= affinity_cores():
        return None
    return max(1, int(quota))


def cpu_quota(root: Path = Path("/sys/fs/cgroup"), cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """The CPU quota of this process's cgroup in cores (``docker run --cpus``, a Kubernetes CPU limit), or None
    when there is none. Why: such a container sees every core of the host in its affinity and in
    ``/proc/stat``, but the kernel lets it run only this much; threads beyond it are throttled in turns, as
    threads beside a busy loop are (docs/benchmarks.md, "Threads"). Reads cgroup v2's ``cpu.max`` and v1's
    ``cpu.cfs_quota_us``/``cpu.cfs_period_us`` in the process's own cgroup, every cgroup above it and the mount's
    root (what a container sees as its own), and returns the smallest: the kernel enforces every one of them."""
    try:
        lines = cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas = []
    for line in lines:
        fields = line.split(":", 2)
        if len(fields) != 3:
            continue
        _, controllers, path = fields
        if controllers == "":  # cgroup v2
            quotas += [_quota(place, "v2") for place in _up_from(root, path)]
        elif "cpu" in controllers.split(","):
            for mount in dict.fromkeys([root / controllers, root / "cpu"]):
                quotas += [_quota(place, "v1") for place in _up_from(mount, path)]
    found = [q for q in quotas if q is not None]
    return min(found) if found else None


def _up_from(mount: Path, path: str) -> list[Path]:
    """``mount``/``path`` and every folder above it, up to ``mount``."""
    parts = [p for p in path.split("/") if p and p != ".."]
    return [mount.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def _quota(place: Path, version: str) -> float | None:
    try:
        if version == "v2":
            quota, period = (place / "cpu.max").read_text().split()[:2]
        else:
            quota, period = ((place / f"cpu.cfs_{name}_us").read_text().strip() for name in ("quota", "period"))
        if quota in ("max", "-1"):
            return None
        quota_s, period_s = float(quota), float(period)
    except (OSError, ValueError):
        return None
    return quota_s / period_s if quota_s > 0 and period_s > 0 else None


def default_threads() -> int:
    """OMP_NUM_THREADS when set (torchrun sets 1 per process), else this process's share of the physical
    cores (LOCAL_WORLD_SIZE processes on one machine share them)."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, physical_cores() // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))


def set_threads(threads: int | None) -> int:
    """Set torch's CPU threads: ``threads``, or ``default_threads()`` when None/0. Returns the number.
    Why physical cores and not logical ones: SMT siblings share one core's FMA units, so a second
    thread per core adds synchronisation and no arithmetic (docs/benchmarks.md, "Threads")."""
    n = int(threads) if threads else default_threads()
    if n != torch.get_num_threads():
        torch.set_num_threads(n)
    return n
