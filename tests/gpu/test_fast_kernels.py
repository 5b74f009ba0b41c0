"""Every compiled fast kernel (FlashAttention-2, CUTLASS Hopper FMHA and GEMM, FlashAttention-4)
on a real GPU.

The kernels come from build_info()["kernels"], so this checks exactly what the build's kernel
profile compiled: each combination that runs on this GPU, forced by name (backend=), against
the float32 reference computed on the GPU by infercore's reference kernel, with fresh random
inputs (never zeros) and the output poisoned with NaN first. An FA4 variant is compiled for
one head ratio (nheads / nheads_kv), so it gets the same kinds of shapes (square, uneven,
decode, ragged, more queries than keys; grouped-query where its ratio is above 1) at its
ratio. Then the dispatch: what "auto" picks on this GPU, and the error for a combination
the build does not have.
"""

import math
import os

import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("needs a CUDA device (torch.cuda.is_available() is False)", allow_module_level=True)

import infercore  # noqa: E402

INFO = infercore.build_info()
if not INFO["cuda"]["enabled"]:
    if os.environ.get("INFERCORE_REQUIRE_CUDA") == "1":
        raise RuntimeError("INFERCORE_REQUIRE_CUDA=1, but this infercore build is CPU-only")
    pytest.skip("this infercore build is CPU-only", allow_module_level=True)

MAJOR, MINOR = torch.cuda.get_device_capability(0)
CC = MAJOR * 10 + MINOR
DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}
# Max |out - ref| allowed, relative to max |ref| (outputs are averages of N(0,1) values):
# the rounding of a half-precision output plus the kernels' fast exp2 arithmetic.
TOLERANCE = {torch.bfloat16: 2e-2, torch.float16: 4e-3}


def on_this_gpu(kernels):
    return [k for k in kernels if k["cc_min"] <= CC <= k["cc_max"]]


ATTENTION = on_this_gpu(INFO["kernels"]["attention"])
GEMM = on_this_gpu(INFO["kernels"]["gemm"])


def kernel_id(k):
    ratio = f"-gqa{k['heads_ratio']}" if k.get("heads_ratio") else ""
    causal = "causal" if k["causal"] else "full"
    return "{backend}-{dtype}-d{headdim}-{c}{r}".format(**k, c=causal, r=ratio)


def randn(shape, dtype, seed):
    gen = torch.Generator(device="cuda").manual_seed(seed)
    return torch.randn(shape, generator=gen, device="cuda", dtype=torch.float32).to(dtype)


def max_rel_err(out, ref):
    return ((out.float() - ref).abs().max() / ref.abs().max().clamp_min(1e-6)).item()


# batch, seqlen_q, seqlen_k, nheads, nheads_kv: square, GQA, uneven, decode, ragged lengths,
# more queries than keys (the first rows see no key under the causal mask: zeros).
SHAPES = [
    (2, 256, 256, 8, 8),
    (2, 384, 384, 16, 4),
    (1, 128, 640, 8, 2),
    (4, 1, 1000, 8, 1),
    (1, 77, 211, 4, 4),
    (1, 300, 120, 4, 2),
]


def fa4_shapes(ratio):
    """SHAPES' kinds at one head ratio: (batch, seqlen_q, seqlen_k, nheads, nheads_kv)."""
    kinds = [(2, 256, 256, 4), (2, 384, 384, 2), (1, 128, 640, 2), (4, 1, 1000, 1), (1, 77, 211, 4)]
    kinds.append((1, 300, 120, 2))  # more queries than keys
    return [(b, sq, sk, hkv * ratio, hkv) for b, sq, sk, hkv in kinds]


def shapes_for(kernel):
    return fa4_shapes(kernel["heads_ratio"]) if kernel.get("heads_ratio") else SHAPES


def shape_id(s):
    return "b{}q{}k{}h{}kv{}".format(*s)


CASES = [
    pytest.param(k, s, id=f"{kernel_id(k)}-{shape_id(s)}") for k in ATTENTION for s in shapes_for(k)
]


