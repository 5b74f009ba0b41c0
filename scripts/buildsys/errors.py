"""User-facing build failures: what went wrong, why, and how to fix it."""

from __future__ import annotations


class BuildError(Exception):
    """A failure the user can act on. Sessions print it and exit non-zero."""

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
