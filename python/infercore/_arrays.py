"""How infercore meets the caller's array libraries: output allocation and CUDA streams.

Nothing here imports torch, CuPy or NumPy: an array of a library implies the library is
already imported, so sys.modules tells which one an array belongs to at no cost.
"""

from __future__ import annotations

import contextlib
import numbers
import sys
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

_KDLCPU = 1
_KDLCUDAHOST = 3


def empty(shape: tuple[int, ...], like: Any) -> Any:
    """An uninitialised array of `shape` with the type, dtype and device of `like`.

    The core calls this once it has validated the inputs, so `like` is a supported array.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(like, torch.Tensor):
        return torch.empty(shape, dtype=like.dtype, device=like.device)
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(like, cupy.ndarray):
        with like.device:
            return cupy.empty(shape, dtype=like.dtype)
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(like, numpy.ndarray):
        return numpy.empty(shape, dtype=like.dtype)
    # Any other DLPack producer: results in host memory come back as NumPy arrays.
    if like.__dlpack_device__()[0] in (_KDLCPU, _KDLCUDAHOST):
        import numpy

        return numpy.empty(shape, dtype=numpy.float32)  # the only dtype the CPU path takes
    raise TypeError(
        f"out: infercore cannot allocate a result like a {type(like).__module__}."
        f"{type(like).__qualname__} on a GPU; pass out= (a torch tensor or CuPy array)"
    )


class CudaCall(NamedTuple):
    """How the core takes a call's arrays: the stream to run on and the DLPack exporter."""

    stream: int | None  # cudaStream_t; None: the legacy default stream, or CPU arrays
    exporter: Callable[[Any], Any] | None  # None: the DLPack protocol (__dlpack__)


@contextlib.contextmanager
def cuda_call(x: Any, *others: Any) -> Iterator[CudaCall]:
    """The caller's current CUDA stream on `x`'s device, and how to export the arrays.

    When `x` and every other array given (None: absent) are torch CUDA tensors on one device
    that need no gradient, they are exported by torch.utils.dlpack.to_dlpack: the kernels
    run on torch's current stream, where the tensors' pending work already is, so the
    protocol's stream handshake (~10 us per tensor in torch's Python __dlpack__) is
    skipped. Everything else takes the protocol; for it, a torch tensor's device is made
    current meanwhile, because torch only exports CUDA tensors of the current device.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor) and x.is_cuda:
        stream = torch.cuda.current_stream(x.device).cuda_stream
        if _torch_fast_path(torch, x, others):
            yield CudaCall(stream, torch.utils.dlpack.to_dlpack)
            return
        with torch.cuda.device(x.device):
            yield CudaCall(stream, None)
        return
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(x, cupy.ndarray):
        with x.device:
            yield CudaCall(cupy.cuda.get_current_stream().ptr, None)
        return
    yield CudaCall(None, None)


def _torch_fast_path(torch: Any, x: Any, others: tuple[Any, ...]) -> bool:
    # A tensor needing gradients takes the protocol, whose __dlpack__ refuses it with
    # torch's own message (an inference kernel must not silently cut the graph).
    if x.requires_grad:
        return False
    device = x.device
    return all(
        o is None or (isinstance(o, torch.Tensor) and o.device == device and not o.requires_grad)
        for o in others
    )


def device_index(device: Any) -> int:
    """A CUDA device index from an int, "cuda", "cuda:N" or a torch.device."""
    expected = "expected an index from 0 to 2147483647, 'cuda', 'cuda:N' or a torch.device"
    numpy = sys.modules.get("numpy")
    if isinstance(device, bool) or (numpy is not None and isinstance(device, numpy.bool_)):
        raise TypeError(f"device: {expected}, got {type(device).__name__}")
    if isinstance(device, numbers.Integral):
        if not 0 <= int(device) < 2**31:
            raise ValueError(f"device: {expected}, got {int(device)}")
        return int(device)
    torch = sys.modules.get("torch")
    if not isinstance(device, str) and not (torch is not None and isinstance(device, torch.device)):
        raise TypeError(f"device: {expected}, got {type(device).__name__}")
    text = str(device)
    if text == "cuda":
        return 0
    if text.startswith("cuda:") and text[5:].isdigit() and text[5:].isascii():
        index = int(text[5:])
        if index < 2**31:
            return index
    raise ValueError(f"device: {expected}, got {device!r}")
