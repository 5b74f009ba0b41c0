#!/usr/bin/env python3
"""Exports one FlashAttention-4 forward variant ahead of time: an object file and its C header.

The kernels build runs it once per variant (a CMake custom command in the `heavy` pool,
behind tu_monitor.py, which records its time and peak memory):

    fa4_export.py --python DSL_PYTHON --source FA4_ROOT --fa4-sha256 SHA --env-sha256 SHA
                  --cache DIR --arch sm_90a --dtype bf16 --headdim 128 [--causal]
                  --heads-ratio 4 --selection-sms 132 -o OUT/PREFIX.o

and gets OUT/PREFIX.o, OUT/PREFIX.h and OUT/PREFIX.json (what FA4 chose, for the report).
PREFIX is the exported symbols' prefix, unique per variant and arch group.

Two stages. This interpreter (any Python 3, standard library only: buildsys imports
`cache_key` from here too) looks the variant up in a content cache keyed by everything
that determines the bytes: FA4's sha256, the DSL tool environment's lock, this file, the
variant and its prefix. A hit is a copy, and the DSL is not started at all. A miss runs
this file again in the DSL environment (`--stage compile`, environment scrubbed of the
DSL's and FA4's own switches): FA4's interface is asked what it compiles for a prefill of
the variant (under torch's FakeTensorMode, with cute.compile intercepted), an entry of
fixed ABI is traced around that kernel object, compiled for the arch with the DSL's
bundled ptxas (no GPU, no nvcc), and exported with export_to_c; the result goes into the
cache, then out. Either way the cache verdict is written to $CCACHE_STATSLOG the way
ccache writes it, so the build report shows it beside the C++/CUDA TUs'.

The ABI of every variant (prefix P, see the generated header):
    int32_t cute_dsl_P_wrapper(P_Kernel_Module_t*, P_Tensor_mQ_t*, P_Tensor_mK_t*,
                               P_Tensor_mV_t*, P_Tensor_mO_t*, float softmax_scale,
                               int32_t num_sms, cudaStream_t stream);
Tensors are (batch, seqlen, heads, headdim) with the head dim fixed at compile time,
the other extents int32 and their strides int64 (multiples of 8 elements), base pointers
16-byte aligned. num_sms is the device's SM count: sm_100a's persistent scheduler sizes
its grid by it, which would otherwise be read from the GPU while tracing; variants that
do not use it ignore it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

DTYPES = ("bf16", "fp16")
ARCHS = ("sm_90a", "sm_100a")
# Environment variables of the DSL and FA4 that change what is compiled: never inherited
# by the compile stage, which sets the ones it needs itself.
SCRUBBED_PREFIXES = ("CUTE_DSL_", "FA_", "FLASH_ATTENTION_", "QUACK_")
# The prefill FA4's interface is asked about: its tile, stage, 2-CTA and scheduler choices
# depend on the shape; the exported kernel takes any shape (every extent is dynamic).
REPRESENTATIVE = {"batch": 4, "seqlen": 4096, "nheads_kv": 8}
OUTPUTS = (".o", ".h", ".json")
PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Variant:
    arch: str
    dtype: str
    headdim: int
    causal: bool
    heads_ratio: int
    prefix: str
    selection_sms: int  # the SM count FA4's heuristics assume (FLASH_ATTENTION_NUM_SMS)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(variant: Variant, *, fa4_sha256: str, env_sha256: str) -> str:
    """The content-cache key of one export: what determines its bytes."""
    inputs = {
        "fa4_sha256": fa4_sha256,
        "env_sha256": env_sha256,
        "exporter_sha256": file_sha256(Path(__file__)),
        **asdict(variant),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def complete(directory: Path, prefix: str) -> bool:
    return all((directory / f"{prefix}{ext}").is_file() for ext in OUTPUTS)


def _record_verdict(verdict: str) -> None:
    """ccache's per-invocation stats log format, which tu_monitor.py reads."""
    if log := os.environ.get("CCACHE_STATSLOG"):
        with open(log, "a") as f:
            f.write(verdict + "\n")


