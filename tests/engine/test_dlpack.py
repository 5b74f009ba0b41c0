"""The DLPack protocol as the spec defines it, driven by a hand-made producer (ctypes).

The producer wraps NumPy memory in capsules whose every field the test controls, so
these tests also cover CUDA tensors, odd devices and old producers without a GPU.
"""

import ctypes

import infercore
import numpy as np
import pytest
from _dlpack_ctypes import (
    LEGACY_DELETER,
    VERSIONED_DELETER,
    DLDataType,
    DLDevice,
    DLManagedTensor,
    DLManagedTensorVersioned,
    DLPackVersion,
    DLTensor,
    capsule_new,
)

KDLCPU, KDLCUDA, KDLCUDAHOST, KDLROCM = 1, 2, 3, 10
KDLFLOAT, KDLBOOL = 2, 6
READ_ONLY = 1


capsule_is_valid = ctypes.pythonapi.PyCapsule_IsValid
capsule_is_valid.restype = ctypes.c_int
capsule_is_valid.argtypes = [ctypes.py_object, ctypes.c_char_p]


class Producer:
    """An array-like exporting `array`'s memory with the given DLPack fields."""

    def __init__(
        self,
        array,
        *,
        device=(KDLCPU, 0),
        dtype=(KDLFLOAT, 32, 1),
        versioned=True,
        legacy_only=False,
        version=(1, 0),
        flags=0,
        strides="array",
        byte_offset=0,
        shape=None,
    ):
        self.array = array
        self.device = device
        self.dtype = dtype
        self.versioned = versioned and not legacy_only
        self.legacy_only = legacy_only
        self.version = version
        self.flags = flags
        self.strides = strides
        self.byte_offset = byte_offset
        self.shape = array.shape if shape is None else shape
        self.calls = []
        self.capsules = []
        self.deleted = 0
        self._keep = []

    def __dlpack_device__(self):
        return self.device

    def __dlpack__(self, *, stream=None, **kwargs):
        if self.legacy_only and kwargs:
            raise TypeError(f"__dlpack__() got unexpected keyword arguments {sorted(kwargs)}")
        self.calls.append({"stream": stream, **kwargs})
        shape = (ctypes.c_int64 * len(self.shape))(*self.shape)
        if self.strides == "array":
            steps = [s // self.array.itemsize for s in self.array.strides]
            strides = ctypes.cast(
                (ctypes.c_int64 * len(steps))(*steps), ctypes.POINTER(ctypes.c_int64)
            )
        else:
            strides = None  # NULL: compact row-major
        tensor = DLTensor(
            data=self.array.ctypes.data - self.byte_offset,
            device=DLDevice(*self.device),
            ndim=len(self.shape),
            dtype=DLDataType(*self.dtype),
            shape=shape,
            strides=strides,
            byte_offset=self.byte_offset,
        )
        if self.versioned:
            managed = DLManagedTensorVersioned(
                version=DLPackVersion(*self.version),
                deleter=VERSIONED_DELETER(self._delete),
                flags=self.flags,
                dl_tensor=tensor,
            )
            name = b"dltensor_versioned"
        else:
            managed = DLManagedTensor(dl_tensor=tensor, deleter=LEGACY_DELETER(self._delete))
            name = b"dltensor"
        self._keep.append((shape, strides, managed, name))  # alive as long as the capsule
        capsule = capsule_new(ctypes.addressof(managed), name, None)
        self.capsules.append(capsule)
        return capsule

    def _delete(self, _managed):
        self.deleted += 1


def randn(*shape):
    return np.random.default_rng(sum(shape)).standard_normal(shape, dtype=np.float32)


def test_versioned_capsule_is_consumed():
    a, b = randn(5, 6), randn(6, 7)
    pa = Producer(a)
    c = infercore.gemm(pa, b)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)
    assert pa.calls == [{"stream": None, "max_version": (1, 0)}]
    assert pa.deleted == 1
    assert capsule_is_valid(pa.capsules[0], b"used_dltensor_versioned")


def test_legacy_producer_gets_the_legacy_call():
    a, b = randn(5, 6), randn(6, 7)
    pa = Producer(a, legacy_only=True)
    c = infercore.gemm(pa, b)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)
    assert pa.calls == [{"stream": None}]
    assert pa.deleted == 1
    assert capsule_is_valid(pa.capsules[0], b"used_dltensor")