@pytest.mark.skipif(not ATTENTION, reason=f"this build has no fast attention kernel for sm_{CC}")
@pytest.mark.parametrize(("kernel", "shape"), CASES)
def test_attention_kernel_matches_reference(kernel, shape):
    batch, seqlen_q, seqlen_k, nheads, nheads_kv = shape
    dtype, d, causal = DTYPES[kernel["dtype"]], kernel["headdim"], kernel["causal"]
    seed = hash((shape, d, causal)) % 2**31
    q = randn((batch, seqlen_q, nheads, d), dtype, seed)
    k = randn((batch, seqlen_k, nheads_kv, d), dtype, seed + 1)
    v = randn((batch, seqlen_k, nheads_kv, d), dtype, seed + 2)
    ref = infercore.attention(q.float(), k.float(), v.float(), causal=causal, backend="reference")
    out = torch.full_like(q, float("nan"))
    try:
        infercore.attention(q, k, v, causal=causal, out=out, backend=kernel["backend"])
    except ValueError as err:  # a shape the kernel declines (its supports() said no)
        assert "cannot take this shape" in str(err)
        pytest.skip(f"{kernel['backend']} declines this shape: {err}")
    torch.cuda.synchronize()
    assert torch.isfinite(out).all(), "the kernel left NaN (unwritten) output"
    assert max_rel_err(out, ref) < TOLERANCE[dtype]
    if causal and seqlen_q > seqlen_k:
        assert (out[:, : seqlen_q - seqlen_k] == 0).all()


SPLIT_KV = [k for k in ATTENTION if k["split_kv"]]
# batch, seqlen_q, seqlen_k, nheads, nheads_kv: too few (batch, head, 64-row) blocks to fill
# the GPU, so FA2 splits the KV sequence (and combines the partial results): a chunk of a
# long prompt, a ragged one (seqlen_k not a multiple of the KV tile), and decode steps
# (non-causal kernels: FA2 runs a single query row non-causally), GQA among them.
SPLIT_SHAPES = [
    (1, 64, 8192, 4, 4),
    (2, 64, 3001, 8, 2),
    (1, 1, 8192, 32, 8),
    (3, 1, 777, 8, 8),
]
SPLIT_CASES = [
    pytest.param(k, s, id=f"{kernel_id(k)}-b{s[0]}q{s[1]}k{s[2]}h{s[3]}kv{s[4]}")
    for k in SPLIT_KV
    for s in SPLIT_SHAPES
    if s[1] > 1 or not k["causal"]
]


