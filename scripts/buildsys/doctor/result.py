"""One row of the doctor's table: a check, its verdict, what it found and the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ..errors import BuildError

Verdict = Literal["ok", "warn", "fail", "skip"]
VERDICTS: tuple[Verdict, ...] = ("ok", "warn", "fail", "skip")


@dataclass(frozen=True)
class Result:
    """ok: the build will get what it needs; warn: it will succeed, but not as intended
    (a fallback, a slower path, a figure below target); fail: it cannot succeed; skip: the
    check does not apply here (no GPU, no remote cache configured)."""

    name: str
    verdict: Verdict
    detail: str
    fix: str = ""
    # For a fail: the error class the build itself would end with (its exit code).
    error: type[BuildError] = BuildError

    @classmethod
    def from_error(cls, name: str, err: BuildError, verdict: Verdict = "fail") -> Result:
        """The row of a check that asked the build's own code and got its error: the
        same what, why and fix the build would print, late."""
        detail = err.what + (f" ({err.why.strip()})" if err.why.strip() else "")
        return cls(name, verdict, detail, err.fix, type(err))

    @property
    def exit_code(self) -> int | None:
        return self.error.exit_code if self.verdict == "fail" else None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "detail": self.detail,
            "fix": self.fix,
            "exit_code": self.exit_code,
        }
