from collections.abc import Callable
from typing import Any

__version__: str

def attention(
    q: Any,
    k: Any,
    v: Any,
    causal: bool,
    scale: float | None,
    out: Any,
    stream: int | None,
    empty: Callable[[tuple[int, ...], Any], Any],
) -> Any: ...
def gemm(
    a: Any,
    b: Any,
    out: Any,
    stream: int | None,
    empty: Callable[[tuple[int, ...], Any], Any],
) -> Any: ...
def build_info() -> dict[str, Any]: ...
def cuda_device_count() -> int: ...
def cuda_compute_capability(device_index: int) -> int: ...