def test_legacy_capsule_from_a_versioned_call():
    a, b = randn(3, 4), randn(4, 2)
    pa = Producer(a, versioned=False)
    np.testing.assert_allclose(infercore.gemm(pa, b), a @ b, rtol=1e-5, atol=1e-5)
    assert pa.deleted == 1


def test_null_strides_mean_row_major():
    a, b = randn(8, 3), randn(3, 5)
    np.testing.assert_allclose(
        infercore.gemm(Producer(a, strides=None), b), a @ b, rtol=1e-5, atol=1e-5
    )


def test_byte_offset_is_applied():
    a, b = randn(8, 3), randn(3, 5)
    np.testing.assert_allclose(
        infercore.gemm(Producer(a, byte_offset=64), b), a @ b, rtol=1e-5, atol=1e-5
    )


def test_pinned_host_memory_is_cpu_memory():
    a, b = randn(4, 4), randn(4, 4)
    pa = Producer(a, device=(KDLCUDAHOST, 0))
    np.testing.assert_allclose(infercore.gemm(pa, b), a @ b, rtol=1e-5, atol=1e-5)
    assert pa.calls[0]["stream"] is None  # a stream is for CUDA device memory only


def test_read_only_flag_guards_out():
    a, b = randn(4, 5), randn(5, 3)
    out = Producer(np.empty((4, 3), np.float32), flags=READ_ONLY)
    with pytest.raises(ValueError, match=r"^out: is read-only"):
        infercore.gemm(a, b, out=out)
    assert out.deleted == 1
    # Read-only inputs are fine.
    c = infercore.gemm(Producer(a, flags=READ_ONLY), b)
    np.testing.assert_allclose(c, a @ b, rtol=1e-5, atol=1e-5)


def test_unsupported_major_version():
    pa = Producer(randn(2, 2), version=(2, 0))
    with pytest.raises(
        TypeError, match=r"^a: DLPack 2\.0 is not supported \(expected version 1\.x\)"
    ):
        infercore.gemm(pa, randn(2, 2))
    assert pa.deleted == 1


def test_newer_minor_version_is_accepted():
    a, b = randn(2, 3), randn(3, 2)
    np.testing.assert_allclose(
        infercore.gemm(Producer(a, version=(1, 3)), b), a @ b, rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    ("dtype", "name"), [((KDLFLOAT, 32, 4), "float32x4"), ((KDLBOOL, 8, 1), "bool")]
)
def test_unsupported_dtypes(dtype, name):
    pa = Producer(randn(2, 2), dtype=dtype)
    with pytest.raises(TypeError, match=rf"^a: unsupported dtype {name}; infercore supports"):
        infercore.gemm(pa, randn(2, 2))
    assert pa.deleted == 1


def test_unsupported_device():
    pa = Producer(randn(2, 2), device=(KDLROCM, 0))
    with pytest.raises(
        TypeError, match=r"^a: unsupported device \(DLPack device type 10\); infercore supports"
    ):
        infercore.gemm(pa, randn(2, 2))
    assert pa.deleted == 1


def test_cuda_tensor_mixed_with_cpu_tensors():
    q = randn(1, 4, 2, 8)
    k = Producer(randn(1, 4, 2, 8), device=(KDLCUDA, 0))
    with pytest.raises(TypeError, match=r"^k: expected a tensor on cpu like q, got one on cuda:0"):
        infercore.attention(q, k, q)
    assert k.calls[0]["stream"] == 1  # no stream given: the legacy default stream
    assert k.deleted == 1


def test_cuda_tensor_without_a_usable_device():
    # The data pointer is host memory: only valid because no kernel may ever see it.
    info = infercore.build_info()
    if info["runtime"]["cuda_device_count"] > 0:
        pytest.skip("a CUDA device is visible: covered by tests/gpu")
    a = Producer(randn(2, 2), device=(KDLCUDA, 0))
    if info["cuda"]["enabled"]:
        error, message = ValueError, r"^a: is on cuda:0, but no CUDA device is visible"
    else:
        error, message = (
            TypeError,
            r"^a: is a CUDA tensor \(cuda:0\), but this build of infercore is CPU-only",
        )
    with pytest.raises(error, match=message):
        infercore.gemm(a, Producer(randn(2, 2), device=(KDLCUDA, 0)))
    assert a.deleted == 1


