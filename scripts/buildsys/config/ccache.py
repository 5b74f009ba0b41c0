"""The model of build-matrix.toml's [ccache]: the compiler cache of every build tree.

Every C++ and CUDA compile (the core, the kernels, the wheels' bindings) goes through
the pinned ccache (sources.lock.toml: ccache-ARCH); buildsys.ccache generates its
configuration from this table, the checkout and the environment.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt

from .values import CCACHE_REMOTE as REMOTE
from .values import SIZE, Model, pattern

RemoteUrl = pattern(REMOTE)
Size = pattern(SIZE)
Millis = Annotated[StrictInt, Field(ge=1, le=600_000)]


class Ccache(Model):
    """[ccache]: the launcher of every C++/CUDA compile, and its shared remote storage."""

    enabled: StrictBool = Field(
        True,
        description="compile through the pinned ccache (INFERCORE_CCACHE=off turns it off "
        "for one run, e.g. to time a truly cold compile)",
    )
    max_size: Size = Field(
        "20G",
        alias="max-size",
        description="the local cache's size limit (ccache's max_size)",
        examples=["20G", "500M"],
    )
    remote_storage: RemoteUrl = Field(
        "",
        alias="remote-storage",
        description="shared remote storage that every checkout and CI runner reads and "
        'writes: "redis://HOST:PORT" or "http://HOST:PORT/PATH" ("": local only); '
        "INFERCORE_CCACHE_REMOTE overrides it (an empty value turns it off)",
        examples=["redis://cache.internal:6379", "http://cache.internal:8080/ccache"],
    )
    connect_timeout_ms: Millis = Field(
        200,
        alias="connect-timeout-ms",
        description="how long a compile waits to connect to the remote before it goes on "
        "without it (ccache's connect-timeout)",
    )
    operation_timeout_ms: Millis = Field(
        10_000,
        alias="operation-timeout-ms",
        description="how long one remote read or write may take (ccache's operation-timeout)",
    )
