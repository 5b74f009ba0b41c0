"""Bad input raises TypeError or ValueError naming the argument, what it got and what fits."""

import re

import infercore
import numpy as np
import pytest

RNG = np.random.default_rng(2024)


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def qkv(batch=2, seqlen_q=16, seqlen_k=16, nheads=8, nheads_kv=2, headdim=64):
    return (
        randn(batch, seqlen_q, nheads, headdim),
        randn(batch, seqlen_k, nheads_kv, headdim),
        randn(batch, seqlen_k, nheads_kv, headdim),
    )


def test_q_rank():
    _, k, v = qkv()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "q: expected 4 dimensions (batch, seqlen_q, nheads, headdim), got 3 with shape "
            "(2, 16, 64)"
        ),
    ):
        infercore.attention(randn(2, 16, 64), k, v)


def test_k_rank():
    q, _, v = qkv()
    with pytest.raises(
        ValueError,
        match=re.escape(
            "k: expected 4 dimensions (batch, seqlen_k, nheads_kv, headdim), got 3 with shape "
            "(2, 16, 64)"
        ),
    ):
        infercore.attention(q, randn(2, 16, 64), v)


def test_v_rank():
    q, k, _ = qkv()
    with pytest.raises(ValueError, match=r"^v: expected 4 dimensions .* got 5 with shape"):
        infercore.attention(q, k, randn(2, 16, 2, 64, 1))


def test_gemm_ranks():
    with pytest.raises(ValueError, match=re.escape("a: expected 2 dimensions (M, K), got 1")):
        infercore.gemm(randn(5), randn(5, 3))
    with pytest.raises(ValueError, match=re.escape("b: expected 2 dimensions (K, N), got 3")):
        infercore.gemm(randn(4, 5), randn(5, 3, 1))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda q, k, v: (q, randn(3, 16, 2, 64), v), r"^k: expected batch 2 like q, got shape"),
        (lambda q, k, v: (q, randn(2, 16, 2, 32), v), r"^k: expected headdim 64 like q"),
        (
            lambda q, k, v: (q, randn(2, 16, 3, 64), randn(2, 16, 3, 64)),
            r"^k: nheads_kv must be at least 1 and divide nheads = 8 of q, got shape "
            r"\(2, 16, 3, 64\)",
        ),
        (
            lambda q, k, v: (q, randn(2, 16, 0, 64), randn(2, 16, 0, 64)),
            r"^k: nheads_kv must be at least 1",
        ),
        (
            lambda q, k, v: (q, k, randn(2, 17, 2, 64)),
            re.escape("v: expected the shape of k (2, 16, 2, 64), got (2, 17, 2, 64)"),
        ),
        (
            lambda q, k, v: (randn(2, 16, 0, 64), k, v),
            r"^q: nheads must be at least 1, got shape \(2, 16, 0, 64\)",
        ),
        (
            lambda q, k, v: (randn(2, 16, 8, 0), randn(2, 16, 2, 0), randn(2, 16, 2, 0)),
            r"^q: headdim must be at least 1",
        ),
        (
            lambda q, k, v: (q, randn(2, 0, 2, 64), randn(2, 0, 2, 64)),
            r"^k: seqlen_k must be at least 1",
        ),
    ],
    ids=[
        "batch",
        "headdim",
        "nheads_kv-divides",
        "nheads_kv-zero",
        "v-shape",
        "nheads-zero",
        "headdim-zero",
        "seqlen_k-zero",
    ],
)
def test_attention_shapes(make, message):
    with pytest.raises(ValueError, match=message):
        infercore.attention(*make(*qkv()))


def test_gemm_inner_dimensions():
    with pytest.raises(
        ValueError,
        match=re.escape("b: expected 5 rows to match a of shape (4, 5) (M, K), got shape (6, 3)"),
    ):
        infercore.gemm(randn(4, 5), randn(6, 3))


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.int32])
def test_k_dtype_must_match_q(dtype):
    q, k, v = qkv()
    if dtype == np.float16:
        message = r"^k: expected dtype float32 like q, got float16"
    else:
        message = rf"^k: unsupported dtype {np.dtype(dtype).name}; infercore supports float32"
    with pytest.raises(TypeError, match=message):
        infercore.attention(q, k.astype(dtype), v)


def test_cpu_supports_float32_only():
    q, k, v = (x.astype(np.float16) for x in qkv())
    with pytest.raises(
        TypeError,
        match=r"^q: the CPU implementation supports float32 only, got float16; convert with "
        r"\.float\(\) \(torch\) or \.astype\(numpy\.float32\)",
    ):
        infercore.attention(q, k, v)
    with pytest.raises(TypeError, match=r"^a: the CPU implementation supports float32 only"):
        infercore.gemm(randn(3, 4, dtype=np.float16), randn(4, 5, dtype=np.float16))
    with pytest.raises(TypeError, match=r"^a: unsupported dtype float64"):
        infercore.gemm(randn(3, 4, dtype=np.float64), randn(4, 5))


