"""Fast kernels against PyTorch on one GPU, side by side in one run (docs/BENCHMARKS.md).

    python tests/gpu/bench_kernels.py [--json FILE] [--rounds N]

Attention at batch 4, 32 heads, head dim 128, seqlen 4096 (bf16 and fp16, causal and not):
infercore's FA2 vs PyTorch SDPA's flash backend, infercore's fmha-sm90 and FlashAttention-4
(fa4, exported ahead of time) vs SDPA's cuDNN backend and each other; GEMM 8192^3 bf16:
infercore's CUTLASS kernel vs torch.matmul. TFLOP/s count
4*b*h*sq*sk*d for attention (half under the causal mask) and 2*m*n*k for GEMM. A
combination this build did not compile is reported as such, not skipped silently.
Then decode steps and a prompt chunk (small grids, where FA2's split-KV matters): microseconds
per call of every backend and of "auto", and which backend "auto" chose.

How it times (the same for ours and PyTorch's):
- kernel throughput: BATCH back-to-back calls between two CUDA events (as
  triton.testing.do_bench and the cuDNN/FlashAttention benchmarks time), median of REPS
  such batches; every backend of a row is timed once per round, ROUNDS rounds, in an order
  rotated each round, so clock and power drift reach every backend alike; the figure is the
  median over rounds and the spread (min-max over rounds) is printed beside it.
- decode: GRAPH_CALLS calls captured in one CUDA graph, the graph replayed REPS times between
  events (median), in interleaved rounds as above: a decode kernel takes microseconds, less
  than a call's host work, so only a graph shows the GPU time.
- host overhead: microseconds of CPU time per call on a tiny problem, where the GPU keeps up,
  i.e. what a call costs before its kernel starts. Timing isolated calls (a sync after each)
  would add this to the kernel time of whichever API does more on the host.
- the GPU's SM clock, power and temperature before and after, from nvidia-smi.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import infercore
import torch
from timing import BATCH, REPS, Fn, figures, gpu_state, graph_ms, interleaved
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.bias import causal_lower_right


def usable(candidates: dict[str, Fn], row: dict, graphs: bool = False) -> dict[str, Fn]:
    """The candidates that run here (and, with `graphs`, can be captured in a CUDA graph);
    the others are recorded in `row` with the reason."""
    ok = {}
    for name, fn in candidates.items():
        try:
            fn()
            torch.cuda.synchronize()
            if graphs:
                graph_ms(fn)
            ok[name] = fn
        except (ValueError, RuntimeError) as err:  # not compiled here / backend unavailable
            row[name] = None
            row[f"{name}-why"] = str(err).splitlines()[0][:160]
    return ok


def qkv(b: int, s: int, h: int, d: int, dtype: torch.dtype, seed: int) -> list[torch.Tensor]:
    """Fresh random (never zero) q, k, v in (b, s, h, d)."""
    gen = torch.Generator(device="cuda").manual_seed(seed)
    return [
        torch.randn((b, s, h, d), generator=gen, device="cuda", dtype=torch.float32).to(dtype)
        for _ in range(3)
    ]


def attention_fns(q, k, v, causal: bool) -> dict[str, Fn]:
    out = torch.empty_like(q)
    # SDPA takes (b, h, s, d): transposed views of the same memory, as a user would pass.
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
    sdpa_fn = torch.nn.functional.scaled_dot_product_attention
    seqlen_q, seqlen_k = q.shape[1], k.shape[1]
    # SDPA's is_causal aligns the mask top-left; infercore's (like FlashAttention's) aligns
    # it bottom-right, which is what causal_lower_right asks of SDPA.
    mask = {"is_causal": causal}
    if causal and seqlen_q != seqlen_k:
        mask = {"attn_mask": causal_lower_right(seqlen_q, seqlen_k)}
    gqa = {"enable_gqa": True} if q.shape[2] != k.shape[2] else {}

    def sdpa(backend):
        def run():
            with sdpa_kernel(backend):
                return sdpa_fn(qt, kt, vt, **mask, **gqa)

        return run

    def ours(backend):
        return lambda: infercore.attention(q, k, v, causal=causal, out=out, backend=backend)

    return {
        "fa2": ours("fa2"),
        "fmha-sm90": ours("fmha-sm90"),
        "fa4": ours("fa4"),
        "sdpa-flash": sdpa(SDPBackend.FLASH_ATTENTION),
        "sdpa-cudnn": sdpa(SDPBackend.CUDNN_ATTENTION),
    }


def ratio(row: dict, ours: str, theirs: str) -> float | None:
    a, b = row.get(ours), row.get(theirs)
    return round(a["tflops"] / b["tflops"], 3) if a and b else None


def attention_row(dtype: torch.dtype, causal: bool, rounds: int, b=4, h=32, s=4096, d=128) -> dict:
    q, k, v = qkv(b, s, h, d, dtype, seed=0)
    flops = 4 * b * h * s * s * d / (2 if causal else 1)
    row: dict = {"dtype": str(dtype).removeprefix("torch."), "causal": causal}
    fns = usable(attention_fns(q, k, v, causal), row)
    row.update(figures(interleaved(fns, rounds), flops))
    row["fa2/flash"] = ratio(row, "fa2", "sdpa-flash")
    row["fmha/cudnn"] = ratio(row, "fmha-sm90", "sdpa-cudnn")
    row["fa4/cudnn"] = ratio(row, "fa4", "sdpa-cudnn")
    row["fa4/fmha"] = ratio(row, "fa4", "fmha-sm90")
    return row


# label, batch, seqlen_q, seqlen_k, nheads, nheads_kv, causal
SMALL_GRIDS = [
    ("decode b1 h32/8 k8192", 1, 1, 8192, 32, 8, False),
    ("decode b8 h32/8 k8192", 8, 1, 8192, 32, 8, False),
    ("decode b1 h32 k32768", 1, 1, 32768, 32, 32, False),
    ("chunk b1 q512 k8192 h32/8 causal", 1, 512, 8192, 32, 8, True),
]


def small_grid_row(shape: tuple, rounds: int, dtype=torch.bfloat16, d: int = 128) -> dict:
    label, b, sq, sk, h, hkv, causal = shape
    gen = torch.Generator(device="cuda").manual_seed(3)
    q = torch.randn((b, sq, h, d), generator=gen, device="cuda").to(dtype)
    k, v = (torch.randn((b, sk, hkv, d), generator=gen, device="cuda").to(dtype) for _ in "kv")
    row: dict = {"shape": label, "dtype": str(dtype).removeprefix("torch.")}
    row["auto_is"] = infercore.attention_backend(
        0,
        dtype=row["dtype"],
        headdim=d,
        causal=causal,
        seqlen_q=sq,
        seqlen_k=sk,
        nheads=h,
        nheads_kv=hkv,
        batch=b,
    )
    fns = attention_fns(q, k, v, causal)
    if causal and sq != sk:
        # causal_lower_right dispatches itself: flash or efficient, else the math kernel,
        # whatever sdpa_kernel() asks; only the flash figure is SDPA's.
        del fns["sdpa-cudnn"]
        row["sdpa-cudnn"], row["sdpa-cudnn-why"] = None, "no bottom-right causal mask"
    out = torch.empty_like(q)
    fns["auto"] = lambda: infercore.attention(q, k, v, causal=causal, out=out)
    fns = usable(fns, row, graphs=True)
    for name, ms in interleaved(fns, rounds, graphs=True).items():
        row[name] = {
            "us": round(statistics.median(ms) * 1e3, 1),
            "min": round(min(ms) * 1e3, 1),
            "max": round(max(ms) * 1e3, 1),
        }
    return row


def gemm_row(rounds: int, n: int = 8192) -> dict:
    gen = torch.Generator(device="cuda").manual_seed(1)
    a, b = (
        torch.randn((n, n), generator=gen, device="cuda", dtype=torch.float32).bfloat16()
        for _ in range(2)
    )
    out = torch.empty((n, n), device="cuda", dtype=torch.bfloat16)
    row: dict = {"shape": f"{n}x{n}x{n} bf16"}
    fns = usable(
        {
            "cutlass-sm90": lambda: infercore.gemm(a, b, out=out, backend="cutlass-sm90"),
            "torch.matmul": lambda: torch.matmul(a, b, out=out),
        },
        row,
    )
    row.update(figures(interleaved(fns, rounds), 2 * n**3))
    row["cutlass/matmul"] = ratio(row, "cutlass-sm90", "torch.matmul")
    return row


def host_overhead_us(calls: int = 2000) -> dict[str, float]:
    """CPU microseconds per call on tiny problems: attention b1 s128 h8 d128, gemm 128^3, bf16."""
    q, k, v = qkv(1, 128, 8, 128, torch.bfloat16, seed=2)
    fns = attention_fns(q, k, v, causal=False)
    a, b = q[0, :, 0].contiguous(), k[0, :, 0].contiguous()  # (128, 128) each
    fns["gemm cutlass-sm90"] = lambda: infercore.gemm(a, b, backend="cutlass-sm90")
    fns["gemm torch.matmul"] = lambda: torch.matmul(a, b)
    row: dict = {}
    out = {}
    for name, fn in usable(fns, row).items():
        for _ in range(50):
            fn()
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        t1 = time.perf_counter()
        torch.cuda.synchronize()
        out[name] = round((t1 - t0) / calls * 1e6, 1)
    return out


def cell(r: dict, c: str) -> str:
    v = r.get(c)
    if isinstance(v, dict):
        return f"{v['tflops']} ({v['min']}-{v['max']})"
    return "-" if v is None else str(v)


def us_cell(r: dict, c: str) -> str:
    v = r.get(c)
    return f"{v['us']} ({v['min']}-{v['max']})" if isinstance(v, dict) else "-"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    args = parser.parse_args()
    props = torch.cuda.get_device_properties(0)
    info = infercore.build_info()
    header = {
        "gpu": props.name,
        "torch": torch.__version__,
        "infercore": info["version"],
        "kernel_libraries": info["kernels"]["libraries"],
        "auto_backend_bf16_d128": infercore.attention_backend(0, dtype="bfloat16", headdim=128),
        "timing": f"{BATCH} back-to-back calls per event pair, median of {REPS}, "
        f"{args.rounds} interleaved rounds",
        "gpu_before": gpu_state(),
    }
    print(json.dumps(header), flush=True)
    rows = []
    for dtype in (torch.bfloat16, torch.float16):
        for causal in (False, True):
            rows.append(attention_row(dtype, causal, args.rounds))
            print(json.dumps(rows[-1]), flush=True)
    gemm = gemm_row(args.rounds)
    print(json.dumps(gemm), flush=True)
    small = []
    for shape in SMALL_GRIDS:
        small.append(small_grid_row(shape, args.rounds))
        print(json.dumps(small[-1]), flush=True)
    host = host_overhead_us()
    print(json.dumps({"host_us_per_call": host}), flush=True)
    header["gpu_after"] = gpu_state()

    print(
        f"\nGPU (sm clock, max, power, limit, temp): before {header['gpu_before']}; "
        f"after {header['gpu_after']}"
    )
    print("attention b4 h32 d128 s4096, TFLOP/s: median over rounds (slowest-fastest round)")
    cols = ["fa2", "sdpa-flash", "fa2/flash", "fmha-sm90", "sdpa-cudnn", "fmha/cudnn"]
    cols += ["fa4", "fa4/cudnn", "fa4/fmha"]
    print(f"{'dtype':9} {'causal':6} " + " ".join(f"{c:>19}" for c in cols))
    for r in rows:
        print(f"{r['dtype']:9} {r['causal']!s:6} " + " ".join(f"{cell(r, c):>19}" for c in cols))
    print(
        f"gemm {gemm['shape']}: cutlass-sm90 {cell(gemm, 'cutlass-sm90')} vs torch.matmul "
        f"{cell(gemm, 'torch.matmul')} TFLOP/s ({cell(gemm, 'cutlass/matmul')}x)"
    )
    print(
        "decode and prompt chunks, bf16 d128, us per call in CUDA graphs "
        "(slowest-fastest round); what auto chose"
    )
    cols = ["auto", "fa2", "fmha-sm90", "fa4", "sdpa-flash", "sdpa-cudnn"]
    print(f"{'shape':34} " + " ".join(f"{c:>19}" for c in cols) + "  auto is")
    for r in small:
        cells = " ".join(f"{us_cell(r, c):>19}" for c in cols)
        print(f"{r['shape']:34} {cells}  {r['auto_is']}")
    print(
        "host overhead, us per call (tiny problem): "
        + ", ".join(f"{k} {v}" for k, v in host.items())
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    **header,
                    "attention": rows,
                    "gemm": gemm,
                    "small_grids": small,
                    "host_us_per_call": host,
                },
                f,
                indent=2,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
