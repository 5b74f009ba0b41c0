"""The models of sources.lock.toml: every downloaded input, pinned by sha256."""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from .. import errors as _errors
from .values import (
    Model,
    Release,
    RelPathOrEmpty,
    SafeName,
    Sha256,
    ToolchainName,
    Url,
    UrlOrEmpty,
    check,
    did_you_mean,
    known_list,
    list_of,
    raise_checks,
    tuple_of,
)

KINDS = ("wheel", "sdist", "tarball", "deb")
TOOLCHAIN_PREFIX = "cuda-"  # a toolchain's name is this and its CUDA version
TOOLCHAIN_COMPILER = "nvidia-cuda-nvcc"  # every toolchain has it; its version is nvcc's
Kind = Literal["wheel", "sdist", "tarball", "deb"]


_Base: type[_errors.BuildError] = getattr(_errors, "ConfigError", _errors.BuildError)


class UnknownSourceError(_Base, KeyError):  # type: ignore[misc,valid-type]
    """lock[name] for a name the lock does not pin: a BuildError that names the known
    ones, and a KeyError, as a dict's lookup would raise."""

    def __str__(self) -> str:
        return _errors.BuildError.__str__(self)


class Source(Model):
    """[[source]]: one downloaded input, pinned by sha256, with its mirrors in order."""

    name: SafeName = Field(description="the source's name, unique in the lock")
    version: Release = Field(description="its upstream version", examples=["4.2.0.0"])
    kind: Kind = Field(
        description="wheel, sdist, tarball or deb (a Debian package: its data archive): "
        "how it is unpacked"
    )
    filename: SafeName = Field(
        description="the file's name in the cache and in mirror directories; unique"
    )
    sha256: Sha256 = Field(description="the file's sha256, 64 lowercase hex digits")
    urls: Annotated[tuple_of(Url), Field(min_length=1)] = Field(
        description="where to download it, tried in order"
    )
    root: RelPathOrEmpty = Field(
        "", description="the directory inside the artifact that the build uses"
    )
    upstream: UrlOrEmpty = Field(
        "", description="the project's own release of this version, for reference"
    )
    conan_recipe: SafeName | None = Field(
        None,
        alias="conan-recipe",
        description="the Conan recipe (conan/recipes) whose conandata.yml this entry pins",
    )
    toolchain: ToolchainName | None = Field(
        None,
        description="the pinned toolchain this wheel is part of: all the wheels with the same "
        'toolchain ("cuda-13.0": nvcc, its compiler parts, the CUDA runtime and CCCL) are '
        "assembled into one CUDA_HOME prefix (`python -m buildsys toolchain`), used by "
        "`--toolchain pinned` and inside the images; its CUDA version must be in "
        "build-matrix.toml's [cuda-toolkits]",
        examples=["cuda-13.0"],
    )

    @property
    def toolchain_cuda(self) -> str | None:
        """The CUDA version of the toolchain this wheel belongs to ("13.0"), if any."""
        return self.toolchain.removeprefix(TOOLCHAIN_PREFIX) if self.toolchain else None


