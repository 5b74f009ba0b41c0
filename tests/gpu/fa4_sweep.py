"""FlashAttention-4's sm_90a forward configurations against cuDNN (docs/BENCHMARKS.md).

FA4's interface picks one configuration per head dim on Hopper (128x128 tiles, P in
registers, intra-warpgroup overlap, 2 K/V stages for head dim 128: tuned on an H100). This
finds out which configuration is fastest on the GPU at hand, in two halves:

  here, no GPU needed (the CuTe DSL environment and FA4's source as the kernels build gets them):
    PYTHONPATH=scripts python tests/gpu/fa4_sweep.py prepare --out DIR [--jobs N] [--only NAME...]
  on the GPU (torch only; no infercore build):
    python tests/gpu/fa4_sweep.py run --dir DIR [--json FILE] [--rounds N]

`prepare` exports every configuration of CONFIGS for each case (bf16 and fp16, causal and
not, head dim 128, no GQA) with the kernels build's own exporter (its compile stage, with
FA4's interface asked for that configuration), then links the objects, the DSL's static
runtime and a small C shim into DIR/libfa4sweep.so, listed in DIR/sweep.json. A
configuration the DSL cannot compile (registers, shared memory) is recorded with its error
and left out.

`run` checks every linked configuration against a float32 reference (a slice of heads),
then times them all and SDPA's cuDNN backend with bench_kernels.py's interleaved method
(timing.py) at batch 4, 32 heads, seqlen 4096, and prints TFLOP/s and the ratio to cuDNN.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import ctypes
import functools
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPORTER = HERE.parents[1] / "scripts" / "buildsys" / "kernels" / "fa4_export.py"
HEADDIM = 128
# The engine's own ABI filling (fa4_tensor), so the sweep calls each export as the library does.
FA4_ENTRY = HERE.parents[1] / "csrc" / "kernels" / "fa4"
KERNELS_API = HERE.parents[1] / "csrc" / "kernels" / "include"
SHAPE = {"batch": 4, "heads": 32, "seqlen": 4096}


@dataclass(frozen=True)
class Config:
    """One sm_90a forward configuration: the knobs FA4's interface and kernel expose."""

    tile_m: int
    tile_n: int
    rs: bool  # P stays in registers for the PV GEMM (mma_pv_is_rs)
    overlap: bool  # intra-warpgroup overlap of softmax and the next QK GEMM
    stages: int  # K/V pipeline stages in shared memory
    consumers: int = 2  # MMA warpgroups (one more loads): FA4 uses 2 at head dim 128

    @property
    def name(self) -> str:
        rs = "rs" if self.rs else "ss"
        ol = "ol" if self.overlap else "nool"
        wgs = f"_wg{self.consumers}" if self.consumers != 2 else ""
        return f"m{self.tile_m}n{self.tile_n}_{rs}_{ol}_s{self.stages}{wgs}"


# FA4's default first; then the tile widths FA3's C++ kernels use on Hopper (176 for
# non-causal head dim 128), the neighbours, and each flag flipped once.
CONFIGS = [
    Config(128, 128, True, True, 2),
    Config(128, 112, True, True, 2),
    Config(128, 144, True, True, 2),
    Config(128, 160, True, True, 2),
    Config(128, 176, True, True, 2),
    Config(128, 192, True, True, 2),
    Config(128, 128, False, True, 2),
    Config(128, 176, False, True, 2),
    Config(128, 128, True, False, 2),
    Config(128, 128, True, True, 3),
    Config(128, 112, True, True, 3),
    # The three-consumer tiles FA4's own config search (sm90_config_search.py) finds
    # feasible at head dim 128: P in registers, no overlap (the register budget).
    Config(192, 128, True, False, 2, consumers=3),
    Config(192, 112, True, False, 2, consumers=3),
]
CASES = [(dtype, causal) for dtype in ("bf16", "fp16") for causal in (False, True)]


def prefix(config: Config, dtype: str, causal: bool) -> str:
    return f"fa4sweep_{dtype}_{'causal' if causal else 'full'}_{config.name}"


# -- compile: one configuration, in the CuTe DSL environment -----------------------------