def test_b_dtype_must_match_a():
    with pytest.raises(TypeError, match=r"^b: expected dtype float32 like a, got float16"):
        infercore.gemm(randn(3, 4), randn(4, 5, dtype=np.float16))


@pytest.mark.parametrize("name", ["q", "k", "v"])
def test_non_contiguous_inputs(name):
    args = dict(zip("qkv", qkv(), strict=True))
    args[name] = args[name][:, ::2]  # every other position: strided
    with pytest.raises(
        ValueError,
        match=rf"^{name}: expected a contiguous \(row-major\) tensor, got strides .* for shape "
        r".*numpy\.ascontiguousarray\(\)",
    ):
        infercore.attention(args["q"], args["k"], args["v"])


def test_transposed_gemm_input():
    a = randn(5, 4).T  # (4, 5), column-major
    with pytest.raises(
        ValueError,
        match=re.escape("a: expected a contiguous (row-major) tensor, got strides (1, 4)"),
    ):
        infercore.gemm(a, randn(5, 3))
    assert infercore.gemm(np.ascontiguousarray(a), randn(5, 3)).shape == (4, 3)


def test_size_one_dimensions_may_have_any_stride():
    a = randn(1, 8)
    b = randn(8, 3)
    odd = np.lib.stride_tricks.as_strided(a, shape=(1, 8), strides=(4096, 4))
    np.testing.assert_allclose(infercore.gemm(odd, b), a @ b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("value", "typename"), [([[1.0, 2.0]], "list"), (3, "int"), (None, "NoneType"), ("q", "str")]
)
@pytest.mark.parametrize("name", ["q", "k", "v"])
def test_not_an_array(name, value, typename):
    args = dict(zip("qkv", qkv(), strict=True))
    args[name] = value
    with pytest.raises(
        TypeError,
        match=rf"^{name}: expected an object supporting DLPack such as a NumPy array or torch "
        rf"tensor, got {typename}$",
    ):
        infercore.attention(args["q"], args["k"], args["v"])


def test_gemm_not_an_array():
    with pytest.raises(TypeError, match=r"^b: expected an object supporting DLPack .* got list"):
        infercore.gemm(randn(2, 2), [[1.0, 0.0], [0.0, 1.0]])


def test_out_wrong_shape():
    q, k, v = qkv()
    with pytest.raises(
        ValueError,
        match=re.escape("out: expected shape (2, 16, 8, 64), got (2, 16, 8, 32)"),
    ):
        infercore.attention(q, k, v, out=np.empty((2, 16, 8, 32), np.float32))
    with pytest.raises(ValueError, match=re.escape("out: expected shape (4, 3), got (3, 4)")):
        infercore.gemm(randn(4, 5), randn(5, 3), out=np.empty((3, 4), np.float32))


def test_out_wrong_dtype():
    q, k, v = qkv()
    with pytest.raises(TypeError, match=r"^out: expected dtype float32 like q, got float16"):
        infercore.attention(q, k, v, out=np.empty(q.shape, np.float16))
    with pytest.raises(TypeError, match=r"^out: unsupported dtype float64"):
        infercore.gemm(randn(4, 5), randn(5, 3), out=np.empty((4, 3)))


def test_out_not_contiguous():
    q, k, v = qkv()
    out = np.empty((2, 16, 8, 128), np.float32)[..., ::2]
    with pytest.raises(
        ValueError, match=r"^out: expected a contiguous .*; pass a contiguous output buffer"
    ):
        infercore.attention(q, k, v, out=out)


def test_out_not_an_array():
    with pytest.raises(TypeError, match=r"^out: expected an object supporting DLPack .* got list"):
        infercore.gemm(randn(1, 1), randn(1, 1), out=[[0.0]])


@pytest.mark.skipif(
    np.lib.NumpyVersion(np.__version__) < "2.1.0",
    reason="NumPy exports read-only arrays through DLPack from 2.1 (versioned capsules)",
)
def test_out_read_only():
    out = np.empty((4, 3), np.float32)
    out.setflags(write=False)
    with pytest.raises(ValueError, match=r"^out: is read-only; pass a writable output buffer"):
        infercore.gemm(randn(4, 5), randn(5, 3), out=out)


def test_out_must_not_overlap_the_inputs():
    q, k, v = qkv()
    with pytest.raises(ValueError, match=r"^out: shares memory with q; pass a separate output"):
        infercore.attention(q, k, v, out=q)
    a = randn(4, 4)
    with pytest.raises(ValueError, match=r"^out: shares memory with b"):
        infercore.gemm(randn(4, 4), a, out=a)


