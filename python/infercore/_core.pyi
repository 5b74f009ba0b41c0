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
    backend: str,
    exporter: Callable[[Any], Any] | None,
) -> Any: ...
def gemm(
    a: Any,
    b: Any,
    out: Any,
    stream: int | None,
    empty: Callable[[tuple[int, ...], Any], Any],
    backend: str,
    exporter: Callable[[Any], Any] | None,
) -> Any: ...
def attention_backend(
    device: int,
    dtype: str,
    headdim: int,
    causal: bool,
    seqlen_q: int,
    seqlen_k: int,
    nheads: int,
    nheads_kv: int,
    batch: int,
) -> str: ...
def build_info() -> dict[str, Any]: ...
def cuda_device_count() -> int: ...
def cuda_compute_capability(device_index: int) -> int: ...