def _exporter():
    """The kernels build's exporter, loaded by path: its directory must not go on sys.path
    (its profile.py would shadow the standard library's, which torch imports)."""
    spec = importlib.util.spec_from_file_location("fa4_export", EXPORTER)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def compile_one(args: argparse.Namespace) -> int:
    exporter = _exporter()
    config = Config(**json.loads(args.config))
    choose = exporter._fa4_choice

    def configured(variant):  # FA4's interface, asked for this configuration
        from flash_attn.cute import interface

        real = interface._flash_attn_fwd

        # wraps() also carries its attributes over: it reaches its compile_cache by name.
        @functools.wraps(real)
        def asked(*a, **kw):
            kw |= {"tile_mn": (config.tile_m, config.tile_n), "mma_pv_is_rs": config.rs}
            kw["num_threads"] = 128 * (config.consumers + 1)
            return real(*a, **kw, intra_wg_overlap=config.overlap)

        interface._flash_attn_fwd = asked
        try:
            kernel, cargs, ckwargs = choose(variant)
        finally:
            interface._flash_attn_fwd = real
        kernel.num_stages = config.stages  # the interface fixes 2; the kernel takes any
        return kernel, cargs, ckwargs

    exporter._fa4_choice = configured
    variant = exporter.Variant(
        arch="sm_90a",
        dtype=args.dtype,
        headdim=HEADDIM,
        causal=args.causal,
        heads_ratio=1,
        prefix=Path(args.output).name.removesuffix(".o"),
        selection_sms=args.selection_sms,
    )
    return exporter.compile_stage(args, variant)


# -- prepare: every configuration, exported and linked (here) ------------------------------


def _shim(prefixes: list[str]) -> str:
    """C entries over each export's ABI, filled by the engine's fa4_tensor (contiguous
    (b, s, h, 128) tensors); each variant's cubin is loaded on first use."""
    lines = ['#include "fa4_entry.h"']
    lines += [f'#include "{p}/{p}.h"' for p in prefixes]
    lines += ["using infercore::kernels::fa4_tensor;"]
    for p in prefixes:
        lines += [
            f"static {p}_Kernel_Module_t {p}_module;",
            f"static int {p}_loaded;",
            f'extern "C" int {p}_run(void* q, void* k, void* v, void* o, int b, int sq, int sk,',
            "                        int h, int hk, float scale, int sms, cudaStream_t stream) {",
            f"    if (!{p}_loaded) {{ {p}_Kernel_Module_Load(&{p}_module); {p}_loaded = 1; }}",
            f"    auto mq = fa4_tensor<{p}_Tensor_mQ_t>(q, b, sq, h, {HEADDIM});",
            f"    auto mk = fa4_tensor<{p}_Tensor_mK_t>(k, b, sk, hk, {HEADDIM});",
            f"    auto mv = fa4_tensor<{p}_Tensor_mV_t>(v, b, sk, hk, {HEADDIM});",
            f"    auto mo = fa4_tensor<{p}_Tensor_mO_t>(o, b, sq, h, {HEADDIM});",
            f"    return cute_dsl_{p}_wrapper(&{p}_module, &mq, &mk, &mv, &mo, scale, sms,",
            "                                stream);",
            "}",
        ]
    return "\n".join(lines) + "\n"


