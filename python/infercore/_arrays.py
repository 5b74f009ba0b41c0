"""How infercore meets the caller's array libraries: output allocation and CUDA streams.

Nothing here imports torch, CuPy or NumPy: an array of a library implies the library is
already imported, so sys.modules tells which one an array belongs to at no cost.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

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


@contextlib.contextmanager
def cuda_stream(x: Any) -> Iterator[int | None]:
    """The caller's current CUDA stream on `x`'s device (None: legacy default or CPU).

    For torch tensors, `x`'s device is made current meanwhile, because torch only exports
    (``__dlpack__``) CUDA tensors of the current device.
    """
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(x, torch.Tensor) and x.is_cuda:
        with torch.cuda.device(x.device):
            yield torch.cuda.current_stream(x.device).cuda_stream
        return
    cupy = sys.modules.get("cupy")
    if cupy is not None and isinstance(x, cupy.ndarray):
        with x.device:
            yield cupy.cuda.get_current_stream().ptr
        return
    yield None


def device_index(device: Any) -> int:
    """A CUDA device index from an int, "cuda", "cuda:N" or a torch.device."""
    if isinstance(device, int) and not isinstance(device, bool):
        return device
    text = str(device)
    if text == "cuda":
        return 0
    if text.startswith("cuda:") and text[5:].isdigit():
        return int(text[5:])
    raise ValueError(f"device: expected an index, 'cuda:N' or a torch.device, got {device!r}")
