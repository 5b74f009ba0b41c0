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
