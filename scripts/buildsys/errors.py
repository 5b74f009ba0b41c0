"""User-facing build failures: what went wrong, why, and how to fix it.

Every failure a user can act on is a BuildError (or a subclass) and ends the run with
the what/why/fix message and the exit code of its class, never a traceback. A
traceback is shown only for a bug in buildsys itself (see cli.main). Exit codes:

| code | class | meaning |
| --- | --- | --- |
| 1 | BuildError | a build step failed (compiler, tests, checks) |
| 2 | UsageError | bad command-line arguments or environment settings |
| 3 | ConfigError | build-matrix.toml or sources.lock.toml is invalid |
| 4 | ToolMissing | a required tool (nvcc, a Python, cmake...) is not there |
| 5 | SourceError | a pinned source cannot be fetched or verified |
| 70 | (bug) | an unexpected exception inside buildsys: please report it |
| 130, 143 | Interrupted | stopped by SIGINT / SIGTERM (128 + the signal) |

Stdlib only: the noxfile's environment imports this through buildsys.config.
"""

from __future__ import annotations

import signal


class BuildError(Exception):
    """A failure the user can act on. Sessions print it and exit non-zero."""

    exit_code = 1
    kind = "error"

    def __init__(self, what: str, *, why: str = "", fix: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.why = why
        self.fix = fix

    def __str__(self) -> str:
        lines = [self.what]
        if self.why:
            lines.append(f"  why: {self.why}")
        if self.fix:
            lines.append(f"  fix: {self.fix}")
        return "\n".join(lines)


class UsageError(BuildError):
    """Bad arguments or environment variables: nothing was started."""

    exit_code = 2
    kind = "usage error"


class ConfigError(BuildError):
    """build-matrix.toml or sources.lock.toml is invalid."""

    exit_code = 3
    kind = "config error"


class ToolMissing(BuildError):
    """A tool the step needs is not installed or not found."""

    exit_code = 4
    kind = "missing tool"


class SourceError(BuildError):
    """A pinned input cannot be fetched, or its bytes do not match the pin."""

    exit_code = 5
    kind = "source error"


BUG_EXIT_CODE = 70  # EX_SOFTWARE


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: children are stopped, nothing is published.

    A BaseException, like KeyboardInterrupt, so that `except Exception` in a step
    never swallows it.
    """

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


EXIT_CODES: dict[int, str] = {
    0: "success",
    BuildError.exit_code: "a build step failed",
    UsageError.exit_code: "bad arguments or environment settings",
    ConfigError.exit_code: "invalid build-matrix.toml or sources.lock.toml",
    ToolMissing.exit_code: "a required tool is missing",
    SourceError.exit_code: "a pinned source cannot be fetched or verified",
    BUG_EXIT_CODE: "a bug in buildsys (a traceback is shown)",
    130: "interrupted (SIGINT)",
    143: "terminated (SIGTERM)",
}