def test_output_is_allocated_only_for_valid_inputs(monkeypatch):
    import infercore._arrays

    calls = []
    allocate = infercore._arrays.empty

    def recording_empty(shape, like):
        calls.append(shape)
        return allocate(shape, like)

    monkeypatch.setattr(infercore._arrays, "empty", recording_empty)
    with pytest.raises(ValueError, match=r"^b: expected 2 rows"):
        infercore.gemm(randn(3, 2), randn(3, 3))
    assert calls == []
    assert infercore.gemm(randn(3, 2), randn(2, 4)).shape == (3, 4)
    assert calls == [(3, 4)]


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        (
            (2**62, 2),
            r"^a: dimension 0 of shape \(4611686018427387904, 2\) is 4611686018427387904; "
            r"each dimension may be at most 2147483647 \(int32\)",
        ),
        ((2**31, 0), r"^a: dimension 0 of shape \(2147483648, 0\)"),
        ((-3, 2), r"^a: has a negative dimension in shape \(-3, 2\)"),
    ],
)
def test_shapes_beyond_the_limits(shape, message):
    pa = Producer(randn(2, 2), shape=shape, strides=None)
    with pytest.raises(ValueError, match=message):
        infercore.gemm(pa, randn(2, 2))
    assert pa.deleted == 1


def test_element_count_overflow_is_not_wrapped():
    # (2^31 - 1)^4 elements: every dimension fits int32, the product overflows int64.
    d = 2**31 - 1
    q = Producer(randn(1, 1, 1, 1), shape=(d, d, d, d), strides=None)
    with pytest.raises(ValueError, match=r"^q: shape .* holds more than 9223372036854775807 bytes"):
        infercore.attention(q, randn(1, 1, 1, 1), randn(1, 1, 1, 1))


class Raising:
    """A producer whose __dlpack__ (or __dlpack_device__) raises `error`."""

    def __init__(self, error, where="__dlpack__"):
        self.error, self.where = error, where

    def __dlpack_device__(self):
        if self.where == "__dlpack_device__":
            raise self.error
        return (KDLCPU, 0)

    def __dlpack__(self, **kwargs):
        raise self.error


@pytest.mark.parametrize("where", ["__dlpack__", "__dlpack_device__"])
@pytest.mark.parametrize("error", [BufferError("no export"), RuntimeError("boom"), KeyError(3)])
def test_producer_errors_name_the_argument(where, error):
    with pytest.raises(TypeError, match=rf"^b: {where}\(\) failed \({type(error).__name__}: ") as e:
        infercore.gemm(randn(2, 2), Raising(error, where))
    assert "infercore accepts DLPack arrays of float32" in str(e.value)
    assert e.value.__cause__ is error


@pytest.mark.parametrize("returned", [None, 3, "capsule", object()])
def test_dlpack_returning_a_non_capsule(returned):
    class Junk:
        def __dlpack_device__(self):
            return (KDLCPU, 0)

        def __dlpack__(self, **kwargs):
            return returned

    with pytest.raises(TypeError, match=r"^k: __dlpack__\(\) returned a .*, not an unused DLPack"):
        infercore.attention(randn(1, 2, 1, 4), Junk(), randn(1, 2, 1, 4))


def test_a_used_capsule_is_refused():
    pa = Producer(randn(2, 2))
    capsule = pa.__dlpack__(max_version=(1, 0))
    infercore.gemm(
        type(
            "Once",
            (),
            {
                "__dlpack__": lambda self, **kw: capsule,
                "__dlpack_device__": lambda self: (KDLCPU, 0),
            },
        )(),
        randn(2, 2),
    )
    with pytest.raises(TypeError, match=r"^a: __dlpack__\(\) returned a PyCapsule, not an unused"):
        infercore.gemm(
            type(
                "Again",
                (),
                {
                    "__dlpack__": lambda self, **kw: capsule,
                    "__dlpack_device__": lambda self: (KDLCPU, 0),
                },
            )(),
            randn(2, 2),
        )


def test_producer_error_whose_str_raises():
    class Nasty(Exception):
        def __str__(self):
            raise RuntimeError("no str")

    with pytest.raises(TypeError, match=r"^a: __dlpack__\(\) failed \(Nasty\); infercore") as e:
        infercore.gemm(Raising(Nasty()), randn(2, 2))
    assert isinstance(e.value.__cause__, Nasty)
