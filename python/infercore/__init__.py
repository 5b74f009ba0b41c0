"""infercore: a small LLM-inference engine core (attention and gemm) for CPU and CUDA.

Tensors cross into the compiled core through DLPack, so NumPy arrays, torch tensors and CuPy
arrays all work, with no dependency on any of them; results come back as the type of the first
input. CPU tensors must be float32; CUDA tensors may be float32, float16 or bfloat16.

The CPU path uses INFERCORE_NUM_THREADS threads (default: the hardware concurrency) and picks
AVX2+FMA code when the CPU has it; INFERCORE_CPU_ISA=baseline forces the portable code. Both
variables are read once, at the first CPU op.
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any, TypeVar

from infercore import _arrays, _core

__version__: str = _core.__version__

__all__ = ["__version__", "attention", "attention_backend", "build_info", "gemm"]

ArrayT = TypeVar("ArrayT")

_ATTENTION_BACKENDS = ("auto", "reference", "fa2", "fmha-sm90", "fa3", "fa4")
_GEMM_BACKENDS = ("auto", "reference", "cutlass-sm90")
_DTYPES = ("bfloat16", "bf16", "float16", "fp16", "float32", "fp32")
_INT32_MAX = 2**31 - 1


def _names(names: tuple[str, ...]) -> str:
    return ", ".join(repr(n) for n in names)


def _type_name(value: Any) -> str:
    return type(value).__name__


def _is_bool(value: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return isinstance(value, bool) or (numpy is not None and isinstance(value, numpy.bool_))


def _check_bool(name: str, value: Any) -> bool:
    if not _is_bool(value):
        raise TypeError(f"{name}: expected a bool (True or False), got {_type_name(value)}")
    return bool(value)


def _check_scale(scale: Any) -> float | None:
    if scale is None:
        return None
    if _is_bool(scale) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale: expected a number or None, got {_type_name(scale)}")
    try:
        value = float(scale)
    except OverflowError:
        raise ValueError(
            "scale: expected a finite number, got an int beyond float's range"
        ) from None
    if not math.isfinite(value):
        raise ValueError(f"scale: expected a finite number, got {scale!r}")
    return value


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise TypeError(
            f"{name}: expected a str, one of {_names(choices)}, got {_type_name(value)}"
        )
    if value not in choices:
        raise ValueError(f"{name}: expected one of {_names(choices)}, got {value!r}")
    return str(value)


def _check_int(name: str, value: Any, minimum: int) -> int:
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {_type_name(value)}")
    number = int(value)
    if not minimum <= number <= _INT32_MAX:
        raise ValueError(f"{name}: expected an int from {minimum} to {_INT32_MAX}, got {number}")
    return number


def attention(
    q: ArrayT,
    k: Any,
    v: Any,
    *,
    causal: bool = False,
    scale: float | None = None,
    out: ArrayT | None = None,
    backend: str = "auto",
) -> ArrayT:
    """Scaled dot-product attention, softmax(q k^T * scale) v, in FlashAttention's layout.

    Args:
        q: (batch, seqlen_q, nheads, headdim).
        k, v: (batch, seqlen_k, nheads_kv, headdim), where nheads_kv divides nheads; query
            head h attends with key/value head h // (nheads // nheads_kv) (GQA, MQA).
        causal: query i sees key j only when j <= i + seqlen_k - seqlen_q, i.e. the last
            query is aligned with the last key. When seqlen_q > seqlen_k the first
            seqlen_q - seqlen_k query rows see no key at all; like FlashAttention, their
            output rows are zeros.
        scale: the factor applied to q k^T; default 1 / sqrt(headdim).
        out: where to write the result: contiguous, with q's shape, dtype and device.
            Default: a new array of q's type.
        backend: which kernel runs a CUDA call. "auto" (default) picks by GPU and by what
            this build compiled (see :func:`attention_backend`): on sm_100 "fa4"
            (FlashAttention-4), then "fa2"; on sm_90 "fmha-sm90" (CUTLASS Hopper FMHA) or
            "fa4" as the dispatcher's per-shape Hopper rules say (build_info()["kernels"]
            ["hopper_rules"]: fa4 for head dim 128 from 512 query rows, measured on an H200),
            then "fa2" (FlashAttention-2, sm_80 and newer); else the "reference" kernel with
            a RuntimeWarning. On sm_90, shapes whose FMHA grid would leave SMs idle (decode
            steps, small batches) run "fa2" when its split-KV kernels are compiled. fa4 runs
            only the head ratios (nheads / nheads_kv) it was compiled for
            (build_info()["kernels"]); others take the next backend. float32 always runs
            "reference". Naming a backend forces it; "reference" is the slow, simple
            yardstick.

    Returns:
        `out`, or the new array, of q's shape. All tensors must be contiguous and on one
        device. CUDA tensors are processed on the caller's current torch/CuPy stream.

    Raises:
        TypeError: an argument is not a DLPack array (or its producer's __dlpack__ failed,
            chained as __cause__), or has the wrong dtype or device; causal is not a bool,
            scale not a real number or None, backend not a str.
        ValueError: shapes or layouts do not fit together, a dimension exceeds int32 or the
            byte size int64, a non-empty array has no data pointer; scale is not finite;
            backend is not one of the names above; or a half-precision head dim,
            dtype or causal flag this build did not compile for the GPU (the message lists
            what the build contains; build_info()["kernels"] too).
    """
    causal = _check_bool("causal", causal)
    scale = _check_scale(scale)
    backend = _check_choice("backend", backend, _ATTENTION_BACKENDS)
    with _arrays.cuda_call(q, k, v, out) as call:
        return _core.attention(
            q, k, v, causal, scale, out, call.stream, _arrays.empty, backend, call.exporter
        )


def attention_backend(
    device: Any = 0,
    *,
    dtype: str = "bfloat16",
    headdim: int = 128,
    causal: bool = False,
    seqlen_q: int = 4096,
    seqlen_k: int | None = None,
    nheads: int = 32,
    nheads_kv: int | None = None,
    batch: int = 1,
) -> str:
    """The backend :func:`attention` picks with backend="auto" on a CUDA device.

    `device` is an index, "cuda:N", or a torch.device. The shape defaults to a prefill
    that fills the GPU; pass a decode step's (seqlen_q=1, seqlen_k=cache length, batch)
    to see its choice: where the Hopper FMHA's grid would leave SMs idle and FA2 has
    split-KV kernels, "fa2" runs. Returns "fa4", "fmha-sm90", "fa2" or "reference"; raises
    ValueError for a combination the build has no kernel for (the message lists what it
    has), RuntimeError without a CUDA device.
    """
    if not isinstance(dtype, str):
        dtype = str(dtype)  # a torch.dtype
        if not dtype.startswith("torch."):
            raise TypeError(
                f"dtype: expected a str, one of {_names(_DTYPES)}, or a torch.dtype, got {dtype!r}"
            )
    dtype = _check_choice("dtype", dtype.removeprefix("torch."), _DTYPES)
    seqlen_q = _check_int("seqlen_q", seqlen_q, 1)
    nheads = _check_int("nheads", nheads, 1)
    return _core.attention_backend(
        _arrays.device_index(device),
        dtype,
        _check_int("headdim", headdim, 1),
        _check_bool("causal", causal),
        seqlen_q,
        seqlen_q if seqlen_k is None else _check_int("seqlen_k", seqlen_k, 0),
        nheads,
        nheads if nheads_kv is None else _check_int("nheads_kv", nheads_kv, 1),
        _check_int("batch", batch, 1),
    )


def gemm(a: ArrayT, b: Any, *, out: ArrayT | None = None, backend: str = "auto") -> ArrayT:
    """The matrix product a @ b of row-major a (M, K) and b (K, N), as an (M, N) array.

    `out`, if given, must be a contiguous (M, N) array of a's dtype and device; otherwise a new
    array of a's type is returned. backend: "auto" runs the CUTLASS Hopper GEMM
    ("cutlass-sm90") for bfloat16 on sm_90 when compiled and the shape allows it (K and N
    multiples of 8), else the "reference" kernel. Errors are reported as for :func:`attention`.
    """
    backend = _check_choice("backend", backend, _GEMM_BACKENDS)
    with _arrays.cuda_call(a, b, out) as call:
        return _core.gemm(a, b, out, call.stream, _arrays.empty, backend, call.exporter)


def build_info() -> dict[str, Any]:
    """What this build contains (version, compiler and CUDA settings, GPU archs; under
    "kernels", the fast-kernel libraries, every compiled attention and gemm kernel, and
    "hopper_rules": which of fa4 and fmha-sm90 "auto" runs on Hopper where both take a call,
    first matching rule wins, none: fmha-sm90) and, under "runtime", facts of this machine
    (visible CUDA devices, CPU code path and threads).
    "sbom": the path of the installed wheel's CycloneDX SBOM (.dist-info/sboms/, PEP 770),
    or None where the installed distribution carries none (a plain `pip install .`);
    "build_image": the image it was built in, by reference and digest, as its SBOM records
    it (None for a host build or without an SBOM)."""
    info = _core.build_info()
    info["sbom"] = _sbom_path()
    info["build_image"] = _sbom_build_image(info["sbom"])
    return info


def _sbom_build_image(sbom: str | None) -> str | None:
    import json

    if sbom is None:
        return None
    with open(sbom, encoding="utf-8") as f:
        properties = json.load(f).get("metadata", {}).get("properties", [])
    return next((p["value"] for p in properties if p["name"] == "infercore:build-image"), None)


def _sbom_path() -> str | None:
    from importlib import metadata

    try:
        files = metadata.distribution("infercore").files or []
    except metadata.PackageNotFoundError:  # imported from a source tree
        return None
    for f in files:
        if f.name == "infercore.cdx.json" and f.parent.name == "sboms":
            return str(f.locate())
    return None