def prepare(args: argparse.Namespace) -> int:
    from buildsys.config import loader
    from buildsys.kernels import dsl_env, fa4
    from buildsys.sources import cache as sources
    from buildsys.util.paths import Paths

    paths = Paths.from_env()
    lock = loader.load(paths.root).lock
    pinned = lock[fa4.SOURCE]
    source = fa4.source_dir(sources.unpack(paths, pinned, sources.fetch(paths, pinned)))
    env = dsl_env.ensure(paths)
    exporter = _exporter()
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    chosen = [c for c in CONFIGS if not args.only or c.name in args.only]
    jobs = [(c, d, causal) for d, causal in CASES for c in chosen]
    print(f"exporting {len(jobs)} configurations, {args.jobs} at a time", flush=True)

    def one(job: tuple[Config, str, bool]) -> dict:
        config, dtype, causal = job
        name = prefix(config, dtype, causal)
        obj = out / name / f"{name}.o"
        record = {"prefix": name, "dtype": dtype, "causal": causal, **asdict(config)}
        meta = obj.with_suffix(".json")
        if not meta.is_file():  # a re-run keeps what it exported
            obj.parent.mkdir(parents=True, exist_ok=True)
            cmd = [str(env.python), "-P", str(Path(__file__).resolve()), "compile"]
            cmd += ["--source", str(source), "--config", json.dumps(asdict(config))]
            cmd += ["--dtype", dtype, "-o", str(obj)] + (["--causal"] if causal else [])
            cmd += ["--selection-sms", str(fa4.SELECTION_SMS["90a"])]  # as the build's
            start = time.monotonic()
            done = subprocess.run(
                cmd, env=exporter._compile_env(), cwd=obj.parent, capture_output=True, text=True
            )
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
                print(f"  {name}: not compiled ({' | '.join(tail)[:300]})", flush=True)
                return record | {"error": "\n".join(tail)}
            print(f"  {name}: {time.monotonic() - start:.1f} s", flush=True)
        chose = json.loads(meta.read_text())["fa4_config"]
        # What the kernel object really had: the override must have reached it.
        got = (chose["tile_m"], chose["tile_n"], chose["num_stages"], chose["num_threads"])
        if got != (config.tile_m, config.tile_n, config.stages, 128 * (config.consumers + 1)):
            return record | {"error": f"the kernel was built with {got}, not {config.name}"}
        return record

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        records = list(pool.map(one, jobs))
    linked = [r["prefix"] for r in records if "error" not in r]
    shim = out / "shim.cc"
    shim.write_text(_shim(linked))
    cuda = Path(os.environ.get("CUDA_HOME", "/usr/local/cuda"))
    library = out / "libfa4sweep.so"
    # Its own CUDA runtime, kept to itself: torch's in the same process is left alone.
    cmd = ["g++", "-std=c++17", "-O2", "-fPIC", "-shared", "-Wl,-Bsymbolic"]
    cmd += ["-Wl,--exclude-libs,ALL", "-DINFERCORE_KERNEL_GROUP=fa4sweep"]
    cmd += ["-o", str(library), str(shim)]
    cmd += [f"-I{out}", f"-I{FA4_ENTRY}", f"-I{KERNELS_API}", f"-I{cuda / 'include'}"]
    cmd += [str(out / p / f"{p}.o") for p in linked] + [str(env.runtime)]
    cmd += [f"-L{cuda / 'lib64'}", "-lcudart_static", "-ldl", "-lpthread", "-lrt"]
    subprocess.run(cmd, check=True)
    (out / "sweep.json").write_text(json.dumps({"records": records}, indent=2) + "\n")
    size = library.stat().st_size / 2**20
    print(f"{library}: {len(linked)} of {len(records)} configurations, {size:.1f} MiB")
    return 0


