"""Constrained value types shared by the models of build-matrix.toml and sources.lock.toml.

Each pattern is anchored and checked by pydantic-core's Rust regex engine, where `$`
matches only at the very end of the string (a trailing newline never slips through).
PATTERN_HELP says in words what each pattern allows; error messages quote it.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic_core import PydanticCustomError, PydanticKnownError, core_schema

# The key under which a table's own name (its key in the parent table) is handed to
# the model of the table: [targets.cuda-x86_64] -> Target(name="cuda-x86_64"). The
# parentheses keep it out of the way of any real key; the loader's formatter reports
# errors at it as errors of the table's name.
NAME_KEY = "(name)"

SAFE_NAME = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$"
VERSION = r"^[0-9]+(\.[0-9]+)+$"
RELEASE = r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$"
COMPILER_VERSION = r"^[0-9]+(\.[0-9]+)*$"
PYTHON_VERSION = r"^3\.[0-9]+$"
ARCH = r"^[1-9][0-9]{1,2}$"
SHA256 = r"^[0-9a-f]{64}$"
URL = r"^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\s\"'<>\\]*)?$"
URL_OR_EMPTY = r"^(https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[^\s\"'<>\\]*)?)?$"
IMAGE = r"^[a-z0-9][a-z0-9._/:-]*@sha256:[0-9a-f]{64}$"
POLICY = r"^(manylinux2014|manylinux_[0-9]+_[0-9]+)$"
CROSS_PREFIX = r"^[A-Za-z0-9_./+-]+$"
REL_PATH = r"^[A-Za-z0-9._+-]+(/[A-Za-z0-9._+-]+)*$"
REL_PATH_OR_EMPTY = r"^([A-Za-z0-9._+-]+(/[A-Za-z0-9._+-]+)*)?$"
TOOLCHAIN = r"^cuda-[0-9]+\.[0-9]+$"
# ccache's remote storage: redis://[[USER]:PASSWORD@]HOST[:PORT][/DB] or
# http(s)://HOST[:PORT]/PATH, optionally with ccache's |attribute=value options; one
# backend (a space would start a second).
CCACHE_REMOTE = r"^((redis|http|https)://[^\s|]+(\|[a-z][a-z-]*=[^\s|]*)*)?$"
SIZE = r"^[0-9]+(\.[0-9]+)?[KMGT]i?$"

PATTERN_HELP = {
    CCACHE_REMOTE: 'a ccache remote storage URL like "redis://HOST:PORT" or '
    '"http://HOST:PORT/PATH" (optionally with |attribute=value options), or "" for none',
    SIZE: 'a size like "20G", "500M" or "1.5Ti"',
    SAFE_NAME: "one safe path component: 1-128 of A-Z a-z 0-9 . _ + -, starting with a "
    "letter or digit, without '..'",
    VERSION: 'a version like "13.0" or "2.28"',
    RELEASE: 'a release version like "4.2.0.0" or "2.8.3" (A-Z a-z 0-9 . _ + -, no "..")',
    COMPILER_VERSION: 'a version like "12" or "19.1"',
    PYTHON_VERSION: 'a CPython version like "3.12"',
    ARCH: 'an SM arch number like "80", "90" or "100" (no "sm_" and no "a")',
    SHA256: "64 lowercase hex digits",
    URL: "an http:// or https:// URL",
    URL_OR_EMPTY: 'an http:// or https:// URL, or ""',
    IMAGE: 'an image reference pinned by digest: "registry/name@sha256:<64 hex digits>"',
    POLICY: '"manylinux2014" or "manylinux_X_Y" (glibc X.Y)',
    CROSS_PREFIX: 'a toolchain prefix like "aarch64-linux-gnu-"',
    REL_PATH: "a relative path (components of A-Z a-z 0-9 . _ + -, no '..')",
    REL_PATH_OR_EMPTY: "a relative path (components of A-Z a-z 0-9 . _ + -, no '..'), or \"\"",
    TOOLCHAIN: 'a pinned toolchain\'s name: "cuda-" and a CUDA version, like "cuda-13.0"',
}

# A value of each pattern, for the "fix: add KEY = VALUE" of a missing key.
PATTERN_EXAMPLE = {
    SAFE_NAME: '"name"',
    VERSION: '"13.0"',
    RELEASE: '"1.0.0"',
    COMPILER_VERSION: '"12"',
    PYTHON_VERSION: '"3.12"',
    ARCH: '"90"',
    SHA256: '"<the sha256 of the file>"',
    URL: '"https://..."',
    URL_OR_EMPTY: '"https://..."',
    IMAGE: '"quay.io/pypa/manylinux_2_28_x86_64@sha256:..."',
    POLICY: '"manylinux_2_28"',
    CROSS_PREFIX: '"aarch64-linux-gnu-"',
    REL_PATH: '"dist"',
    REL_PATH_OR_EMPTY: '""',
    TOOLCHAIN: '"cuda-13.0"',
}


class SchemaExtra:
    """Annotation metadata that adds keys to a type's JSON Schema and changes nothing else."""

    def __init__(self, **extra: Any) -> None:
        self.extra = extra

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        js = handler(schema)
        js.update(self.extra)
        return js


