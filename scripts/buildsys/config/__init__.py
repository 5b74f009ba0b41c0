"""Typed configuration: build-matrix.toml and sources.lock.toml as frozen pydantic models.

    from buildsys.config import load
    cfg = load(ROOT)                      # both files, read once per process
    cfg.matrix.target("cuda-x86_64").sass_archs
    cfg.lock["cutlass"].sha256

Why pydantic (v2) rather than hand-written checks: its errors are structured (loc,
input, type and context for every problem, all of them at once), which is what lets
ConfigError name the key's full path in TOML spelling, show what was found and what
is allowed, and add a "did you mean" for an unknown key; the JSON Schema of both files
(docs/schema, `python -m buildsys.config.schema`) is generated from the same models, so
the documentation cannot drift from the checks; and strict mode refuses "5" where an
integer belongs instead of coercing it. It imports with the standard library and
pydantic only (the noxfile imports it in an environment holding just nox and pydantic).
"""

from .compat import check_glibc, glibc_problem, policy_for_glibc, policy_glibc, version_tuple
from .errors import ConfigError, Problem
from .loader import (
    LOCK_FILE,
    MATRIX_FILE,
    Config,
    clear_cache,
    cross_check,
    load,
    load_lock,
    load_matrix,
    parse_lock,
    parse_matrix,
    read_toml,
)
from .lock import KINDS, Source, SourcesLock, UnknownSourceError
from .matrix import (
    AUTO,
    ArchGroup,
    BuildMatrix,
    CutlassSm90Spec,
    Fa2Spec,
    Fa4Spec,
    Family,
    Profile,
    Python,
    SizeBudget,
    Target,
    Toolkit,
    Wheels,
)
from .values import PATTERN_HELP

__all__ = [
    "AUTO",
    "KINDS",
    "LOCK_FILE",
    "MATRIX_FILE",
    "PATTERN_HELP",
    "ArchGroup",
    "BuildMatrix",
    "Config",
    "ConfigError",
    "CutlassSm90Spec",
    "Fa2Spec",
    "Fa4Spec",
    "Family",
    "Problem",
    "Profile",
    "Python",
    "SizeBudget",
    "Source",
    "SourcesLock",
    "Target",
    "Toolkit",
    "UnknownSourceError",
    "Wheels",
    "check_glibc",
    "clear_cache",
    "cross_check",
    "glibc_problem",
    "load",
    "load_lock",
    "load_matrix",
    "parse_lock",
    "parse_matrix",
    "policy_for_glibc",
    "policy_glibc",
    "read_toml",
    "version_tuple",
]
