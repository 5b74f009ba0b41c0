"""How much memory the compiles may use."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

from ..errors import UsageError

ENV = "INFERCORE_BUILD_MEMORY_GIB"


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
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                limits.append(int(line.split()[1]) / 2**20)
    except OSError:
        pass
    try:  # cgroup v2: a container may have far less than the host
        high = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if high != "max":
            limits.append(int(high) / 2**30)
    except (OSError, ValueError):
        pass
    total = min(limits) if limits else 8.0
    return round(max(total - max(2.0, total * 0.1), 1.0), 1)


def cpus() -> int:
    """CPUs this process may use (affinity, e.g. a container's cpuset), not the host's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1