class SourcesLock(Model):
    """sources.lock.toml: every input the build downloads, pinned by sha256."""

    # `source` is the TOML's array of tables, in file order. The lock reads like the
    # dict sources.parse_lock returned: lock[name], lock.get(name), name in lock,
    # list(lock) (names), lock.values(), lock.items(), len(lock); `sources` is that
    # dict itself.

    source: list_of(Source) = Field((), description="the pinned inputs")

    @property
    def sources(self) -> dict[str, Source]:
        return {s.name: s for s in self.source}

    def __getitem__(self, name: str) -> Source:
        for s in self.source:
            if s.name == name:
                return s
        hint = did_you_mean(name, self.sources)
        raise UnknownSourceError(
            f"sources.lock.toml pins no source {name!r}" + (f" ({hint})" if hint else ""),
            why=f"it pins: {known_list(self.sources)}",
            fix="add a [[source]] for it (nox -s sources -- --pin NAME --url URL)",
        )

    def get(self, name: str, default: Source | None = None) -> Source | None:
        return self.sources.get(name, default)

    def __contains__(self, name: object) -> bool:
        return name in self.sources

    def __iter__(self) -> Iterator[str]:  # type: ignore[override]
        return iter(self.sources)

    def __len__(self) -> int:
        return len(self.source)

    def keys(self) -> KeysView[str]:
        return self.sources.keys()

    def values(self) -> ValuesView[Source]:
        return self.sources.values()

    def items(self) -> ItemsView[str, Source]:
        return self.sources.items()

    @property
    def toolchains(self) -> dict[str, tuple[Source, ...]]:
        """CUDA version ("13.0") -> the wheels of its pinned toolchain, in file order."""
        out: dict[str, list[Source]] = {}
        for s in self.source:
            if s.toolchain_cuda is not None:
                out.setdefault(s.toolchain_cuda, []).append(s)
        return {cuda: tuple(wheels) for cuda, wheels in out.items()}

    @model_validator(mode="after")
    def _toolchains(self) -> SourcesLock:
        """A toolchain's entries are wheels with one root (the unpacker takes one), and
        one of them is the compiler."""
        problems: list[dict[str, Any]] = []
        roots: dict[str, tuple[int, str]] = {}
        first_entry: dict[str, int] = {}
        for i, src in enumerate(self.source):
            if src.toolchain is None:
                continue
            first_entry.setdefault(src.toolchain, i)
            if src.kind != "wheel":
                problems.append(
                    check(
                        ("source", i, "kind"),
                        f"toolchain {src.toolchain!r} is assembled from wheels only",
                        found=src.kind,
                        allowed='"wheel"',
                        fix="pin the wheel of this component, or remove toolchain from the entry",
                    )
                )
            if not src.root:
                problems.append(
                    check(
                        ("source", i, "root"),
                        "a toolchain wheel needs the directory that becomes the prefix",
                        found=src.root,
                        allowed='the wheel\'s top directory, e.g. "nvidia/cu13"',
                        fix='set root = "nvidia/cu13" (CUDA 13 wheels)',
                    )
                )
                continue
            first = roots.setdefault(src.toolchain, (i, src.root))
            if first[1] != src.root:
                problems.append(
                    check(
                        ("source", i, "root"),
                        f"the wheels of toolchain {src.toolchain!r} must share one root "
                        f"([[source]] #{first[0] + 1} has {first[1]!r})",
                        found=src.root,
                        allowed=repr(first[1]),
                        fix="give every wheel of the toolchain the same root",
                    )
                )
        for name, i in first_entry.items():
            if not any(s.toolchain == name and s.name == TOOLCHAIN_COMPILER for s in self.source):
                problems.append(
                    check(
                        ("source", i, "toolchain"),
                        f"toolchain {name!r} has no {TOOLCHAIN_COMPILER} wheel (its nvcc)",
                        found=name,
                        allowed=f"a toolchain whose wheels include {TOOLCHAIN_COMPILER}",
                        fix=f'pin {TOOLCHAIN_COMPILER} with toolchain = "{name}"',
                    )
                )
        raise_checks(problems)
        return self

    @model_validator(mode="after")
    def _unique(self) -> SourcesLock:
        problems: list[dict[str, Any]] = []
        for key in ("name", "filename"):
            first: dict[str, int] = {}
            for i, src in enumerate(self.source):
                value = getattr(src, key)
                if value in first:
                    problems.append(
                        check(
                            ("source", i, key),
                            f"{key} {value!r} is pinned twice "
                            f"(also [[source]] #{first[value] + 1})",
                            found=value,
                            allowed=f"a {key} of its own",
                            fix="remove one of the two entries, or rename one",
                        )
                    )
                else:
                    first[value] = i
        raise_checks(problems)
        return self
