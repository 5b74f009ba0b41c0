#!/usr/bin/env python3
"""Compiler launcher that records each translation unit's cost for the build report.

CMake runs it as CMAKE_<LANG>_COMPILER_LAUNCHER, by its shebang:
    tu_monitor.py REPORT.jsonl [ccache] COMPILER ARGS...
It runs the rest of the command line unchanged and appends one JSON line: the
object, wall time, peak resident memory of the biggest process in the compile
(cicc and ptxas included: RUSAGE_CHILDREN covers waited-for descendants), and
ccache's verdicts (local and remote) from its per-invocation stats log, which it
then appends to the build's own stats log ($CCACHE_STATSLOG, buildsys.ccache) so
that the build's summary counts the kernels too. Standard library only: it starts
once per TU, before any virtualenv is guaranteed.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def _object(argv: list[str]) -> str:
    for i, arg in enumerate(argv[:-1]):
        if arg == "-o":
            return argv[i + 1]
    return "?"


def _read(stats_log: str) -> str:
    try:
        with open(stats_log) as f:
            return f.read()
    except OSError:
        return ""


def _cache_verdict(counters: set[str]) -> str:
    if {"direct_cache_hit", "preprocessed_cache_hit"} & counters:
        return "hit"
    if "cache_miss" in counters:
        return "miss"
    return "uncached"  # ccache declined (e.g. an unsupported option) or is not in use


def _remote_verdict(counters: set[str]) -> str:
    if {"remote_storage_error", "remote_storage_timeout"} & counters:
        return "error"
    if "remote_storage_hit" in counters:
        return "hit"
    if "remote_storage_miss" in counters:
        return "miss"
    return ""  # no remote configured, or a local hit that never asked it


def main(argv: list[str]) -> int:
    report, command = argv[0], argv[1:]
    build_log = os.environ.get("CCACHE_STATSLOG")
    fd, stats_log = tempfile.mkstemp(prefix="ccache-stats-", suffix=".log")
    os.close(fd)
    start = time.monotonic()
    try:
        rc = subprocess.call(command, env={**os.environ, "CCACHE_STATSLOG": stats_log})
        wall = time.monotonic() - start
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        text = _read(stats_log)
        counters = {line.strip() for line in text.splitlines() if line and line[0] != "#"}
        record = {
            "object": _object(command),
            "wall_s": round(wall, 2),
            "peak_mib": round(peak_kib / 1024, 1),
            "cache": _cache_verdict(counters),
            "remote": _remote_verdict(counters),
            "rc": rc,
        }
        # Only ccache's own records (a "# SOURCE" line, then counters): the FA4 exporter
        # writes a bare verdict for this monitor, which is not a ccache compile.
        if build_log and text.startswith("#"):
            with open(build_log, "a") as f:
                f.write(text)
    finally:
        os.unlink(stats_log)
    # One short write per line in append mode: parallel compiles do not interleave.
    with open(report, "a") as f:
        f.write(json.dumps(record) + "\n")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