@pytest.mark.parametrize(
    ("scale", "error", "message"),
    [
        ("0.1", TypeError, r"^scale: expected a number or None, got str"),
        ([0.1], TypeError, r"^scale: expected a number or None, got list"),
        (float("nan"), ValueError, r"^scale: expected a finite number, got nan"),
        (float("inf"), ValueError, r"^scale: expected a finite number, got inf"),
        (1e300, ValueError, r"^scale: expected a finite number"),
    ],
)
def test_bad_scale(scale, error, message):
    with pytest.raises(error, match=message):
        infercore.attention(*qkv(), scale=scale)


def test_positional_options_are_rejected():
    q, k, v = qkv()
    with pytest.raises(TypeError):
        infercore.attention(q, k, v, True)  # causal is keyword-only


def test_misaligned_data():
    raw = np.zeros(4 * 7 + 2, np.uint8)
    a = np.frombuffer(raw.data, dtype=np.float32, count=6, offset=2).reshape(2, 3)
    with pytest.raises(
        ValueError, match=r"^a: its data pointer is not aligned to its 4-byte float32 elements"
    ):
        infercore.gemm(a, randn(3, 2))


@pytest.mark.parametrize(
    "dtype", [object, "U3", "S2", "datetime64[s]", "timedelta64[ms]", np.longdouble]
)
def test_dtypes_dlpack_cannot_carry(dtype):
    a = np.zeros((2, 2), dtype)
    with pytest.raises(TypeError, match=r"^a: __dlpack__\(\) failed \(BufferError: ") as e:
        infercore.gemm(a, randn(2, 2))
    assert "infercore accepts DLPack arrays of float32 (CPU and CUDA)" in str(e.value)
    assert isinstance(e.value.__cause__, BufferError)


@pytest.mark.parametrize(
    ("scale", "error", "message"),
    [
        (True, TypeError, r"^scale: expected a number or None, got bool"),
        (np.bool_(False), TypeError, r"^scale: expected a number or None, got bool"),
        (1j, TypeError, r"^scale: expected a number or None, got complex"),
        (10**400, ValueError, r"^scale: expected a finite number"),
        (np.float64("nan"), ValueError, r"^scale: expected a finite number, got "),
    ],
)
def test_scale_type_and_value(scale, error, message):
    with pytest.raises(error, match=message):
        infercore.attention(*qkv(), scale=scale)


@pytest.mark.parametrize("scale", [1, np.float32(0.125), np.float64(0.5), np.int64(2)])
def test_scale_takes_real_numbers(scale):
    assert infercore.attention(*qkv(), scale=scale).shape == (2, 16, 8, 64)


@pytest.mark.parametrize(
    ("call", "value", "error", "message"),
    [
        (
            "attention",
            3,
            TypeError,
            r"^backend: expected a str, one of 'auto', 'reference', "
            r"'fa2', 'fmha-sm90', 'fa3', 'fa4', got int",
        ),
        ("attention", "fast", ValueError, r"^backend: expected one of 'auto', .*, got 'fast'"),
        ("attention", None, TypeError, r"^backend: expected a str"),
        (
            "gemm",
            b"auto",
            TypeError,
            r"^backend: expected a str, one of 'auto', 'reference', "
            r"'cutlass-sm90', got bytes",
        ),
        (
            "gemm",
            "fa2",
            ValueError,
            r"^backend: expected one of 'auto', 'reference', "
            r"'cutlass-sm90', got 'fa2'",
        ),
    ],
)
def test_backend_must_be_a_known_name(call, value, error, message):
    args = qkv() if call == "attention" else (randn(2, 3), randn(3, 2))
    with pytest.raises(error, match=message):
        getattr(infercore, call)(*args, backend=value)


def test_cuda_backend_names_on_cpu_tensors_keep_their_message():
    with pytest.raises(ValueError, match=r"^backend: CPU tensors run the reference implementation"):
        infercore.attention(*qkv(), backend="fa2")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"causal": "False"}, TypeError, r"^causal: expected a bool"),
        ({"headdim": 2**62}, ValueError, r"^headdim: expected an int from 1 to 2147483647"),
        ({"nheads": 128.0}, TypeError, r"^nheads: expected an int, got float"),
        ({"batch": True}, TypeError, r"^batch: expected an int, got bool"),
        ({"seqlen_k": -1}, ValueError, r"^seqlen_k: expected an int from 0"),
        ({"nheads_kv": 0}, ValueError, r"^nheads_kv: expected an int from 1"),
        ({"dtype": 3}, TypeError, r"^dtype: expected a str, one of 'bfloat16'"),
        ({"dtype": "float64"}, ValueError, r"^dtype: expected one of 'bfloat16'"),
        ({"device": 2**70}, ValueError, r"^device: expected an index from 0 to 2147483647"),
        ({"device": 1.5}, TypeError, r"^device: expected an index"),
        ({"device": "cpu"}, ValueError, r"^device: expected an index"),
    ],
)
def test_attention_backend_keywords(kwargs, error, message):
    with pytest.raises(error, match=message):
        infercore.attention_backend(**kwargs)