def _copy_out(directory: Path, prefix: str, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for ext in OUTPUTS:
        tmp = out_dir / f".{prefix}{ext}.{os.getpid()}.tmp"
        shutil.copyfile(directory / f"{prefix}{ext}", tmp)
        os.replace(tmp, out_dir / f"{prefix}{ext}")


def _compile_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env.pop("CCACHE_STATSLOG", None)
    env["PYTHONHASHSEED"] = "0"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # the FA4 tree in the sources cache stays as unpacked
    return env


def export(args: argparse.Namespace, variant: Variant) -> int:
    out = Path(args.output)
    cache = Path(args.cache)
    key = cache_key(variant, fa4_sha256=args.fa4_sha256, env_sha256=args.env_sha256)
    entry = cache / key
    if complete(entry, variant.prefix):
        _copy_out(entry, variant.prefix, out.parent)
        _record_verdict("direct_cache_hit")
        return 0
    python = Path(args.python)
    if not python.is_file():
        sys.stderr.write(
            f"fa4_export: {variant.prefix} is not in the export cache ({cache}) and the "
            f"FlashAttention-4 tool environment is missing ({python}): run the kernels "
            "build through `python -m buildsys kernels` (nox -s kernels-GROUP), which "
            "creates it\n"
        )
        return 2
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key[:12]}.", dir=cache))
    try:
        # -P: this file's directory is not put on sys.path (its profile.py would shadow the
        # standard library's, which torch imports).
        stage = [str(python), "-P", str(Path(__file__).resolve()), "--stage", "compile"]
        target = ["--source", args.source, "-o", str(work / f"{variant.prefix}.o")]
        cmd = [*stage, *_variant_args(args), *target]
        done = subprocess.run(cmd, env=_compile_env(), cwd=work)
        if done.returncode != 0 or not complete(work, variant.prefix):
            sys.stderr.write(
                f"fa4_export: exporting {variant.prefix} failed (exit {done.returncode})\n"
            )
            return done.returncode or 1
        try:
            os.rename(work, entry)  # atomic: a cache entry that exists is complete
        except OSError:
            if not complete(entry, variant.prefix):  # not a concurrent export of the same key
                raise
        _copy_out(entry, variant.prefix, out.parent)
        _record_verdict("cache_miss")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _variant_args(args: argparse.Namespace) -> list[str]:
    out = ["--arch", args.arch, "--dtype", args.dtype, "--headdim", str(args.headdim)]
    out += ["--heads-ratio", str(args.heads_ratio), "--selection-sms", str(args.selection_sms)]
    return out + (["--causal"] if args.causal else [])


# -- the compile stage: runs in the DSL tool environment -------------------------------------


class _Captured(Exception):
    """Raised by the cute.compile stand-in: what FA4's interface would have compiled."""


def _fa4_choice(variant: Variant) -> tuple[object, tuple, dict]:
    """FA4's kernel object and the arguments its interface would compile it with, for a
    prefill of the variant (FakeTensorMode: no GPU, no memory)."""
    import cutlass.cute as cute
    import torch
    from flash_attn.cute import interface
    from torch._subclasses.fake_tensor import FakeTensorMode

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}[variant.dtype]
    b, s, hkv = REPRESENTATIVE["batch"], REPRESENTATIVE["seqlen"], REPRESENTATIVE["nheads_kv"]
    h = hkv * variant.heads_ratio

    def recorder(*args: object, **kwargs: object) -> None:
        raise _Captured(args, kwargs)

    real = cute.compile
    cute.compile = recorder
    try:
        with FakeTensorMode():
            q = torch.empty(b, s, h, variant.headdim, dtype=dtype, device="cuda")
            k = torch.empty(b, s, hkv, variant.headdim, dtype=dtype, device="cuda")
            v = torch.empty(b, s, hkv, variant.headdim, dtype=dtype, device="cuda")
            interface._flash_attn_fwd(q, k, v, causal=variant.causal)
    except _Captured as captured:
        args, kwargs = captured.args
        return args[0], args[1:], {k: v for k, v in kwargs.items() if k != "options"}
    finally:
        cute.compile = real
    raise RuntimeError("FA4's interface returned without compiling a kernel")


