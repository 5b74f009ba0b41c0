"""This machine's C library and C++ compiler: what a host build's wheels and nvcc get."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from ..util import runner


def glibc() -> str | None:
    """The running glibc's version ("2.36"), or None on another C library (musl)."""
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):
        return None
    m = re.fullmatch(r"glibc (\d+\.\d+)", text.strip())
    return m.group(1) if m else None


def cxx(env: Mapping[str, str] | None = None) -> str:
    """The C++ compiler nvcc and CMake use: CUDAHOSTCXX (nvcc's host compiler), else CXX
    (CMake's), else g++."""
    env = os.environ if env is None else env
    return env.get("CUDAHOSTCXX") or env.get("CXX") or "g++"


def gcc_version(compiler: str) -> str | None:
    """GCC's full version ("12.2.0") when `compiler` is a GCC; None when it is missing or
    another compiler (clang answers -dumpfullversion too, with its own version)."""
    banner = runner.probe([compiler, "--version"])
    if not banner or "clang" in banner.splitlines()[0].lower():
        return None
    version = runner.probe([compiler, "-dumpfullversion"]).strip()
    return version if re.fullmatch(r"\d+(\.\d+)*", version) else None
