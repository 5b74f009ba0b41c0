"""CUDA attention and gemm through torch (and CuPy when installed).

Skipped where torch sees no CUDA device. A CPU-only infercore build is skipped too, unless
INFERCORE_REQUIRE_CUDA=1 (set it on GPU runners, where a CPU-only wheel is a build bug).
References are computed on the GPU by torch in float64 from the same (rounded) inputs.
These tests pin the reference kernels (backend="reference"); tests/gpu/test_fast_kernels.py
covers the compiled fast kernels and the dispatch.
"""

import math
import os

import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA device (torch.cuda.is_available() is False)", allow_module_level=True)

import infercore  # noqa: E402

if not infercore.build_info()["cuda"]["enabled"]:
    if os.environ.get("INFERCORE_REQUIRE_CUDA") == "1":
        raise RuntimeError("INFERCORE_REQUIRE_CUDA=1, but this infercore build is CPU-only")
    pytest.skip("this infercore build is CPU-only", allow_module_level=True)

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
# Relative (Frobenius) error allowed per dtype: float32 accumulation everywhere, so the
# low-precision budgets are the rounding of the output itself.
TOLERANCE = {torch.float32: 1e-5, torch.float16: 2e-3, torch.bfloat16: 1e-2}


def randn(shape, dtype, seed, device="cuda"):
    gen = torch.Generator(device=device).manual_seed(seed)
    return torch.randn(shape, generator=gen, device=device, dtype=torch.float32).to(dtype)


def poisoned(shape, dtype, device="cuda"):
    return torch.full(shape, float("nan"), dtype=dtype, device=device)


def rel_err(out, ref):
    out = out.double()
    return ((out - ref).norm() / ref.norm()).item()