def _call_arguments(kernel: object, args: tuple, kwargs: dict) -> dict[str, object]:
    """The interface's arguments by parameter name, checked to be the dense forward the
    fixed ABI carries: every optional input absent."""
    import inspect

    from flash_attn.cute.utils import AuxData

    bound = inspect.signature(type(kernel).__call__).bind(kernel, *args, **kwargs)
    named = dict(bound.arguments)
    named.pop("self")
    carried = {"mQ", "mK", "mV", "mO", "softmax_scale", "stream", "max_seqlen_q"}
    for name, value in named.items():
        empty = value is None or (
            isinstance(value, AuxData) and not value.tensors and not value.scalars
        )
        if name not in carried and not empty:
            raise RuntimeError(
                f"FA4's interface passes {name}={value!r} for this variant: the exported "
                "entry's fixed ABI (q, k, v, out, scale, SM count, stream) cannot carry it"
            )
    return named


def _positional(fixed: dict[str, object], *traced: object) -> list[object]:
    """The kernel's arguments in its parameter order, the traced ones in their places.
    (Outside the traced entry: the DSL rewrites the control flow of what it traces.)"""
    mq, mk, mv, mo, scale, stream = traced
    values = {**fixed, "mQ": mq, "mK": mk, "mV": mv, "mO": mo}
    values |= {"softmax_scale": scale, "stream": stream}
    return list(values.values())


class _SmCount:
    """Stands in for cutlass.utils.HardwareInfo while tracing: the persistent schedulers
    ask it for the device's SM count, and get the entry's traced num_sms argument."""

    traced = None
    asked = False

    def __init__(self, device_id: int = 0) -> None:
        pass

    def get_device_multiprocessor_count(self) -> object:  # a traced Int32
        _SmCount.asked = True
        return _SmCount.traced


def _stand_in_hardware_info() -> list[tuple[object, object]]:
    """Every loaded module's HardwareInfo replaced by _SmCount; returns what to restore."""
    import cutlass.utils.hardware_info as hardware_info

    real = hardware_info.HardwareInfo
    swapped = []
    for module in list(sys.modules.values()):
        if getattr(module, "HardwareInfo", None) is real:
            swapped.append((module, real))
            module.HardwareInfo = _SmCount
    return swapped


