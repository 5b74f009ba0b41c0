"""infercore.attention on the CPU against a float64 NumPy reference."""

import os
import subprocess
import sys

import infercore
import numpy as np
import pytest


def reference_attention(q, k, v, causal=False, scale=None):
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    _, seqlen_q, nheads, headdim = q.shape
    seqlen_k, nheads_kv = k.shape[1], k.shape[2]
    # GQA: query head h reads kv head h // (nheads // nheads_kv).
    k = np.repeat(k, nheads // nheads_kv, axis=2)
    v = np.repeat(v, nheads // nheads_kv, axis=2)
    scale = 1.0 / np.sqrt(headdim) if scale is None else scale
    s = np.einsum("bihd,bjhd->bhij", q, k) * scale
    if causal:
        i = np.arange(seqlen_q)[:, None]
        j = np.arange(seqlen_k)[None, :]
        s = np.where(j <= i + seqlen_k - seqlen_q, s, -np.inf)
    row_max = s.max(axis=-1, keepdims=True)
    p = np.exp(s - np.where(np.isfinite(row_max), row_max, 0.0))
    total = p.sum(axis=-1, keepdims=True)
    p = np.divide(p, total, out=np.zeros_like(p), where=total > 0)  # rows with no key: 0
    return np.einsum("bhij,bjhd->bihd", p, v)


def random_qkv(seed, batch, seqlen_q, seqlen_k, nheads, nheads_kv, headdim):
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((batch, seqlen_q, nheads, headdim), dtype=np.float32)
    k = rng.standard_normal((batch, seqlen_k, nheads_kv, headdim), dtype=np.float32)
    v = rng.standard_normal((batch, seqlen_k, nheads_kv, headdim), dtype=np.float32)
    return q, k, v


def rel_err(out, ref):
    return float(np.linalg.norm(np.asarray(out, np.float64) - ref) / np.linalg.norm(ref))


SHAPES = [
    # batch, seqlen_q, seqlen_k, nheads, nheads_kv, headdim, causal
    (1, 1, 1, 1, 1, 1, False),
    (2, 64, 64, 8, 8, 64, False),
    (2, 64, 64, 8, 8, 64, True),
    (1, 100, 100, 8, 2, 128, True),  # GQA
    (2, 33, 77, 4, 1, 40, False),  # MQA, odd headdim
    (2, 33, 77, 4, 1, 40, True),
    (1, 17, 300, 4, 2, 256, True),  # seqlen_q < seqlen_k: queries at the end of the keys
    (1, 300, 17, 4, 2, 64, True),  # seqlen_q > seqlen_k: the first rows see no key
    (1, 300, 17, 4, 2, 64, False),
    (3, 1, 513, 6, 3, 80, True),  # one query against a long cache
    (2, 65, 257, 3, 3, 24, False),  # one past the CPU path's block sizes
    (1, 130, 600, 2, 1, 17, True),
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "b{}q{}k{}h{}kv{}d{}{}".format(*s))
def test_matches_reference(shape):
    *dims, causal = shape
    q, k, v = random_qkv(sum(dims), *dims)
    out = infercore.attention(q, k, v, causal=causal)
    assert isinstance(out, np.ndarray)
    assert out.shape == q.shape and out.dtype == np.float32
    assert rel_err(out, reference_attention(q, k, v, causal)) < 1e-5


@pytest.mark.parametrize("scale", [0.05, 0.3, 1.0, -0.5])
@pytest.mark.parametrize("causal", [False, True])
def test_custom_scale(scale, causal):
    q, k, v = random_qkv(7, 2, 40, 50, 4, 2, 32)
    out = infercore.attention(q, k, v, causal=causal, scale=scale)
    assert rel_err(out, reference_attention(q, k, v, causal, scale)) < 1e-5


def test_rows_that_see_no_key_are_zero():
    # causal with seqlen_q > seqlen_k: query i sees keys j <= i - (seqlen_q - seqlen_k).
    q, k, v = random_qkv(11, 2, 20, 5, 2, 1, 16)
    out = infercore.attention(q, k, v, causal=True)
    assert np.all(out[:, :15] == 0.0)
    assert np.all(out[:, 15:] != 0.0)
    assert rel_err(out, reference_attention(q, k, v, causal=True)) < 1e-5


def test_large_scores_are_stable():
    q, k, v = random_qkv(12, 1, 70, 90, 2, 2, 64)
    out = infercore.attention(q * 40, k * 40, v, causal=True)  # scores in the thousands
    assert np.all(np.isfinite(out))
    ref = reference_attention(q * 40, k * 40, v, causal=True)
    assert rel_err(out, ref) < 1e-3  # float32 scores of this size carry ~1e-4 absolute error


def test_out_is_written_and_returned():
    q, k, v = random_qkv(13, 2, 31, 45, 6, 3, 48)
    out = np.full(q.shape, np.nan, dtype=np.float32)
    result = infercore.attention(q, k, v, causal=True, out=out)
    assert result is out
    assert np.all(np.isfinite(out))
    assert rel_err(out, reference_attention(q, k, v, causal=True)) < 1e-5


@pytest.mark.skipif(
    np.lib.NumpyVersion(np.__version__) < "2.1.0",
    reason="NumPy exports read-only arrays through DLPack from 2.1 (versioned capsules)",
)
def test_read_only_inputs():
    q, k, v = random_qkv(14, 1, 20, 20, 2, 2, 32)
    for x in (q, k, v):
        x.setflags(write=False)
    out = infercore.attention(q, k, v)
    assert rel_err(out, reference_attention(q, k, v)) < 1e-5


def test_inputs_are_not_modified():
    q, k, v = random_qkv(15, 1, 70, 300, 2, 1, 40)
    copies = [x.copy() for x in (q, k, v)]
    infercore.attention(q, k, v, causal=True)
    for x, c in zip((q, k, v), copies, strict=True):
        np.testing.assert_array_equal(x, c)


@pytest.mark.parametrize("causal", [True, False, np.bool_(True), np.bool_(False)])
def test_causal_takes_bools(causal):
    q, k, v = random_qkv(16, 1, 9, 9, 1, 1, 8)
    out = infercore.attention(q, k, v, causal=causal)
    assert rel_err(out, reference_attention(q, k, v, causal=bool(causal))) < 1e-5


@pytest.mark.parametrize("causal", [0, 1, "", "yes", "False", None, 1.0])
def test_causal_must_be_a_bool(causal):
    q, k, v = random_qkv(16, 1, 9, 9, 1, 1, 8)
    with pytest.raises(TypeError, match=r"^causal: expected a bool \(True or False\), got "):
        infercore.attention(q, k, v, causal=causal)


@pytest.mark.parametrize("shape", [(0, 5, 2, 8), (2, 0, 2, 8)], ids=["batch0", "seqlen_q0"])
def test_empty_queries_give_an_empty_result(shape):
    rng = np.random.default_rng(17)
    q = rng.standard_normal(shape, dtype=np.float32)
    k = rng.standard_normal((shape[0], 4, 2, 8), dtype=np.float32)
    out = infercore.attention(q, k, k)
    assert out.shape == shape


def test_scale_accepts_numpy_and_int_scalars():
    q, k, v = random_qkv(18, 1, 8, 8, 2, 2, 16)
    ref = reference_attention(q, k, v, scale=0.5)
    assert rel_err(infercore.attention(q, k, v, scale=np.float32(0.5)), ref) < 1e-5
    ref = reference_attention(q, k, v, scale=1.0)
    assert rel_err(infercore.attention(q, k, v, scale=1), ref) < 1e-5


def test_torch_cpu_tensors():
    torch = pytest.importorskip("torch")
    q, k, v = random_qkv(19, 2, 37, 41, 4, 2, 64)
    tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
    out = infercore.attention(tq, tk, tv, causal=True)
    assert isinstance(out, torch.Tensor)
    assert out.shape == tq.shape and out.dtype == torch.float32 and out.device.type == "cpu"
    assert rel_err(out.numpy(), reference_attention(q, k, v, causal=True)) < 1e-5

    poisoned = torch.full(tq.shape, float("nan"))
    assert infercore.attention(tq, tk, tv, causal=True, out=poisoned) is poisoned
    assert rel_err(poisoned.numpy(), reference_attention(q, k, v, causal=True)) < 1e-5


def test_torch_non_contiguous_is_rejected():
    torch = pytest.importorskip("torch")
    q = torch.randn(1, 4, 8, 16).transpose(1, 2)  # (1, 8, 4, 16), not contiguous
    k = torch.randn(1, 8, 4, 16)
    with pytest.raises(ValueError, match=r"^q: expected a contiguous .*\.contiguous\(\)"):
        infercore.attention(q, k, k)
    out = infercore.attention(q.contiguous(), k, k)
    assert out.shape == (1, 8, 4, 16)


def run_with_env(env, code):
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


SAVE_RESULTS = """
import numpy as np, infercore
rng = np.random.default_rng(20)
q = rng.standard_normal((2, 70, 4, 40), dtype=np.float32)
k = rng.standard_normal((2, 300, 2, 40), dtype=np.float32)
a = rng.standard_normal((130, 70), dtype=np.float32)
b = rng.standard_normal((70, 33), dtype=np.float32)
np.savez({path!r}, o=infercore.attention(q, k, k, causal=True), c=infercore.gemm(a, b),
         isa=infercore.build_info()["runtime"]["cpu_isa"])
"""


def test_threads_and_baseline_code_path_agree(tmp_path):
    runs = {
        "default": {},
        "one-thread": {"INFERCORE_NUM_THREADS": "1"},
        "baseline": {"INFERCORE_CPU_ISA": "baseline", "INFERCORE_NUM_THREADS": "3"},
    }
    results = {}
    for name, env in runs.items():
        path = tmp_path / f"{name}.npz"
        proc = run_with_env(env, SAVE_RESULTS.format(path=str(path)))
        assert proc.returncode == 0, proc.stderr
        results[name] = np.load(path)
    assert str(results["baseline"]["isa"]) == "baseline"
    for name in ("one-thread", "baseline"):
        for key in ("o", "c"):
            ref = results["default"][key].astype(np.float64)
            assert rel_err(results[name][key], ref) < 1e-6, (name, key)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"INFERCORE_NUM_THREADS": "many"}, "INFERCORE_NUM_THREADS: expected an integer"),
        ({"INFERCORE_NUM_THREADS": "0"}, "INFERCORE_NUM_THREADS: expected an integer"),
        ({"INFERCORE_CPU_ISA": "avx9"}, "INFERCORE_CPU_ISA: expected auto, avx2 or baseline"),
    ],
)
def test_malformed_settings_are_reported(env, message):
    code = (
        "import numpy as np, infercore\n"
        "a = np.ones((2, 2), np.float32)\n"
        "try:\n"
        "    infercore.gemm(a, a)\n"
        "except ValueError as e:\n"
        "    print(e)\n"
    )
    proc = run_with_env(env, code)
    assert proc.returncode == 0, proc.stderr
    assert message in proc.stdout
