"""How much memory the compiles may use."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import UsageError

ENV = "INFERCORE_BUILD_MEMORY_GIB"
CGROUP = Path("/sys/fs/cgroup")


def budget_gib(env: Mapping[str, str] | None = None) -> float:
    """GiB the compiles may use: INFERCORE_BUILD_MEMORY_GIB when set, else the machine's
    total memory (or a container's cgroup limit, if lower) less a reserve for the rest of
    the system. Total rather than currently free memory: the job pools are part of the
    build configuration, and a figure that moved between runs would reconfigure each time."""
    env = os.environ if env is None else env
    if ENV in env:
        raw = env[ENV]
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value <= 0:
            raise UsageError(
                f"{ENV}={raw!r} is not a positive number of GiB",
                why="it sizes how many heavy compiles run at once",
                fix=f"set it to the GiB the build may use, e.g. {ENV}=100, or unset it",
            )
        return value
    limits = [g for g in (_meminfo_gib("MemTotal"), _cgroup_gib("memory.max")) if g is not None]
    total = min(limits) if limits else 8.0
    return round(max(total - max(2.0, total * 0.1), 1.0), 1)


def cpus() -> int:
    """CPUs this process may use (affinity, e.g. a container's cpuset), not the host's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _meminfo_gib(key: str) -> float | None:
    """A /proc/meminfo figure ("MemTotal", "MemAvailable") in GiB."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_gib(name: str) -> float | None:
    """A cgroup v2 memory figure in GiB (a container may have far less than the host);
    None when there is no limit ("max") or no such file."""
    try:
        value = (CGROUP / name).read_text().strip()
        return None if value == "max" else int(value) / 2**30
    except (OSError, ValueError):
        return None


def available_gib() -> float:
    """GiB that can be allocated now without swapping: MemAvailable (the kernel's own
    estimate, page cache included), or what a container's cgroup limit leaves, if less.
    Unlike budget_gib this moves between runs: `doctor` compares it with a build's need."""
    values = [v for v in (_meminfo_gib("MemAvailable"),) if v is not None]
    limit, used = _cgroup_gib("memory.max"), _cgroup_gib("memory.current")
    if limit is not None and used is not None:
        values.append(limit - used)
    return round(min(values), 1) if values else 0.0