def cuda_kernel_names(fn):
    """Names of the CUDA kernels fn() launched (torch.profiler, through CUPTI)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    return [e.name for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]


@pytest.mark.skipif(not SPLIT_KV, reason="this build has no split-KV kernels for this GPU")
@pytest.mark.parametrize(("kernel", "shape"), SPLIT_CASES)
def test_split_kv_matches_reference_and_splits(kernel, shape):
    batch, seqlen_q, seqlen_k, nheads, nheads_kv = shape
    dtype, d, causal = DTYPES[kernel["dtype"]], kernel["headdim"], kernel["causal"]
    seed = hash((shape, d, causal, "split")) % 2**31
    q = randn((batch, seqlen_q, nheads, d), dtype, seed)
    k = randn((batch, seqlen_k, nheads_kv, d), dtype, seed + 1)
    v = randn((batch, seqlen_k, nheads_kv, d), dtype, seed + 2)
    ref = infercore.attention(q.float(), k.float(), v.float(), causal=causal, backend="reference")
    out = torch.full_like(q, float("nan"))
    names = cuda_kernel_names(
        lambda: infercore.attention(q, k, v, causal=causal, out=out, backend="fa2")
    )
    assert torch.isfinite(out).all(), "the kernel left NaN (unwritten) output"
    assert max_rel_err(out, ref) < TOLERANCE[dtype]
    if not names:
        pytest.skip("the profiler saw no CUDA kernels here (no CUPTI): the split is unproven")
    assert any("splitkv_combine" in n for n in names), names


@pytest.mark.skipif(CC != 90, reason="the decode rule concerns the Hopper FMHA")
def test_decode_on_hopper_runs_split_kv_fa2():
    both = {
        (k["dtype"], k["headdim"])
        for k in SPLIT_KV
        if not k["causal"]
        and any(
            f["backend"] == "fmha-sm90" and (f["dtype"], f["headdim"]) == (k["dtype"], k["headdim"])
            for f in ATTENTION
        )
    }
    if not both:
        pytest.skip("this build has no combination with both fmha-sm90 and split-KV fa2")
    dtype, d = sorted(both)[0]
    decode = {"dtype": dtype, "headdim": d, "seqlen_q": 1, "seqlen_k": 8192, "nheads": 32}
    assert infercore.attention_backend(0, **decode, nheads_kv=8, batch=1) == "fa2"
    # 4096 rows x 32 heads: the FMHA's grid fills the GPU (or the Hopper rules give fa4).
    assert infercore.attention_backend(0, dtype=dtype, headdim=d) == expected_auto(dtype, d, False)


@pytest.mark.skipif(not GEMM, reason=f"this build has no fast gemm kernel for sm_{CC}")
@pytest.mark.parametrize("kernel", GEMM, ids=lambda k: f"{k['backend']}-{k['dtype']}")
@pytest.mark.parametrize("mkn", [(256, 512, 128), (1000, 520, 4104), (8, 4096, 64), (4096, 8, 16)])
def test_gemm_kernel_matches_reference(kernel, mkn):
    m, k, n = mkn
    dtype = DTYPES[kernel["dtype"]]
    a, b = randn((m, k), dtype, m + k), randn((k, n), dtype, k + n)
    ref = a.float() @ b.float()
    out = torch.full((m, n), float("nan"), dtype=dtype, device="cuda")
    infercore.gemm(a, b, out=out, backend=kernel["backend"])
    torch.cuda.synchronize()
    assert torch.isfinite(out).all()
    # Products of N(0,1) entries summed over k: relative to the output's scale.
    assert max_rel_err(out, ref) < TOLERANCE[dtype]


def hopper_choice(causal, seqlen_q, headdim):
    """Which of fa4 and fmha-sm90 the Hopper rules give a call (build_info's copy of
    dispatch.h's table; matched here independently of the dispatcher)."""
    for r in infercore.build_info()["kernels"]["hopper_rules"]:
        if r["causal"] is not None and r["causal"] != causal:
            continue
        if seqlen_q < r["min_seqlen_q"]:
            continue
        if r["max_seqlen_q"] is not None and seqlen_q > r["max_seqlen_q"]:
            continue
        if r["headdim"] is not None and r["headdim"] != headdim:
            continue
        return r["backend"]
    return "fmha-sm90"


def expected_auto(dtype, headdim, causal, seqlen_q=4096):
    """What "auto" runs for a multi-head prefill that fills the GPU (attention_backend's
    default shape): on Hopper fa4 and the CUTLASS FMHA in the order the Hopper rules give,
    then fa2; elsewhere fa4 (a multi-head variant), then fa2."""
    if CC == 90:
        first = hopper_choice(causal, seqlen_q, headdim)
        order = (first, "fmha-sm90" if first == "fa4" else "fa4", "fa2")
    else:
        order = ("fa4", "fa2")
    for backend in order:
        for k in ATTENTION:
            if (k["backend"], k["dtype"], k["headdim"], k["causal"]) == (
                backend,
                dtype,
                headdim,
                causal,
            ) and k.get("heads_ratio") in (None, 1):
                return backend
    return None


@pytest.mark.parametrize("kernel", ATTENTION, ids=kernel_id)
def test_auto_dispatch_follows_the_backend_order(kernel):
    args = {"dtype": kernel["dtype"], "headdim": kernel["headdim"], "causal": kernel["causal"]}
    chosen = infercore.attention_backend(0, **args)  # a prefill that fills the GPU
    assert chosen == expected_auto(**args)


FA4 = [k for k in ATTENTION if k["backend"] == "fa4"]


@pytest.mark.skipif(CC != 100, reason="the Blackwell order concerns sm_100")
def test_blackwell_runs_fa4_first():
    if not FA4:
        pytest.fail("this build has no fa4 kernel for sm_100: the sm100 kernel library is missing")
    k = next(k for k in FA4 if k["heads_ratio"] == 1)
    args = {"dtype": k["dtype"], "headdim": k["headdim"], "causal": k["causal"]}
    assert infercore.attention_backend(0, **args) == "fa4"


@pytest.mark.skipif(not FA4, reason=f"this build has no fa4 kernel for sm_{CC}")
def test_fa4_takes_only_its_compiled_head_ratios():
    k = FA4[0]
    compiled = {
        f["heads_ratio"]
        for f in FA4
        if (f["dtype"], f["headdim"], f["causal"]) == (k["dtype"], k["headdim"], k["causal"])
    }
    ratio = next(r for r in (3, 5, 6, 7, 2, 16) if r not in compiled)
    dtype = DTYPES[k["dtype"]]
    q = randn((1, 64, 2 * ratio, k["headdim"]), dtype, 11)
    kv = randn((1, 64, 2, k["headdim"]), dtype, 12)
    with pytest.raises(ValueError, match=r"cannot take this shape.*q/kv heads"):
        infercore.attention(q, kv, kv, causal=k["causal"], backend="fa4")
    # "auto" runs the next backend instead.
    out = infercore.attention(q, kv, kv, causal=k["causal"])
    assert torch.isfinite(out).all()


@pytest.mark.skipif(not FA4, reason=f"this build has no fa4 kernel for sm_{CC}")
def test_fa4_replays_in_a_cuda_graph():
    """After a first call (which loads the variant's module), an fa4 call is captured in a
    CUDA graph and every replay writes the right output."""
    k = FA4[0]
    dtype, d, ratio = DTYPES[k["dtype"]], k["headdim"], k["heads_ratio"]
    q = randn((2, 256, 4 * ratio, d), dtype, 21)
    kv = [randn((2, 256, 4, d), dtype, 22 + i) for i in range(2)]
    out = torch.empty_like(q)
    infercore.attention(q, *kv, causal=k["causal"], out=out, backend="fa4")
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        infercore.attention(q, *kv, causal=k["causal"], out=out, backend="fa4")
    out.fill_(float("nan"))
    graph.replay()
    torch.cuda.synchronize()
    ref = infercore.attention(
        q.float(), *(x.float() for x in kv), causal=k["causal"], backend="reference"
    )
    assert torch.isfinite(out).all() and max_rel_err(out, ref) < TOLERANCE[dtype]


@pytest.mark.skipif(CC != 90, reason="the Hopper FMHA runs on sm_90 only")
def test_h200_dispatch_picks_a_hopper_kernel():
    """A prefill on the H200 runs a Hopper kernel: fmha-sm90, or fa4 where the Hopper rules
    give it the shape (build_info()["kernels"]["hopper_rules"])."""
    fmha = [k for k in ATTENTION if k["backend"] == "fmha-sm90"]
    if not fmha:
        pytest.fail("this build has no fmha-sm90 kernel: the sm90 kernel library is missing")
    for k in fmha:
        args = {"dtype": k["dtype"], "headdim": k["headdim"], "causal": k["causal"]}
        chosen = infercore.attention_backend("cuda:0", **args)
        assert chosen in ("fmha-sm90", "fa4") and chosen == expected_auto(**args), (k, chosen)


@pytest.mark.skipif(not ATTENTION, reason=f"this build has no fast attention kernel for sm_{CC}")
def test_uncompiled_combination_is_a_clear_error():
    compiled = {k["headdim"] for k in ATTENTION}
    missing = next(d for d in (96, 160, 192, 224, 32) if d not in compiled)
    q = randn((1, 16, 2, missing), torch.bfloat16, 3)
    with pytest.raises(ValueError, match=rf"no kernel for bf16 head dim {missing} .*It contains: "):
        infercore.attention(q, q, q)
    with pytest.raises(ValueError, match="backend='reference'"):
        infercore.attention_backend(0, dtype="bfloat16", headdim=missing)
    # The slow path stays available on request.
    out = infercore.attention(q, q, q, backend="reference")
    assert torch.isfinite(out).all()


def test_float32_runs_the_reference_kernel_without_warning(recwarn):
    q = randn((1, 16, 2, 64), torch.float32, 4)
    infercore.attention(q, q, q)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert infercore.attention_backend(0, dtype="float32", headdim=64) == "reference"
    with pytest.raises(ValueError, match="float32 runs the reference kernel"):
        infercore.attention(q, q, q, backend="fa2")


def test_unknown_backend_name():
    q = randn((1, 16, 2, 64), torch.bfloat16, 5)
    with pytest.raises(ValueError, match=r"backend: expected one of .*'fmha-sm90'.*got 'flash'"):
        infercore.attention(q, q, q, backend="flash")


def test_build_info_lists_libraries_and_slots():
    kernels = INFO["kernels"]
    planned = " ".join(kernels["planned"])
    assert "fa3" in planned and "fa4" not in planned  # fa4 is built, fa3 a named slot
    for k in kernels["attention"]:
        assert k["backend"] in ("fa2", "fmha-sm90", "fa4")
        assert k["library"] in {lib.split(":")[0] for lib in kernels["libraries"]}
        assert (k["heads_ratio"] is None) == (k["backend"] != "fa4")
    assert math.isfinite(CC)


@pytest.mark.skipif(not ATTENTION, reason=f"this build has no fast attention kernel for sm_{CC}")
def test_a_batch_beyond_the_grid_limit_is_a_clear_error_not_a_failed_launch():
    """FA2 and the Hopper FMHA put batch in grid y (at most 65535): a larger batch must not
    reach them. Both "auto" and a forced fast backend say so (the message names the
    reference kernel), and the reference kernel computes it."""
    k = next((k for k in ATTENTION if not k["causal"]), ATTENTION[0])
    dtype = DTYPES[k["dtype"]]
    batch = 65536
    q = randn((batch, 1, 1, k["headdim"]), dtype, 6)
    kv = randn((batch, 2, 1, k["headdim"]), dtype, 7)
    shape = {"seqlen_q": 1, "seqlen_k": 2, "nheads": 1, "nheads_kv": 1, "batch": batch}
    with pytest.raises(ValueError, match=r"cannot take this shape.*backend='reference'"):
        infercore.attention_backend(0, dtype=k["dtype"], headdim=k["headdim"], **shape)
    for backend in ("auto", k["backend"]):
        with pytest.raises(ValueError, match="backend='reference'"):
            infercore.attention(q, kv, kv, causal=False, backend=backend)
    out = infercore.attention(q, kv, kv, causal=False, backend="reference")
    assert torch.isfinite(out.float()).all()
