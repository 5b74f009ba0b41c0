"""The pinned sources: in the cache or a mirror, or (--network) reachable at their URL."""

from __future__ import annotations

import platform
from concurrent.futures import ThreadPoolExecutor

from ..ccache import tool as ccache_tool
from ..config import Source, SourcesLock
from ..container import images
from ..errors import SourceError
from ..sources import cache
from .context import Context
from .result import Result

NAME = "sources"
HEAD_TIMEOUT_S = 10.0


def other_machines(lock: SourcesLock, machine: str | None = None) -> set[str]:
    """The sources only another CPU architecture uses: its ccache binary and the files
    its images stage (tini), as ccache.tool and container.images name them."""
    machine = machine or platform.machine()
    others = {a for a in images.ARCH_OF_PLATFORM.values() if a != machine}
    names = {ccache_tool.source_name(a) for a in others}
    names |= {n for a in others for n, _, _ in images.STAGED_FILES.get(a, [])}
    return names & set(lock.keys())


def sources(ctx: Context) -> Result:
    """What `nox -s sources` fetches for this machine. Offline (--offline) a source that
    is neither cached nor in a --mirror fails the build; online it is fetched on first use,
    and --network asks its URLs, in order, whether it is there (a HEAD each, the sources
    in parallel): the first URL that answers is the one a fetch would use."""
    skipped = other_machines(ctx.lock)
    wanted = [s for s in ctx.lock.values() if s.name not in skipped]
    missing = cache.missing_offline(ctx.paths, wanted, list(ctx.mirrors))
    where = f"cache {ctx.paths.source_cache}" + (" or a --mirror" if ctx.mirrors else "")
    have = f"{len(wanted) - len(missing)} of {len(wanted)} pinned sources in the {where}"
    if skipped:
        have += f" ({len(skipped)} for other machines not counted)"
    if not missing:
        return Result(NAME, "ok", have)
    names = ", ".join(s.name for s in missing)
    if ctx.offline:
        return Result.from_error(NAME, cache.offline_error(ctx.paths, missing))
    if not ctx.network:
        return Result(
            NAME,
            "warn",
            f"{have}; not there: {names} (fetched on first use, which needs the network)",
            "fetch them now: `nox -s sources` (`--network` checks their URLs)",
        )
    answers = _ask(missing)
    dead = [(s, whys) for s, (url, whys) in zip(missing, answers, strict=True) if url is None]
    if dead:
        listing = "; ".join(
            f"{s.name}: " + ", ".join(f"{u}: {why}" for u, why in zip(s.urls, whys, strict=True))
            for s, whys in dead
        )
        err = SourceError(
            f"{len(dead)} pinned source(s) the cache lacks cannot be fetched from any of "
            f"their URLs: {listing}",
            fix="check the network (proxy, CA bundle); a file that moved: update its urls in "
            "sources.lock.toml (the sha256 stays); air-gapped: --offline --mirror DIR",
        )
        return Result.from_error(NAME, err)
    later = [
        f"{s.name} from {url}"
        for s, (url, _) in zip(missing, answers, strict=True)
        if url != s.urls[0]
    ]
    return Result(
        NAME,
        "ok",
        f"{have}; {names}: reachable (HEAD), fetched on first use"
        + (f" ({', '.join(later)}: the first URL did not answer)" if later else ""),
    )


def _reach(src: Source) -> tuple[str | None, list[str]]:
    """The first of the source's URLs that answers a HEAD, tried in order as a fetch
    tries them (None: none did), and what each one before it ran into."""
    whys = []
    for url in src.urls:
        why = cache.reachable(url, timeout=HEAD_TIMEOUT_S)
        if not why:
            return url, whys
        whys.append(why)
    return None, whys


def _ask(missing: list[Source]) -> list[tuple[str | None, list[str]]]:
    """_reach for each source, in parallel (each waits on the network, not the CPU)."""
    with ThreadPoolExecutor(max_workers=min(8, len(missing))) as pool:
        return list(pool.map(_reach, missing))
