"""`kernels ... --shard I/N`: one deterministic share of a kernel build's TUs.

A release kernel build is tens of TUs of a minute each. CI fans it out: N matrix
cells each compile their share into the shared compiler cache (ccache's remote
storage, buildsys.ccache) and stop; the final cell's ordinary build is then served
from the cache. There is no scheduler here: GitHub Actions runs the cells, ccache
carries the objects, and this module only decides, the same way in every cell, which
TUs are whose.

The share is balanced by the TUs' measured compile times from the groups' last
reports (only TUs that really compiled: a cache hit's time says nothing), falling
back to equal weights, i.e. counts. Every cell must see the same reports (or none)
to agree; each prints the partition's fingerprint so that a disagreement shows.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError
from ..util import runner

SPEC = re.compile(r"^([1-9][0-9]*)/([1-9][0-9]*)$")
# ninja's compile rules for a CMake target: CUDA_COMPILER__<target>_<config>, CXX_...
COMPILE_RULE = re.compile(r"^(CUDA|CXX)_COMPILER__")
TARGET_DIR = re.compile(r"CMakeFiles/([^/]+)\.dir/")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as CI matrices count
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse(text: str) -> Shard:
    m = SPEC.match(text.strip())
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise UsageError(
            f"--shard {text!r} is not I/N with 1 <= I <= N",
            fix="e.g. --shard 2/3 for the second of three shards",
        )
    return Shard(int(m.group(1)), int(m.group(2)))


def key(obj: str) -> str:
    """A TU's name that is the same in every checkout: its CMake target and file name
    (the object path itself embeds the absolute path of a source outside the tree)."""
    m = TARGET_DIR.search(obj)
    return f"{m.group(1) if m else '?'}/{Path(obj).name}"


def compile_outputs(tree: Path) -> list[str]:
    """Every object the tree's ninja graph compiles (paths relative to the tree)."""
    out = runner.call(
        ["ninja", "-C", tree, "-t", "targets", "all"],
        what="listing the kernel tree's translation units (ninja -t targets)",
        capture=True,
        echo=False,
    ).output
    objs = []
    for line in out.splitlines():
        path, _, rule = line.rpartition(": ")
        if COMPILE_RULE.match(rule.strip()):
            objs.append(path)
    return objs


def measured_times(reports: Iterable[Path]) -> dict[str, float]:
    """Per TU key: the compile time in the last reports, when it really compiled."""
    times: dict[str, float] = {}
    for report in reports:
        try:
            records = json.loads(report.read_text()).get("tus", [])
        except (OSError, ValueError):
            continue
        for r in records:
            if r.get("cache") in ("miss", "uncached") and r.get("rc", 0) == 0:
                times[key(r["object"])] = float(r["wall_s"])
    return times


def partition(keys: Sequence[str], times: Mapping[str, float], count: int) -> list[list[str]]:
    """Longest first onto the least-loaded shard (ties: the lower index). A TU with no
    measurement weighs the mean of the measured ones; with none measured every TU
    weighs 1, so the shards split by count. Deterministic: sorted by weight, then key."""
    known = [times[k] for k in keys if k in times]
    default = sum(known) / len(known) if known else 1.0
    weight = {k: times.get(k, default) for k in keys}
    loads = [0.0] * count
    parts: list[list[str]] = [[] for _ in range(count)]
    for k in sorted(set(keys), key=lambda k: (-weight[k], k)):
        i = min(range(count), key=lambda j: (loads[j], j))
        parts[i].append(k)
        loads[i] += weight[k]
    return parts


def fingerprint(parts: Sequence[Sequence[str]]) -> str:
    data = json.dumps([sorted(p) for p in parts]).encode()
    return hashlib.sha256(data).hexdigest()[:12]
