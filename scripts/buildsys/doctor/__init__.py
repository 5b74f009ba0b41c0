"""`nox -s doctor`: before a long build, everything that would make it fail late.

Each check is a small function of a Context (the configuration, the options, the facts
of this machine it shares with other checks) that returns its Result rows: ok, warn,
fail or skip, what it found, and the fix. A check asks the build's own code the
question the build would ask later (the arch resolver, the image lock's comparison,
the memory-sized pool, the sources cache), so the doctor and the build cannot
disagree; where that code raises, the row carries its what, why and fix, and its
error class sets the doctor's exit code. Nothing is built, fetched or written;
network checks (the sources' URLs) only with --network. A configured ccache remote is
always asked, within REMOTE_TIMEOUT_S.

    checks        module
    engine        engine.py            container engine; each image against images.lock
    toolchain     toolchain.py         nvcc against the target's archs and profile; GPU driver
    host          host.py              glibc and gcc per release cell; the Pythons
    resources     resources.py         free memory against the kernel pool, free disk
    sources       sources.py           the pinned sources: cached, mirrored or reachable
    ccache        compiler_cache.py    the pinned ccache; the remote storage
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..config import BuildMatrix, SourcesLock
from ..errors import BuildError
from ..util.paths import Paths
from . import compiler_cache, engine, host, resources, sources, toolchain
from .context import Context
from .result import VERDICTS, Result, Verdict

__all__ = ["CHECKS", "Context", "Report", "Result", "Verdict", "main", "run"]

Check = Callable[[Context], Result | list[Result]]
# In the order of the table: what a build needs first, first.
CHECKS: tuple[tuple[str, Check], ...] = (
    ("engine", engine.engine),
    ("images", engine.images),
    ("nvcc", toolchain.nvcc),
    ("driver", toolchain.driver),
    ("release-cells", host.release_cells),
    ("memory", resources.memory),
    ("disk", resources.disk),
    ("pythons", host.pythons),
    ("sources", sources.sources),
    ("ccache", compiler_cache.binary),
    ("ccache-remote", compiler_cache.remote_storage),
)


@dataclass(frozen=True)
class Report:
    ctx: Context
    results: list[Result]
    seconds: float
    timings: dict[str, float]  # per check, seconds

    def count(self, verdict: Verdict) -> int:
        return sum(r.verdict == verdict for r in self.results)

    @property
    def failed(self) -> list[Result]:
        return [r for r in self.results if r.verdict == "fail"]

    def error(self) -> BuildError | None:
        """The error the doctor ends with: of the first failed row's class (its exit code:
        buildsys.errors), naming every failed row; None when nothing failed."""
        failed = self.failed
        if not failed:
            return None
        return failed[0].error(
            f"doctor: {len(failed)} check(s) failed ({', '.join(r.name for r in failed)}): the "
            "build cannot succeed",
            fix="do what each failed row's fix says, then run `nox -s doctor` again",
        )

    @property
    def exit_code(self) -> int:
        err = self.error()
        return 0 if err is None else err.exit_code

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(v)} {v}" for v in VERDICTS)
        if self.failed:
            verdict = "the build cannot succeed"
        elif self.count("warn"):
            verdict = "the build can run; see the warnings"
        else:
            verdict = "the build can run"
        return f"doctor: {counts} in {self.seconds:.1f}s: {verdict}"


def run(ctx: Context) -> Report:
    """Every check, in order. A check that raises a BuildError becomes its failed row; any
    other exception is a bug in the check, shown as one (cli.run)."""
    start = time.monotonic()
    ctx.check_arguments()
    results: list[Result] = []
    timings: dict[str, float] = {}
    for key, check in CHECKS:
        began = time.monotonic()
        try:
            out = check(ctx)
        except BuildError as err:
            out = Result.from_error(key, err)
        results.extend(out if isinstance(out, list) else [out])
        timings[key] = round(time.monotonic() - began, 3)
    return Report(ctx, results, time.monotonic() - start, timings)


def main(paths: Paths, matrix: BuildMatrix, lock: SourcesLock, args: argparse.Namespace) -> None:
    """`python -m buildsys doctor`: the table (or --json), then the error of a failed row."""
    from . import report

    ctx = Context(
        paths=paths,
        matrix=matrix,
        lock=lock,
        env=os.environ,
        target_name=args.target,
        profile_name=args.profile,
        toolchain_choice=args.toolchain,
        network=args.network,
        offline=args.offline,
        mirrors=tuple(args.mirror),
        jobs=args.jobs,
    )
    done = run(ctx)
    report.show(done, json_output=args.json)
    if (err := done.error()) is not None:
        raise err
