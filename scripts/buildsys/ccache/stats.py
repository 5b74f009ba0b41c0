"""One build's ccache counters, from its stats log (ccache's stats_log: one block per
compile, a "# SOURCE" line then the counters it incremented)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ..util import console

HITS = {"direct_cache_hit", "preprocessed_cache_hit"}
REMOTE_FAULTS = {"remote_storage_error", "remote_storage_timeout"}


@dataclass(frozen=True)
class Summary:
    compiles: int = 0  # ccache invocations (cacheable or not)
    hits: int = 0  # served from a cache, local or remote
    remote_hits: int = 0  # of them, from the remote storage
    misses: int = 0  # compiled (and stored)
    uncacheable: int = 0  # ccache ran the compiler without caching (e.g. a link)
    remote_faults: int = 0  # compiles that could not reach the remote (they went on)
    remote: str = ""  # the remote storage, without its password; "" = none

    @property
    def cacheable(self) -> int:
        return self.hits + self.misses

    @property
    def remote_hit_rate(self) -> float:
        return self.remote_hits / self.cacheable if self.cacheable else 0.0

    def as_json(self) -> dict:
        return asdict(self) | {"remote_hit_rate": round(self.remote_hit_rate, 4)}


def parse(text: str) -> list[set[str]]:
    """The counters of each compile in a stats log."""
    blocks: list[set[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            blocks.append(set())
        elif line and blocks:
            blocks[-1].add(line)
    return blocks


def summarize(blocks: list[set[str]], *, remote: str = "") -> Summary:
    hits = [b for b in blocks if b & HITS]
    return Summary(
        compiles=len(blocks),
        hits=len(hits),
        remote_hits=sum("remote_storage_hit" in b for b in hits),
        misses=sum("cache_miss" in b for b in blocks),
        uncacheable=sum(not (b & HITS) and "cache_miss" not in b for b in blocks),
        remote_faults=sum(bool(b & REMOTE_FAULTS) for b in blocks),
        remote=remote,
    )


def read(path: Path, *, remote: str = "") -> Summary:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        text = ""
    return summarize(parse(text), remote=remote)


def report(label: str, s: Summary) -> None:
    """One line per build; a warning when the remote could not be reached (the build
    went on without it, so nothing is wrong with what it produced)."""
    if not s.compiles:
        return
    where = f"; remote {s.remote}: {s.remote_hits} hit(s)" if s.remote else ""
    console.say(
        label,
        f"ccache: {s.compiles} compile(s), {s.hits} hit(s), {s.misses} miss(es)"
        + (f", {s.uncacheable} uncacheable" if s.uncacheable else "")
        + where,
    )
    if s.remote_faults:
        console.say(
            label,
            f"warning: the ccache remote {s.remote or '(from $CCACHE_REMOTE_STORAGE)'} failed "
            f"for {s.remote_faults} of {s.compiles} compile(s); they were compiled or served "
            "locally and the build is complete, but other machines will not share them: "
            "check that the server is up (nox -s doctor)",
            style="yellow",
        )


def total(summaries: list[Summary]) -> Summary:
    """Several builds' (or build trees') counters as one."""
    keys = ("compiles", "hits", "remote_hits", "misses", "uncacheable", "remote_faults")
    return Summary(
        **{k: sum(getattr(s, k) for s in summaries) for k in keys},
        remote=next((s.remote for s in summaries if s.remote), ""),
    )
