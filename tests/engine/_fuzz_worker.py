"""The worker process of test_api_fuzz.py: reads cases as JSON lines, answers one JSON line each.

Every case is one infercore call built from a JSON description (see test_api_fuzz.py);
the answer is {"status": "ok"} or {"status": "error", "type", "message", "cause"}. A crash
of this process (a signal, an abort) is what the suite looks for: its parent records it
against the case and starts a new worker.
"""

import ctypes
import json
import sys

import infercore
import numpy as np
from _dlpack_ctypes import (
    DLDataType,
    DLDevice,
    DLManagedTensor,
    DLManagedTensorVersioned,
    DLPackVersion,
    DLTensor,
    capsule_new,
)

MAX_NDIM_ARRAY = 64  # shape and strides arrays are this long, so a wild ndim <= 64 reads inside
EXCEPTIONS = {
    "BufferError": BufferError,
    "RuntimeError": RuntimeError,
    "TypeError": TypeError,
    "ValueError": ValueError,
    "KeyError": KeyError,
    "AttributeError": AttributeError,
    "ZeroDivisionError": ZeroDivisionError,
}


class Hostile:
    """A DLPack producer whose capsule fields come straight from the case."""

    def __init__(self, spec):
        self.spec = spec
        self.keep = []
        nbytes = spec.get("buffer_bytes", 0)
        # 64 bytes of slack, so small byte offsets stay inside the buffer.
        self.buffer = np.zeros(nbytes // 4 + 16, np.float32)

    def __dlpack_device__(self):
        device = self.spec.get("dlpack_device", "same")
        if device == "same":
            return tuple(self.spec["device"])
        if device == "raise":
            raise EXCEPTIONS[self.spec["exception"]]("__dlpack_device__ refused")
        return decode(device)

    def __dlpack__(self, *, stream=None, max_version=None):
        behaviour = self.spec.get("dlpack", "capsule")
        if behaviour == "raise":
            raise EXCEPTIONS[self.spec["exception"]]("the producer refused")
        if behaviour == "raise_legacy" and max_version is not None:
            raise TypeError("unexpected keyword max_version")
        if behaviour == "return":
            return decode(self.spec["value"])
        capsule = self.capsule(versioned=self.spec.get("versioned", True) and max_version)
        if behaviour == "used":
            # A capsule someone already consumed: renamed, as consumers must.
            ctypes.pythonapi.PyCapsule_SetName.argtypes = [ctypes.py_object, ctypes.c_char_p]
            name = (
                b"used_dltensor_versioned" if self.spec.get("versioned", True) else b"used_dltensor"
            )
            self.keep.append(name)
            ctypes.pythonapi.PyCapsule_SetName(capsule, name)
        return capsule

    def capsule(self, versioned):
        s = self.spec
        ndim = s["ndim"]
        shape_values = (list(s["shape"]) + [1] * MAX_NDIM_ARRAY)[:MAX_NDIM_ARRAY]
        shape = (ctypes.c_int64 * MAX_NDIM_ARRAY)(*[to_int64(x) for x in shape_values])
        self.keep.append(shape)
        shape_ptr = (
            None if s.get("null_shape") else ctypes.cast(shape, ctypes.POINTER(ctypes.c_int64))
        )
        strides_ptr = None
        if s.get("strides") is not None:
            values = (list(s["strides"]) + [1] * MAX_NDIM_ARRAY)[:MAX_NDIM_ARRAY]
            strides = (ctypes.c_int64 * MAX_NDIM_ARRAY)(*[to_int64(x) for x in values])
            self.keep.append(strides)
            strides_ptr = ctypes.cast(strides, ctypes.POINTER(ctypes.c_int64))
        base = self.buffer.ctypes.data
        data = {
            "buffer": base,
            "null": None,
            "misaligned": base + s.get("misalign", 1),
            "top": 2**64 - 16,  # aligned, 16 bytes below the end of the address space
        }[s["data"]]
        tensor = DLTensor(
            data=data,
            device=DLDevice(*[to_int32(x) for x in s["device"]]),
            ndim=to_int32(ndim),
            dtype=DLDataType(*s["dtype"]),
            shape=shape_ptr,
            strides=strides_ptr,
            byte_offset=s.get("byte_offset", 0) % 2**64,
        )
        if versioned:
            managed = DLManagedTensorVersioned(
                version=DLPackVersion(*s.get("version", (1, 0))),
                flags=s.get("flags", 0),
                dl_tensor=tensor,
            )
            name = b"dltensor_versioned"
        else:
            managed = DLManagedTensor(dl_tensor=tensor)
            name = b"dltensor"
        self.keep.append(managed)
        return capsule_new(ctypes.addressof(managed), name, None)


def to_int64(x):
    return (x + 2**63) % 2**64 - 2**63


def to_int32(x):
    return (x + 2**31) % 2**32 - 2**31


class Opaque:
    pass


def decode(v):
    """A Python value from its JSON tag: ["int", 3], ["str", "x"], ["npbool", true]..."""
    tag, *rest = v
    if tag in ("int", "str", "float", "bool"):
        return rest[0]
    if tag == "none":
        return None
    if tag == "nan":
        return float("nan")
    if tag == "inf":
        return float("-inf") if rest and rest[0] < 0 else float("inf")
    if tag == "npbool":
        return np.bool_(rest[0])
    if tag == "npfloat":
        return np.dtype(rest[0]).type(rest[1])
    if tag == "npint":
        return np.dtype(rest[0]).type(rest[1])
    if tag == "list":
        return [decode(x) for x in rest[0]]
    if tag == "tuple":
        return tuple(decode(x) for x in rest[0])
    if tag == "bytes":
        return rest[0].encode()
    if tag == "object":
        return Opaque()
    if tag == "complex":
        return complex(rest[0], rest[1])
    if tag == "capsule":
        return capsule_new(ctypes.addressof(KEEP_ALIVE), rest[0].encode(), None)
    if tag == "type":
        return {"int": int, "float": float, "ndarray": np.ndarray}[rest[0]]
    raise ValueError(f"unknown tag {tag}")


# What a ["capsule", name] value points to: zeros as large as either managed tensor, so a
# capsule with a valid name describes an (unsupported, dtype code 0) tensor with no deleter
# rather than whatever memory follows.
KEEP_ALIVE = (ctypes.c_char * max(ctypes.sizeof(DLManagedTensorVersioned), 256))()


def array(spec):
    kind = spec["kind"]
    if kind == "value":
        return decode(spec["value"])
    if kind == "hostile":
        return Hostile(spec)
    try:
        return numpy_array(spec)
    except (TypeError, ValueError):  # a layout NumPy cannot make for this dtype: a plain array
        return np.zeros(tuple(spec["shape"]), np.dtype(spec["dtype"]))


def numpy_array(spec):
    dtype = np.dtype(spec["dtype"])
    shape = tuple(spec["shape"])
    layout = spec.get("layout", "c")
    if layout == "strided":
        a = np.zeros((*shape[:-1], shape[-1] * 2) if shape else (2,), dtype)[..., ::2]
    elif layout == "transposed":
        a = np.zeros(shape[::-1], dtype).T
    elif layout == "misaligned" and dtype.itemsize > 1:
        n = int(np.prod(shape)) if shape else 1
        raw = np.zeros(n * dtype.itemsize + 1, np.uint8)
        a = np.frombuffer(raw.data, dtype=dtype, count=n, offset=1).reshape(shape)
    elif layout == "broadcast" and shape:
        a = np.broadcast_to(np.zeros(shape[-1:], dtype), shape)
    else:
        a = np.zeros(shape, dtype)
    if layout == "readonly":
        a.setflags(write=False)
    return a


def run(case):
    op = case["op"]
    if op == "__crash__":  # the suite's check that a crash is caught and recorded
        ctypes.string_at(0)
    kwargs = {name: decode(value) for name, value in case.get("kwargs", {}).items()}
    if op == "attention_backend":
        return infercore.attention_backend(*[decode(x) for x in case.get("args", [])], **kwargs)
    args = [array(spec) for spec in case["args"]]
    if "out" in case:
        kwargs["out"] = array(case["out"])
    return getattr(infercore, op)(*args, **kwargs)


def main():
    for line in sys.stdin:
        case = json.loads(line)
        try:
            run(case)
            answer = {"status": "ok"}
        except Exception as e:  # the parent judges the type
            answer = {
                "status": "error",
                "type": type(e).__name__,
                "message": str(e),
                "cause": None if e.__cause__ is None else type(e.__cause__).__name__,
            }
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
