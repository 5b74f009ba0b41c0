"""infercore.gemm on the CPU against NumPy's float64 matmul."""

import infercore
import numpy as np
import pytest


def random_ab(seed, m, k, n):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k), dtype=np.float32)
    b = rng.standard_normal((k, n), dtype=np.float32)
    return a, b


def rel_err(out, ref):
    return float(np.linalg.norm(np.asarray(out, np.float64) - ref) / np.linalg.norm(ref))


SHAPES = [
    (1, 1, 1),
    (2, 3, 4),
    (127, 129, 131),
    (96, 256, 256),  # exactly the CPU path's tile sizes
    (97, 257, 257),
    (4096, 64, 8),  # tall and skinny
    (3, 5000, 7),  # long inner dimension
    (1, 300, 2000),  # one wide row
    (513, 1, 65),  # K = 1
]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matches_numpy(shape):
    a, b = random_ab(sum(shape), *shape)
    c = infercore.gemm(a, b)
    assert isinstance(c, np.ndarray)
    assert c.shape == (shape[0], shape[2]) and c.dtype == np.float32
    assert rel_err(c, a.astype(np.float64) @ b.astype(np.float64)) < 1e-5


def test_out_is_written_and_returned():
    a, b = random_ab(1, 77, 91, 103)
    out = np.full((77, 103), np.nan, dtype=np.float32)
    assert infercore.gemm(a, b, out=out) is out
    assert np.all(np.isfinite(out))
    assert rel_err(out, a.astype(np.float64) @ b.astype(np.float64)) < 1e-5


def test_zero_inner_dimension_gives_zeros():
    a = np.empty((4, 0), np.float32)
    b = np.empty((0, 3), np.float32)
    out = np.full((4, 3), np.nan, dtype=np.float32)
    infercore.gemm(a, b, out=out)
    np.testing.assert_array_equal(out, np.zeros((4, 3), np.float32))


@pytest.mark.parametrize(("m", "n"), [(0, 3), (4, 0), (0, 0)])
def test_empty_result(m, n):
    a, b = random_ab(2, m, 5, n)
    assert infercore.gemm(a, b).shape == (m, n)


@pytest.mark.skipif(
    np.lib.NumpyVersion(np.__version__) < "2.1.0",
    reason="NumPy exports read-only arrays through DLPack from 2.1 (versioned capsules)",
)
def test_read_only_inputs():
    a, b = random_ab(3, 20, 30, 40)
    a.setflags(write=False)
    b.setflags(write=False)
    assert rel_err(infercore.gemm(a, b), a.astype(np.float64) @ b.astype(np.float64)) < 1e-5


def test_views_with_an_offset():
    # Contiguous views that start inside a bigger buffer (DLPack byte_offset / data pointer).
    a, b = random_ab(4, 50, 40, 30)
    big = np.concatenate([a, a])
    c = infercore.gemm(big[50:], b)
    assert rel_err(c, a.astype(np.float64) @ b.astype(np.float64)) < 1e-5


def test_torch_cpu_tensors():
    torch = pytest.importorskip("torch")
    a, b = random_ab(5, 65, 33, 17)
    c = infercore.gemm(torch.from_numpy(a), torch.from_numpy(b))
    assert isinstance(c, torch.Tensor) and c.dtype == torch.float32
    assert rel_err(c.numpy(), a.astype(np.float64) @ b.astype(np.float64)) < 1e-5