# -- run: on the GPU ----------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    import torch
    from timing import BATCH, REPS, figures, gpu_state, interleaved
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.functional import scaled_dot_product_attention as sdpa

    directory = Path(args.dir)
    records = json.loads((directory / "sweep.json").read_text())["records"]
    lib = ctypes.CDLL(str(directory / "libfa4sweep.so"))
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    b, h, s, d = SHAPE["batch"], SHAPE["heads"], SHAPE["seqlen"], HEADDIM
    scale = d**-0.5
    report = {
        "gpu": torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "shape": SHAPE | {"headdim": d},
        "timing": f"{BATCH} back-to-back calls per event pair, median of {REPS}, "
        f"{args.rounds} interleaved rounds",
        "gpu_before": gpu_state(),
        "cases": [],
        "not_compiled": [r for r in records if "error" in r],
    }
    for dtype, causal in CASES:
        torch_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[dtype]
        gen = torch.Generator(device="cuda").manual_seed(7)
        q, k, v = (
            torch.randn((b, s, h, d), generator=gen, device="cuda").to(torch_dtype)
            for _ in range(3)
        )
        # The reference: float32 SDPA on batch 0, heads 0-3 ((b, h, s, d) views).
        ref = sdpa(*(t[:1, :, :4].float().transpose(1, 2) for t in (q, k, v)), is_causal=causal)
        ref = ref.transpose(1, 2)
        fns, row = {}, {"dtype": dtype, "causal": causal, "configs": {}}
        # As bench_kernels.py times SDPA: transposed views, SDPA allocating its output.
        qt, kt, vt = (t.transpose(1, 2) for t in (q, k, v))

        def cudnn(qt=qt, kt=kt, vt=vt, causal=causal):
            with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                return sdpa(qt, kt, vt, is_causal=causal)

        fns["sdpa-cudnn"] = cudnn
        got = cudnn().transpose(1, 2)[:1, :, :4].float()
        row["sdpa-cudnn_max_abs_err"] = (got - ref).abs().max().item()
        row["reference_max_abs"] = ref.abs().max().item()
        for r in records:
            if "error" in r or (r["dtype"], r["causal"]) != (dtype, causal):
                continue
            entry = getattr(lib, f"{r['prefix']}_run")
            entry.restype = ctypes.c_int
            out = torch.full_like(q, float("nan"))  # a kernel that skips a tile shows NaN

            def call(entry=entry, out=out, q=q, k=k, v=v) -> None:
                err = entry(
                    ctypes.c_void_p(q.data_ptr()),
                    ctypes.c_void_p(k.data_ptr()),
                    ctypes.c_void_p(v.data_ptr()),
                    ctypes.c_void_p(out.data_ptr()),
                    b,
                    s,
                    s,
                    h,
                    h,
                    ctypes.c_float(scale),
                    sms,
                    ctypes.c_void_p(torch.cuda.current_stream().cuda_stream),
                )
                if err:
                    raise RuntimeError(f"launch returned cudaError {err}")

            name = Config(**{f: r[f] for f in Config.__dataclass_fields__}).name
            try:
                with _watchdog(name, seconds=30):  # a configuration that deadlocks
                    call()
                    torch.cuda.synchronize()
            except RuntimeError as err:
                row["configs"][name] = {"error": str(err)}
                continue
            err = (out[:1, :, :4].float() - ref).abs().max().item()
            # Not NaN (the poison), and as close to float32 as cuDNN's bf16/fp16 output is.
            ok = err == err and err <= max(4 * row["sdpa-cudnn_max_abs_err"], 1e-3)
            row["configs"][name] = {"max_abs_err": err, "correct": ok}
            if ok:
                fns[name] = call
        flops = 4 * b * h * s * s * d / (2 if causal else 1)
        for name, fig in figures(interleaved(fns, args.rounds), flops).items():
            target = row if name == "sdpa-cudnn" else row["configs"][name]
            target.update(fig if name != "sdpa-cudnn" else {"sdpa-cudnn": fig})
        base = row["sdpa-cudnn"]["tflops"]
        for fig in row["configs"].values():
            if "tflops" in fig:
                fig["vs_cudnn"] = round(fig["tflops"] / base, 3)
        report["cases"].append(row)
        _print_case(row)
        if args.json:  # after each case: a later hang still leaves these figures
            Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    report["gpu_after"] = gpu_state()
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    for r in report["not_compiled"]:
        print(f"not compiled: {r['prefix']}: {r['error'].splitlines()[-1][:200]}")
    return 0


@contextlib.contextmanager
def _watchdog(what: str, *, seconds: float):
    """Exit the process (code 3) if the block outlasts `seconds`: a kernel that never
    finishes cannot be interrupted from Python, and the figures so far are on disk."""
    timer = threading.Timer(seconds, lambda: (print(f"{what}: hung", flush=True), os._exit(3)))
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _print_case(row: dict) -> None:
    c = row["sdpa-cudnn"]
    title = f"{row['dtype']} {'causal' if row['causal'] else 'non-causal'}"
    print(f"\n{title}: sdpa-cudnn {c['tflops']} TFLOP/s ({c['min']}-{c['max']})")
    ranked = sorted(row["configs"].items(), key=lambda kv: -kv[1].get("tflops", 0))
    for name, fig in ranked:
        if "tflops" in fig:
            print(
                f"  {name:<22} {fig['tflops']:>6} ({fig['min']}-{fig['max']})  "
                f"{fig['vs_cudnn']:.3f}x cuDNN  err {fig['max_abs_err']:.1e}"
            )
        else:
            print(f"  {name:<22} {fig}")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    pp = sub.add_parser("prepare", help="export and link every configuration (no GPU)")
    pp.add_argument("--out", required=True, help="the directory to fill")
    pp.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    pp.add_argument("--only", nargs="*", help="configuration names (default: all)")
    pr = sub.add_parser("run", help="check and time them on the GPU")
    pr.add_argument("--dir", required=True, help="what prepare filled")
    pr.add_argument("--json", help="also write the figures to this file")
    pr.add_argument("--rounds", type=int, default=10)
    pc = sub.add_parser("compile", help="(internal) one configuration, in the DSL environment")
    pc.add_argument("--source", required=True)
    pc.add_argument("--config", required=True)
    pc.add_argument("--dtype", required=True)
    pc.add_argument("--causal", action="store_true")
    pc.add_argument("--selection-sms", type=int, required=True)
    pc.add_argument("-o", dest="output", required=True)
    args = p.parse_args(argv)
    return {"prepare": prepare, "run": run, "compile": compile_one}[args.command](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
