"""How tests/gpu's benchmarks time kernels (bench_kernels.py, fa4_sweep.py): one method,
so that figures from different scripts compare.

- kernel throughput: BATCH back-to-back calls between two CUDA events (as
  triton.testing.do_bench and the cuDNN/FlashAttention benchmarks time), median of REPS such
  batches; every contender is timed once per round, in an order rotated each round, so clock
  and power drift reach them alike; the figure is the median over rounds, with the spread.
- microsecond kernels: GRAPH_CALLS calls captured in one CUDA graph, replayed REPS times.
"""

from __future__ import annotations

import statistics
import subprocess
from collections.abc import Callable

import torch

WARMUP, REPS, BATCH = 5, 10, 10
GRAPH_CALLS = 20

Fn = Callable[[], object]


def event_ms(run: Fn, calls: int) -> float:
    """Median over REPS of the milliseconds per call of run(), which makes `calls` calls."""
    times = []
    for _ in range(REPS):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        run()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / calls)
    return statistics.median(times)


def batch_ms(fn: Fn) -> float:
    """Milliseconds per call of BATCH back-to-back calls."""
    return event_ms(lambda: [fn() for _ in range(BATCH)], BATCH)


def graph_ms(fn: Fn) -> Callable[[], float]:
    """A timer for fn: GRAPH_CALLS calls captured once, then ms per call of a replay."""
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(GRAPH_CALLS):
            fn()
    return lambda: event_ms(graph.replay, GRAPH_CALLS)


def interleaved(fns: dict[str, Fn], rounds: int, graphs: bool = False) -> dict[str, list[float]]:
    """Per backend, its ms per call in each round (batch_ms, or graph_ms with `graphs`)."""
    for fn in fns.values():
        for _ in range(WARMUP):
            fn()
    torch.cuda.synchronize()
    names = list(fns)
    timers = {n: graph_ms(fns[n]) if graphs else (lambda f=fns[n]: batch_ms(f)) for n in names}
    out: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            out[name].append(timers[name]())
    return out


def figures(times: dict[str, list[float]], flops: float) -> dict[str, dict[str, float]]:
    """TFLOP/s: the median over rounds, and the slowest and fastest round."""
    return {
        n: {
            "tflops": round(flops / statistics.median(ms) / 1e9, 1),
            "min": round(flops / max(ms) / 1e9, 1),
            "max": round(flops / min(ms) / 1e9, 1),
        }
        for n, ms in times.items()
    }


def gpu_state() -> str:
    query = "clocks.sm,clocks.max.sm,power.draw,power.limit,temperature.gpu"
    try:
        return subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as err:
        return f"nvidia-smi failed: {err}"
