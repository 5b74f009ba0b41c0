"""Fast kernels against PyTorch on one GPU, side by side in one run (docs/BENCHMARKS.md).

    python tests/gpu/bench_kernels.py [--json FILE]

Attention at batch 4, 32 heads, head dim 128, seqlen 4096 (bf16 and fp16, causal and not):
infercore's FA2 vs PyTorch SDPA's flash backend, infercore's fmha-sm90 vs SDPA's cuDNN
backend; GEMM 8192^3 bf16: infercore's CUTLASS kernel vs torch.matmul. Each figure is the
median of timed runs (CUDA events) after warm-ups; TFLOP/s count 4*b*h*sq*sk*d for
attention (half under the causal mask) and 2*m*n*k for GEMM. A combination this build did
not compile is reported as such, not skipped silently.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

import infercore
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel

WARMUP, RUNS = 5, 20


def timed(fn) -> float:
    """Median milliseconds of fn() over RUNS, after WARMUP calls."""
    for _ in range(WARMUP):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(RUNS):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def attention_row(dtype: torch.dtype, causal: bool, b=4, h=32, s=4096, d=128) -> dict:
    gen = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (
        torch.randn((b, s, h, d), generator=gen, device="cuda", dtype=torch.float32).to(dtype)
        for _ in range(3)
    )
    out = torch.empty_like(q)
    flops = 4 * b * h * s * s * d / (2 if causal else 1)
    # SDPA takes (b, h, s, d): transposed views of the same memory, as a user would pass.
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))

    def sdpa(backend):
        def run():
            with sdpa_kernel(backend):
                torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, is_causal=causal)

        return run

    def ours(backend):
        def run():
            infercore.attention(q, k, v, causal=causal, out=out, backend=backend)

        return run

    row = {"dtype": str(dtype).removeprefix("torch."), "causal": causal}
    for name, fn in (
        ("fa2", ours("fa2")),
        ("fmha-sm90", ours("fmha-sm90")),
        ("sdpa-flash", sdpa(SDPBackend.FLASH_ATTENTION)),
        ("sdpa-cudnn", sdpa(SDPBackend.CUDNN_ATTENTION)),
    ):
        try:
            row[name] = round(flops / timed(fn) / 1e9, 1)
        except (ValueError, RuntimeError) as err:  # not compiled here / backend unavailable
            row[name] = None
            row[f"{name}-why"] = str(err).splitlines()[0][:160]
    if row["fa2"] and row["sdpa-flash"]:
        row["fa2/flash"] = round(row["fa2"] / row["sdpa-flash"], 3)
    if row["fmha-sm90"] and row["sdpa-cudnn"]:
        row["fmha/cudnn"] = round(row["fmha-sm90"] / row["sdpa-cudnn"], 3)
    return row


def gemm_row(n: int = 8192) -> dict:
    gen = torch.Generator(device="cuda").manual_seed(1)
    a, b = (
        torch.randn((n, n), generator=gen, device="cuda", dtype=torch.float32).bfloat16()
        for _ in range(2)
    )
    out = torch.empty((n, n), device="cuda", dtype=torch.bfloat16)
    flops = 2 * n**3
    row: dict = {"shape": f"{n}x{n}x{n} bf16"}
    try:
        row["cutlass-sm90"] = round(
            flops / timed(lambda: infercore.gemm(a, b, out=out, backend="cutlass-sm90")) / 1e9, 1
        )
    except ValueError as err:
        row["cutlass-sm90"], row["cutlass-sm90-why"] = None, str(err)[:160]
    row["torch.matmul"] = round(flops / timed(lambda: torch.matmul(a, b, out=out)) / 1e9, 1)
    if row["cutlass-sm90"]:
        row["cutlass/matmul"] = round(row["cutlass-sm90"] / row["torch.matmul"], 3)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    props = torch.cuda.get_device_properties(0)
    info = infercore.build_info()
    header = {
        "gpu": props.name,
        "torch": torch.__version__,
        "infercore": info["version"],
        "kernel_libraries": info["kernels"]["libraries"],
        "auto_backend_bf16_d128": infercore.attention_backend(0, dtype="bfloat16", headdim=128),
    }
    print(json.dumps(header))
    rows = []
    for dtype in (torch.bfloat16, torch.float16):
        for causal in (False, True):
            rows.append(attention_row(dtype, causal))
            print(json.dumps(rows[-1]), flush=True)
    gemm = gemm_row()
    print(json.dumps(gemm))
    print("\nattention b4 h32 d128 s4096, TFLOP/s")
    cols = ["fa2", "sdpa-flash", "fa2/flash", "fmha-sm90", "sdpa-cudnn", "fmha/cudnn"]
    print(f"{'dtype':9} {'causal':6} " + " ".join(f"{c:>11}" for c in cols))
    for r in rows:
        cells = " ".join(f"{r.get(c) or '-'!s:>11}" for c in cols)
        print(f"{r['dtype']:9} {r['causal']!s:6} {cells}")
    print(
        f"gemm {gemm['shape']}: cutlass-sm90 {gemm['cutlass-sm90']} vs torch.matmul "
        f"{gemm['torch.matmul']} TFLOP/s ({gemm.get('cutlass/matmul', '-')}x)"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({**header, "attention": rows, "gemm": gemm}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