def reference_attention(q, k, v, causal=False, scale=None):
    q, k, v = q.double(), k.double(), v.double()
    _, seqlen_q, nheads, headdim = q.shape
    seqlen_k, nheads_kv = k.shape[1], k.shape[2]
    k = k.repeat_interleave(nheads // nheads_kv, dim=2)
    v = v.repeat_interleave(nheads // nheads_kv, dim=2)
    scale = 1.0 / math.sqrt(headdim) if scale is None else scale
    s = torch.einsum("bihd,bjhd->bhij", q, k) * scale
    if causal:
        i = torch.arange(seqlen_q, device=q.device)[:, None]
        j = torch.arange(seqlen_k, device=q.device)[None, :]
        s = s.masked_fill(j > i + seqlen_k - seqlen_q, float("-inf"))
    p = torch.softmax(s, dim=-1).nan_to_num(0.0)  # a row with no key: all -inf -> NaN -> 0
    return torch.einsum("bhij,bjhd->bihd", p, v)


def reference_gemm(a, b):
    return a.double() @ b.double()


ATTENTION_SHAPES = [
    # batch, seqlen_q, seqlen_k, nheads, nheads_kv, headdim, causal
    (1, 1, 1, 1, 1, 1, False),
    (2, 128, 128, 8, 8, 64, False),
    (2, 128, 128, 8, 8, 64, True),
    (2, 100, 100, 8, 2, 128, True),  # GQA
    (3, 37, 300, 4, 1, 40, False),  # MQA, odd headdim
    (1, 65, 513, 4, 2, 256, True),  # seqlen_q < seqlen_k
    (1, 300, 17, 4, 2, 64, True),  # seqlen_q > seqlen_k: rows that see no key
    (2, 1, 2049, 16, 2, 128, True),  # decode against a long cache
    (1, 3, 5, 2, 2, 512, False),  # headdim beyond the common sizes
]


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize(
    "shape", ATTENTION_SHAPES, ids=lambda s: "b{}q{}k{}h{}kv{}d{}{}".format(*s)
)
def test_attention(shape, dtype):
    batch, seqlen_q, seqlen_k, nheads, nheads_kv, headdim, causal = shape
    seed = sum(shape[:-1])
    q = randn((batch, seqlen_q, nheads, headdim), dtype, seed)
    k = randn((batch, seqlen_k, nheads_kv, headdim), dtype, seed + 1)
    v = randn((batch, seqlen_k, nheads_kv, headdim), dtype, seed + 2)
    ref = reference_attention(q, k, v, causal)

    out = poisoned(q.shape, dtype)
    assert infercore.attention(q, k, v, causal=causal, out=out, backend="reference") is out
    assert torch.isfinite(out).all()
    assert rel_err(out, ref) < TOLERANCE[dtype]

    fresh = infercore.attention(q, k, v, causal=causal, backend="reference")
    assert isinstance(fresh, torch.Tensor)
    assert fresh.shape == q.shape and fresh.dtype == dtype and fresh.device == q.device
    assert rel_err(fresh, ref) < TOLERANCE[dtype]


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
def test_attention_custom_scale_and_zero_rows(dtype):
    q = randn((2, 40, 4, 64), dtype, 1)
    k = randn((2, 30, 2, 64), dtype, 2)
    v = randn((2, 30, 2, 64), dtype, 3)
    out = poisoned(q.shape, dtype)
    infercore.attention(q, k, v, causal=True, scale=0.3, out=out, backend="reference")
    assert (out[:, :10] == 0).all()  # query i < 10 sees no key: FlashAttention's zeros
    assert rel_err(out, reference_attention(q, k, v, True, 0.3)) < TOLERANCE[dtype]


GEMM_SHAPES = [
    (1, 1, 1),
    (127, 129, 131),
    (256, 512, 128),
    (4096, 64, 8),
    (3, 5000, 7),
    (1, 77, 3000),
]


@pytest.mark.parametrize("dtype", DTYPES.values(), ids=DTYPES.keys())
@pytest.mark.parametrize("shape", GEMM_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_gemm(shape, dtype):
    m, k, n = shape
    a = randn((m, k), dtype, m + k)
    b = randn((k, n), dtype, k + n)
    ref = reference_gemm(a, b)
    out = poisoned((m, n), dtype)
    assert infercore.gemm(a, b, out=out) is out
    assert torch.isfinite(out).all()
    assert rel_err(out, ref) < TOLERANCE[dtype]
    fresh = infercore.gemm(a, b)
    assert fresh.dtype == dtype and fresh.device == a.device
    assert rel_err(fresh, ref) < TOLERANCE[dtype]


def test_gemm_zero_inner_dimension():
    a = torch.empty((5, 0), device="cuda")
    b = torch.empty((0, 4), device="cuda")
    out = poisoned((5, 4), torch.float32)
    infercore.gemm(a, b, out=out)
    assert (out == 0).all()


def test_runs_on_the_current_stream():
    a = randn((512, 256), torch.float16, 5)
    b = randn((256, 384), torch.float16, 6)
    q = randn((2, 64, 4, 64), torch.bfloat16, 7)
    kv = randn((2, 80, 2, 64), torch.bfloat16, 8)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        c = infercore.gemm(a, b)
        o = infercore.attention(q, kv, kv, causal=True, backend="reference")
    torch.cuda.current_stream().wait_stream(stream)
    assert rel_err(c, reference_gemm(a, b)) < TOLERANCE[torch.float16]
    assert rel_err(o, reference_attention(q, kv, kv, True)) < TOLERANCE[torch.bfloat16]


def test_kernels_are_captured_in_a_cuda_graph():
    # Capture fails (cudaErrorStreamCaptureImplicit...) for work on any other stream than
    # the capturing one, so this shows that the kernels launch on torch's current stream.
    a = randn((64, 32), torch.float32, 9)
    b = randn((32, 48), torch.float32, 10)
    q = randn((1, 16, 2, 32), torch.float32, 11)
    c = poisoned((64, 48), torch.float32)
    o = poisoned(q.shape, torch.float32)
    infercore.gemm(a, b, out=c)  # warm-up outside the capture
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        infercore.gemm(a, b, out=c)
        infercore.attention(q, q, q, out=o)
    c.fill_(float("nan"))
    o.fill_(float("nan"))
    graph.replay()
    torch.cuda.synchronize()
    assert rel_err(c, reference_gemm(a, b)) < 1e-5
    assert rel_err(o, reference_attention(q, q, q)) < 1e-5


class DLPackOnly:
    """An array of some other library: it only speaks the DLPack protocol."""

    def __init__(self, tensor):
        self._tensor = tensor

    def __dlpack__(self, **kwargs):
        return self._tensor.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._tensor.__dlpack_device__()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
def test_protocol_path_matches_the_torch_fast_path(dtype):
    # torch tensors skip the protocol's stream handshake (to_dlpack on torch's current
    # stream); any other producer takes __dlpack__. Same kernel, same inputs: same bits.
    q = randn((2, 128, 4, 128), dtype, 30)
    k = randn((2, 160, 2, 128), dtype, 31)
    v = randn((2, 160, 2, 128), dtype, 32)
    fast = infercore.attention(q, k, v, causal=True)
    out = poisoned(q.shape, dtype)
    got = infercore.attention(DLPackOnly(q), DLPackOnly(k), DLPackOnly(v), causal=True, out=out)
    torch.cuda.synchronize()
    assert got is out
    assert torch.equal(fast, out)
    a, b = randn((96, 64), dtype, 33), randn((64, 80), dtype, 34)
    c = poisoned((96, 80), dtype)
    infercore.gemm(DLPackOnly(a), b, out=c)
    torch.cuda.synchronize()
    assert torch.equal(infercore.gemm(a, b), c)


def test_tensors_needing_gradients_are_refused():
    # An inference kernel would silently cut the autograd graph: torch's own export refuses,
    # and infercore names the argument (torch's error kept as the cause).
    q = randn((1, 8, 2, 16), torch.float32, 35).requires_grad_()
    with pytest.raises(TypeError, match=r"^q: .*gradient") as info:
        infercore.attention(q, q.detach(), q.detach())
    assert isinstance(
        info.value.__cause__, (RuntimeError, BufferError)
    )  # BufferError: torch >= 2.9
    a = randn((8, 8), torch.float32, 36)
    with pytest.raises(TypeError, match=r"^out: .*gradient"):
        infercore.gemm(a, a, out=torch.empty_like(a).requires_grad_())


def test_mixed_devices_are_rejected():
    q = randn((1, 8, 2, 16), torch.float32, 12)
    with pytest.raises(TypeError, match=r"^k: expected a tensor on cuda:0 like q, got one on cpu"):
        infercore.attention(q, q.cpu(), q)
    with pytest.raises(
        TypeError, match=r"^out: expected a tensor on cuda:0 like a, got one on cpu"
    ):
        infercore.gemm(q[0, 0], q[0, 0].T.contiguous(), out=torch.empty(2, 2))
    with pytest.raises(TypeError, match=r"^b: expected a tensor on cpu like a, got one on cuda:0"):
        infercore.gemm(q[0, 0].cpu(), q[0, 0].T.contiguous())


def test_dtypes_must_match():
    q = randn((1, 8, 2, 16), torch.float16, 13)
    with pytest.raises(TypeError, match=r"^v: expected dtype float16 like q, got bfloat16"):
        infercore.attention(q, q, q.bfloat16())
    with pytest.raises(TypeError, match=r"^out: expected dtype float16 like q, got float32"):
        infercore.attention(q, q, q, out=torch.empty(q.shape, device="cuda"))


def test_headdim_limit_of_the_cuda_kernel():
    q = torch.empty((1, 1, 1, 4097), device="cuda")
    with pytest.raises(ValueError, match=r"^q: headdim 4097 exceeds the CUDA kernel's limit"):
        infercore.attention(q, q, q)


def test_non_contiguous_cuda_tensor():
    q = randn((1, 8, 4, 16), torch.float32, 14).transpose(1, 2)
    with pytest.raises(ValueError, match=r"^q: expected a contiguous .*\.contiguous\(\)"):
        infercore.attention(q, q, q)


def test_current_device_is_left_alone():
    before = torch.cuda.current_device()
    a = randn((16, 16), torch.float32, 15)
    infercore.gemm(a, a)
    assert torch.cuda.current_device() == before


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
def test_second_device():
    a = randn((70, 50), torch.float16, 16, device="cuda:1")
    b = randn((50, 30), torch.float16, 17, device="cuda:1")
    c = infercore.gemm(a, b)
    assert c.device == a.device
    assert torch.cuda.current_device() == 0
    assert rel_err(c, reference_gemm(a, b)) < TOLERANCE[torch.float16]


def test_build_info_sees_the_devices():
    from infercore import _core

    info = infercore.build_info()
    assert info["runtime"]["cuda_device_count"] == torch.cuda.device_count()
    major, minor = torch.cuda.get_device_capability(0)
    assert _core.cuda_compute_capability(0) == major * 10 + minor
    with pytest.raises(ValueError, match=r"^device: expected a CUDA device index from 0 to"):
        _core.cuda_compute_capability(torch.cuda.device_count())


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_cupy_arrays(dtype):
    cupy = pytest.importorskip("cupy")
    rng = cupy.random.default_rng(18)
    a = rng.standard_normal((65, 33), dtype=cupy.float32).astype(dtype)
    b = rng.standard_normal((33, 17), dtype=cupy.float32).astype(dtype)
    with cupy.cuda.Stream():
        c = infercore.gemm(a, b)
        c_ref = a.astype(cupy.float64) @ b.astype(cupy.float64)
    assert isinstance(c, cupy.ndarray) and c.dtype == a.dtype
    err = float(cupy.linalg.norm(c.astype(cupy.float64) - c_ref) / cupy.linalg.norm(c_ref))
    assert err < TOLERANCE[DTYPES[dtype]]
