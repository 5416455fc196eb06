"""What the machine offers a backend: usable CPU threads and the device to run on.

Kept apart from the engines because none of it changes a transcript (so none
of it is in a cache key), and because getting it wrong is expensive in a
different way: a thread count above the CPUs really available (a container
quota, an affinity mask, Ray's per-actor share) makes decoding several times
slower, and a silently missing GPU makes a "GPU run" a CPU run.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from ..types import ModelError


def cpu_threads_for(requested: int) -> int:
    """CPU threads to use: ``requested``, else OMP_NUM_THREADS (Ray sets it per actor), else the usable cores.

    CTranslate2's own default (4 intra-op threads) oversubscribes small
    machines. "Usable" honours both the CPU affinity mask and a container's
    CPU quota (``docker --cpus 2`` on a 64-core host means 2).
    """
    if requested > 0:
        return requested
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_quota()
    return max(1, min(cores, quota) if quota else cores)


def cgroup_cpu_quota(root: str | os.PathLike[str] = "/sys/fs/cgroup") -> int | None:
    """CPUs allowed by the cgroup CPU quota (v2 ``cpu.max`` or v1 ``cfs_quota_us``), rounded up; None if unlimited."""
    root = Path(root)
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else max(1, math.ceil(int(quota) / int(period)))
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return max(1, math.ceil(quota_us / period_us)) if quota_us > 0 and period_us > 0 else None


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when CTranslate2 sees a GPU, else 'cpu'; 'cuda' without one is a ModelError.

    Refusing at once beats falling back: a run that silently went to the CPU
    would report CPU timings as GPU ones and take hours longer.
    """
    if device not in ("cpu", "cuda", "auto"):
        raise ModelError(f"unknown device {device!r}; choose cpu, cuda or auto")
    import ctranslate2

    gpus = ctranslate2.get_cuda_device_count()
    if device == "auto":
        return "cuda" if gpus > 0 else "cpu"
    if device == "cuda" and gpus == 0:
        raise ModelError(
            "--device cuda was asked for but CTranslate2 sees no CUDA device (no GPU, driver or CUDA 12 "
            "runtime/cuDNN 9 libraries visible); use --device cpu or --device auto"
        )
    return device