def fail(kind: str, message: str, **ctx: Any) -> PydanticCustomError:
    """A validation error of our own: `message` verbatim (never a format template), and
    ctx keys the loader's formatter reads: allowed, fix, problems."""
    return PydanticCustomError(kind, "{message}", {"message": message, **ctx})


def _no_dotdot(value: str) -> str:
    if ".." in value:
        raise fail(
            "unsafe_name",
            "'..' is not allowed in a name that becomes a file or directory name",
            allowed=PATTERN_HELP[SAFE_NAME],
        )
    return value


def _no_dotdot_component(value: str) -> str:
    if ".." in value.split("/"):
        raise fail(
            "unsafe_path",
            "'..' is not allowed: the path must stay inside its directory",
            allowed=PATTERN_HELP[REL_PATH],
        )
    return value


def _as_tuple(value: Any) -> Any:
    """TOML arrays arrive as lists; the models hold tuples (frozen all the way down)."""
    return tuple(value) if isinstance(value, list) else value


def _unique(values: tuple[Any, ...]) -> tuple[Any, ...]:
    seen: list[Any] = []
    for v in values:
        # type() too: true == 1 in Python, but not in TOML.
        if any(type(s) is type(v) and s == v for s in seen):
            raise fail("duplicate", f"{v!r} is listed twice", allowed="each value once")
        seen.append(v)
    return values


def _int_only(value: Any) -> Any:
    """Literal[64, 128] alone would take 128.0 (== 128) and even True for 1."""
    if type(value) is not int:
        raise PydanticKnownError("int_type")
    return value


def pattern(regex: str) -> Any:
    return Annotated[str, StringConstraints(pattern=regex)]


def tuple_of(item: Any) -> Any:
    """A TOML array of `item`, each value at most once."""
    return Annotated[
        tuple[item, ...],
        BeforeValidator(_as_tuple),
        AfterValidator(_unique),
        SchemaExtra(uniqueItems=True),
    ]


def list_of(item: Any) -> Any:
    """A TOML array of `item` (an array of tables, say), duplicates checked elsewhere."""
    return Annotated[tuple[item, ...], BeforeValidator(_as_tuple)]


def int_choice(item: Any) -> Any:
    """An integer out of a Literal, never a float or a bool that compares equal."""
    return Annotated[item, BeforeValidator(_int_only)]


SafeName = Annotated[
    str,
    StringConstraints(pattern=SAFE_NAME),
    AfterValidator(_no_dotdot),
    SchemaExtra(**{"not": {"pattern": r"\.\."}}),
]
Version = pattern(VERSION)
Release = Annotated[
    str,
    StringConstraints(pattern=RELEASE),
    AfterValidator(_no_dotdot),
    SchemaExtra(**{"not": {"pattern": r"\.\."}}),
]
CompilerVersion = pattern(COMPILER_VERSION)
PythonVersion = pattern(PYTHON_VERSION)
Arch = pattern(ARCH)
Sha256 = pattern(SHA256)
Url = pattern(URL)
UrlOrEmpty = pattern(URL_OR_EMPTY)
ImageRef = pattern(IMAGE)
Policy = pattern(POLICY)
CrossPrefix = pattern(CROSS_PREFIX)
RelPath = Annotated[str, StringConstraints(pattern=REL_PATH), AfterValidator(_no_dotdot_component)]
RelPathOrEmpty = Annotated[
    str, StringConstraints(pattern=REL_PATH_OR_EMPTY), AfterValidator(_no_dotdot_component)
]

ToolchainName = pattern(TOOLCHAIN)
ArchList = tuple_of(Arch)
NameList = tuple_of(SafeName)


def _title(name: str, info: Any) -> str:
    return info.alias or name


class Model(BaseModel):
    """Base of every model: frozen, unknown keys refused, strict types.

    Strict: a string where an integer belongs is an error, not "5" -> 5; only an integer
    is taken where a number is expected. validate_by_name lets Python code build models
    with the snake_case names (Target(sass_archs=...)); the loader validates TOML data
    by alias only, so a file must spell every key the TOML way (sass-archs).
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        strict=True,
        validate_by_alias=True,
        validate_by_name=True,
        field_title_generator=_title,
    )


def check(
    loc: tuple[str | int, ...],
    message: str,
    *,
    found: Any = None,
    allowed: str = "",
    fix: str = "",
) -> dict[str, Any]:
    """One problem found by a model's own checks; `loc` is relative to the model."""
    return {"loc": loc, "message": message, "found": found, "allowed": allowed, "fix": fix}


def raise_checks(problems: list[dict[str, Any]]) -> None:
    if problems:
        text = "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['message']}" for p in problems)
        raise fail("config_check", text, problems=problems)


def close_match(name: Any, known: Any) -> str | None:
    """The one of `known` that `name` is most likely a typo of, if any is close."""
    match = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return match[0] if match else None


def did_you_mean(name: Any, known: Any) -> str:
    """ "did you mean 'ci'?" for a close match among `known`, else ""."""
    match = close_match(name, known)
    return f"did you mean {match!r}?" if match else ""


def known_list(known: Any) -> str:
    names = sorted(str(k) for k in known)
    return ", ".join(names) if names else "(none)"
