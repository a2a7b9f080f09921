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
    when its cgroup has a CPU quota (``cpu_quota``)."""
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
    quota = cpu_quota()
    return max(1, min(len(cores), int(quota) if quota is not None else len(cores)))


def cpu_quota(root: Path = Path("/sys/fs/cgroup"), cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """The CPU quota of this process's cgroup in cores (``docker run --cpus``, a Kubernetes CPU limit), or None
    when there is none. Why: such a container sees every core of the host in its affinity and in
    ``/proc/stat``, but the kernel lets it run only this much; threads beyond it are throttled in turns, as
    threads beside a busy loop are (docs/benchmarks.md, "Threads"). Reads cgroup v2's ``cpu.max`` and v1's
    ``cpu.cfs_quota_us``/``cpu.cfs_period_us``, at the process's own cgroup and at the mount's root (what a
    container sees as its own)."""
    try:
        lines = cgroup.read_text().splitlines()
    except OSError:
        return None
    places: list[tuple[str, Path]] = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "":  # cgroup v2
            places += [("v2", root / path.lstrip("/")), ("v2", root)]
        elif "cpu" in controllers.split(","):
            places += [("v1", root / controllers / path.lstrip("/")), ("v1", root / controllers)]
    for version, place in places:
        try:
            if version == "v2":
                quota, period = (place / "cpu.max").read_text().split()[:2]
            else:
                quota, period = ((place / f"cpu.cfs_{name}_us").read_text().strip() for name in ("quota", "period"))
        except (OSError, ValueError):
            continue
        if quota not in ("max", "-1") and float(period) > 0:
            return float(quota) / float(period)
    return None


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
