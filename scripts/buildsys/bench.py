"""Benchmarks whose figures go to docs/BENCHMARKS.md (never timed unit tests).

wheels: wall time of `nox -s wheels` for one Python and for all of them from a
clean build tree (ccache off: a true cold compile), then a repeat with nothing
changed.  kernels: the target's kernel libraries (profile ci by default) cold with
an empty ccache, again after deleting the build directory (ccache warm), and a
no-op re-run.  cpu-ops: the CPU reference ops against NumPy at fixed shapes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.table import Table

from .util import console, runner
from .util.fs import atomic_write
from .util.paths import Paths


def _nox_wheels(paths: Paths, *args: str, env: dict[str, str]) -> float:
    # The host pipeline (bench release times the cibuildwheel one against it).
    cmd = [sys.executable, "-m", "nox", "-s", "wheels", "--", "--via", "host", *args]
    start = time.monotonic()
    runner.call(
        cmd, what="nox -s wheels", cwd=paths.root, env=env, log=paths.build / "bench" / "wheels.log"
    )
    return time.monotonic() - start


def _clean_build_tree(paths: Paths) -> None:
    for name in ("kernels", "core", "core-install", "wheel", "envs", "staging"):
        shutil.rmtree(paths.build / name, ignore_errors=True)


def wheels(paths: Paths, *, one: str) -> dict[str, float]:
    """Cold one-Python run, cold all-Python run, warm all-Python re-run (seconds)."""
    cold = {"CCACHE_DISABLE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        # Session venv creation is setup, not build: do it before timing.
        runner.call(
            [sys.executable, "-m", "nox", "-s", "wheels", "--install-only"],
            what="nox -s wheels --install-only",
            cwd=paths.root,
            log=paths.build / "bench" / "wheels.log",
        )
        _clean_build_tree(paths)
        t_one = _nox_wheels(paths, "--python", one, "--dist", f"{tmp}/one", env=cold)
        _clean_build_tree(paths)
        t_all = _nox_wheels(paths, "--dist", f"{tmp}/all", env=cold)
        t_again = _nox_wheels(paths, "--dist", f"{tmp}/all", env=cold)
        count = len(list(Path(tmp, "all").glob("*.whl")))
    figures = {
        "one_python_cold_s": t_one,
        "all_pythons_cold_s": t_all,
        "all_pythons_repeat_s": t_again,
        "pythons": count,
        "ratio_all_vs_one": t_all / t_one,
        "repeat_vs_cold": t_again / t_all,
    }
    table = Table(title="nox -s wheels (wall time)")
    table.add_column("run")
    table.add_column("seconds", justify="right")
    table.add_column("figure", justify="right")
    table.add_row(f"cold, CPython {one} only", f"{t_one:.1f}", "")
    table.add_row(
        f"cold, {count} CPythons",
        f"{t_all:.1f}",
        f"{figures['ratio_all_vs_one']:.2f}x one (target <= 1.3x)",
    )
    table.add_row(
        "repeat, nothing changed",
        f"{t_again:.1f}",
        f"{figures['repeat_vs_cold']:.0%} of cold (target < 20%)",
    )
    console.print(table)
    return figures


def kernels(paths: Paths, *, profile: str, groups: list[str]) -> dict[str, float]:
    """Cold (empty ccache), warm (build dir deleted, ccache kept) and no-op builds (s), all
    groups in one pool; the cold build's schedule figures (lower bound, efficiency)."""

    def build(env: dict[str, str]) -> float:
        start = time.monotonic()
        cmd = [sys.executable, "-m", "buildsys", "kernels", *groups, "--profile", profile]
        runner.call(
            cmd,
            what="buildsys kernels",
            cwd=paths.root,
            env={**env, "PYTHONPATH": str(paths.root / "scripts")},
            log=paths.build / "bench" / "kernels.log",
        )
        return time.monotonic() - start

    # A build tree and a ccache of its own: cold means cold, and other sessions running
    # meanwhile neither share nor disturb it.
    with tempfile.TemporaryDirectory() as tmp:
        env = {"CCACHE_DIR": f"{tmp}/ccache", "INFERCORE_BUILD_DIR": f"{tmp}/build"}
        cold = build(env)
        label = "+".join(groups)
        schedule = json.loads(
            Path(f"{tmp}/build/kernels/{profile}/schedule-{label}.json").read_text()
        )
        shutil.rmtree(f"{tmp}/build/kernels", ignore_errors=True)
        warm = build(env)
        noop = build(env)
    console.say(
        "bench",
        f"kernels ({profile}: {', '.join(groups)}): cold {cold:.1f}s (compile "
        f"{schedule['wall_s']} s against a lower bound of {schedule['lower_bound_s']} s: "
        f"{schedule['ratio']}x), warm ccache {warm:.1f}s ({100 * warm / cold:.1f}% of cold), "
        f"no-op {noop:.1f}s",
        style="green",
    )
    return {
        "profile": profile,
        "groups": " ".join(groups),
        "cold_s": cold,
        "warm_ccache_s": warm,
        "warm_over_cold": warm / cold,
        "noop_s": noop,
        **{f"schedule_{k}": v for k, v in schedule.items()},
    }