def compile_stage(args: argparse.Namespace, variant: Variant) -> int:
    import warnings

    warnings.filterwarnings("ignore")  # torch without NumPy, FakeTensor data_ptr notices
    os.environ["CUTE_DSL_ARCH"] = variant.arch  # selects the target without a GPU
    os.environ["FLASH_ATTENTION_ARCH"] = variant.arch
    os.environ["FLASH_ATTENTION_NUM_SMS"] = str(variant.selection_sms)
    sys.path.insert(0, args.source)
    start = time.monotonic()
    import cuda.bindings.driver as cuda
    import cutlass
    import cutlass.cute as cute

    kernel, cargs, ckwargs = _fa4_choice(variant)
    named = _call_arguments(kernel, cargs, ckwargs)
    imported = time.monotonic()

    element = {"bf16": cutlass.BFloat16, "fp16": cutlass.Float16}[variant.dtype]
    batch, seqlen_q, seqlen_k = cute.sym_int(), cute.sym_int(), cute.sym_int()
    heads_q, heads_kv = cute.sym_int(), cute.sym_int()

    def tensor(seqlen: object, heads: object) -> object:
        strides = tuple(cute.sym_int64(divisibility=8) for _ in range(3))
        return cute.runtime.make_fake_tensor(
            element, (batch, seqlen, heads, variant.headdim), stride=(*strides, 1), assumed_align=16
        )

    fixed = dict(named)
    if "max_seqlen_q" in fixed:
        fixed["max_seqlen_q"] = None  # read from mQ's shape at run time

    def entry(mQ, mK, mV, mO, softmax_scale, num_sms, stream) -> None:  # noqa: ANN001 (typed below)
        _SmCount.traced = num_sms
        kernel(*_positional(fixed, mQ, mK, mV, mO, softmax_scale, stream))

    # The DSL reads the entry's parameter types from its annotations: real objects here
    # (this module's annotations are strings, which it would evaluate in the wrong scope).
    entry.__annotations__ = {
        "mQ": cute.Tensor,
        "mK": cute.Tensor,
        "mV": cute.Tensor,
        "mO": cute.Tensor,
        "softmax_scale": cutlass.Float32,
        "num_sms": cutlass.Int32,
        "stream": cuda.CUstream,
        "return": None,
    }
    entry = cute.jit(entry)

    swapped = _stand_in_hardware_info()
    try:
        compiled = cute.compile(
            entry,
            tensor(seqlen_q, heads_q),
            tensor(seqlen_k, heads_kv),
            tensor(seqlen_k, heads_kv),
            tensor(seqlen_q, heads_q),
            cutlass.Float32(1.0),
            cutlass.Int32(1),
            cute.runtime.make_fake_stream(),
            options=f"--gpu-arch {variant.arch}",
        )
    finally:
        for module, real in swapped:
            module.HardwareInfo = real
    compiled_at = time.monotonic()
    out = Path(args.output)
    compiled.export_to_c(
        file_path=str(out.parent), file_name=variant.prefix, function_prefix=variant.prefix
    )
    chosen = {
        k: v
        for k, v in sorted(vars(kernel).items())
        if isinstance(v, (bool, int, str))
        or (isinstance(v, tuple) and all(isinstance(x, int) for x in v))
    }
    meta = {
        "variant": asdict(variant),
        "kernel_class": type(kernel).__name__,
        "fa4_config": chosen,
        "uses_num_sms": _SmCount.asked,
        "representative_shape": REPRESENTATIVE,
        "seconds": {
            "import_and_choose": round(imported - start, 2),
            "compile": round(compiled_at - imported, 2),
        },
    }
    (out.parent / f"{variant.prefix}.json").write_text(
        json.dumps(meta, indent=2, sort_keys=True) + "\n"
    )
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--stage", choices=["export", "compile"], default="export")
    p.add_argument("--python", help="the FA4 tool environment's interpreter (export stage)")
    p.add_argument(
        "--source", required=True, help="the unpacked flash-attn-4 (holds flash_attn/cute)"
    )
    p.add_argument("--fa4-sha256", default="", help="the pinned flash-attn-4 file's sha256")
    p.add_argument("--env-sha256", default="", help="the tool environment lock's sha256")
    p.add_argument("--cache", help="the export cache directory (export stage)")
    p.add_argument("--arch", choices=ARCHS, required=True)
    p.add_argument("--dtype", choices=DTYPES, required=True)
    p.add_argument("--headdim", type=int, required=True)
    p.add_argument("--causal", action="store_true")
    p.add_argument("--heads-ratio", type=int, default=1, help="query heads per KV head")
    p.add_argument("--selection-sms", type=int, required=True)
    p.add_argument("-o", dest="output", required=True, help="OUT/PREFIX.o")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    prefix = Path(args.output).name.removesuffix(".o")
    if not args.output.endswith(".o") or not PREFIX.match(prefix):
        sys.stderr.write(
            f"fa4_export: -o must name PREFIX.o with a C identifier as PREFIX: {args.output}\n"
        )
        return 2
    variant = Variant(
        arch=args.arch,
        dtype=args.dtype,
        headdim=args.headdim,
        causal=args.causal,
        heads_ratio=args.heads_ratio,
        prefix=prefix,
        selection_sms=args.selection_sms,
    )
    if args.stage == "compile":
        return compile_stage(args, variant)
    if not (args.python and args.cache and args.fa4_sha256 and args.env_sha256):
        sys.stderr.write(
            "fa4_export: --python, --cache, --fa4-sha256 and --env-sha256 are required\n"
        )
        return 2
    return export(args, variant)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
