"""Small version and platform helpers, shared by the load-time checks and the CUDA code.

Ported from cudaarch.py (its _num, policy_glibc and the glibc half of check_platform),
so the rules live in one place and hold from the moment the files are loaded.
"""

from __future__ import annotations

import re
from typing import Protocol

from ..errors import BuildError

DEFAULT_POLICY = "manylinux2014"
# The manylinux policies that are older names for a glibc (PEP 600 aliases).
LEGACY_POLICIES = {"manylinux2014": "2.17"}


class _Toolkit(Protocol):
    version: str
    min_glibc: str


def version_tuple(version: str) -> tuple[int, ...]:
    """'13.0' -> (13, 0); '12.2.0' -> (12, 2, 0): the digits, for comparisons."""
    return tuple(int(p) for p in re.findall(r"\d+", version))


def policy_glibc(policy: str) -> str:
    """'manylinux2014' -> '2.17', 'manylinux_2_28' -> '2.28'; anything else is an error."""
    if policy in LEGACY_POLICIES:
        return LEGACY_POLICIES[policy]
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)", policy)
    if not match:
        raise BuildError(
            f"not a manylinux policy: {policy!r}",
            why="the glibc a wheel needs is read from its policy name",
            fix='use "manylinux2014" or "manylinux_X_Y" (glibc X.Y), e.g. "manylinux_2_28"',
        )
    return f"{int(match.group(1))}.{int(match.group(2))}"


def policy_for_glibc(glibc: str) -> str:
    """'2.28' -> 'manylinux_2_28'."""
    return "manylinux_" + "_".join(str(p) for p in version_tuple(glibc))


def glibc_problem(toolkit: _Toolkit, policy: str) -> BuildError | None:
    """Why `toolkit` cannot build wheels for `policy` (its compiler needs a newer glibc
    than the policy's build image has), or None when it can."""
    have = policy_glibc(policy)
    if version_tuple(have) >= version_tuple(toolkit.min_glibc):
        return None
    return BuildError(
        f"CUDA {toolkit.version}'s compiler needs glibc >= {toolkit.min_glibc}, "
        f"and {policy} has glibc {have}",
        fix=f"build CUDA {toolkit.version} wheels for {policy_for_glibc(toolkit.min_glibc)} "
        f"or newer, or use an older CUDA for {policy}",
    )


def check_glibc(toolkit: _Toolkit, policy: str) -> None:
    """Raise the glibc_problem, if any (cudaarch.check_platform's policy check)."""
    if (problem := glibc_problem(toolkit, policy)) is not None:
        raise problem