def _best_of(fn, repeats: int = 5) -> float:  # noqa: ANN001 - any zero-arg callable
    fn()  # warm-up: thread start, page faults, first-touch of the outputs
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def cpu_ops() -> dict[str, float]:
    """GFLOP/s of infercore's CPU ops and NumPy's equivalents, same inputs, same process."""
    import infercore
    import numpy as np

    rng = np.random.default_rng(2026)
    figures: dict[str, float] = {}
    b, s, h, d = 1, 1024, 16, 64
    q, k, v = (rng.standard_normal((b, s, h, d), dtype=np.float32) for _ in range(3))
    scale = 1.0 / np.sqrt(d)

    def numpy_attention() -> np.ndarray:
        # NumPy's fastest form: batched matmul (BLAS) over (batch, head), not einsum loops.
        qt, kt, vt = q.transpose(0, 2, 1, 3), k.transpose(0, 2, 3, 1), v.transpose(0, 2, 1, 3)
        scores = (qt @ kt) * scale
        scores -= scores.max(axis=-1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=-1, keepdims=True)
        return (p @ vt).transpose(0, 2, 1, 3)

    attn_flops = 4.0 * b * h * s * s * d
    figures["attention_infercore_gflops"] = (
        attn_flops / _best_of(lambda: infercore.attention(q, k, v)) / 1e9
    )
    figures["attention_numpy_gflops"] = attn_flops / _best_of(numpy_attention) / 1e9
    n = 1024
    a, bm = (rng.standard_normal((n, n), dtype=np.float32) for _ in range(2))
    gemm_flops = 2.0 * n**3
    figures["gemm_infercore_gflops"] = gemm_flops / _best_of(lambda: infercore.gemm(a, bm)) / 1e9
    figures["gemm_numpy_gflops"] = gemm_flops / _best_of(lambda: a @ bm) / 1e9
    figures["threads"] = float(os.cpu_count() or 1)

    table = Table(title=f"CPU ops, float32, {os.cpu_count()} cores (best of 5)")
    for column in ("op", "shape", "infercore GFLOP/s", "NumPy GFLOP/s", "ratio"):
        table.add_column(column)
    for op, shape in (("attention", f"b{b} s{s} h{h} d{d}"), ("gemm", f"{n}x{n}x{n}")):
        ours, theirs = figures[f"{op}_infercore_gflops"], figures[f"{op}_numpy_gflops"]
        table.add_row(op, shape, f"{ours:.1f}", f"{theirs:.1f}", f"{ours / theirs:.2f}x")
    console.print(table)
    return figures


def save(paths: Paths, name: str, figures: dict[str, float]) -> Path:
    path = atomic_write(
        paths.build / "bench" / f"{name}.json", json.dumps(figures, indent=2) + "\n"
    )
    console.say("bench", f"figures written to {path}")
    return path
