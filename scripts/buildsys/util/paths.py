"""Where things are: one object handed to every step (a container mounts the tree
elsewhere, a test uses a build tree of its own), never module globals fixed at import."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError

ROOT = Path(__file__).resolve().parents[3]  # the checkout that holds this buildsys


def _dir_setting(env: Mapping[str, str], name: str, default: Path) -> Path:
    if name not in env:
        return default
    value = env[name]
    if not value.strip():
        raise UsageError(
            f"{name} is set but empty",
            why="an empty path would mean the current directory, writing into the checkout",
            fix=f"set {name} to a directory, or unset it for the default ({default})",
        )
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise UsageError(
            f"{name}={value} is an existing file, not a directory",
            fix=f"point {name} at a directory",
        )
    return path.resolve()


@dataclass(frozen=True)
class Paths:
    root: Path  # the source tree
    build: Path  # the build tree: INFERCORE_BUILD_DIR, default ROOT/build
    source_cache: Path  # pinned downloads: INFERCORE_SOURCE_CACHE
    # Build-time tool environments (the CuTe DSL's) and content-addressed kernel exports
    # (FA4's): INFERCORE_TOOL_CACHE, INFERCORE_EXPORT_CACHE; None: beside source_cache.
    tool_cache_dir: Path | None = None
    export_cache_dir: Path | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, root: Path = ROOT) -> Paths:
        env = os.environ if env is None else env
        root = root.resolve()
        cache = Path.home() / ".cache" / "infercore"
        return cls(
            root=root,
            build=_dir_setting(env, "INFERCORE_BUILD_DIR", root / "build"),
            source_cache=_dir_setting(env, "INFERCORE_SOURCE_CACHE", cache / "sources"),
            tool_cache_dir=_dir_setting(env, "INFERCORE_TOOL_CACHE", cache / "tools"),
            export_cache_dir=_dir_setting(env, "INFERCORE_EXPORT_CACHE", cache / "exports"),
        )

    @property
    def tool_cache(self) -> Path:
        return self.tool_cache_dir or self.source_cache.parent / "tools"

    @property
    def export_cache(self) -> Path:
        return self.export_cache_dir or self.source_cache.parent / "exports"

    @property
    def matrix_file(self) -> Path:
        return self.root / "build-matrix.toml"

    @property
    def lock_file(self) -> Path:
        return self.root / "sources.lock.toml"

    @property
    def pyproject(self) -> Path:
        return self.root / "pyproject.toml"

    @property
    def logs(self) -> Path:
        return self.build / "logs"

    @property
    def unpacked_sources(self) -> Path:
        return self.build / "sources"

    @property
    def kernels_source(self) -> Path:
        return self.root / "csrc" / "kernels"

    @property
    def engine_tests(self) -> Path:
        return self.root / "tests" / "engine"

    def tree(self, *parts: str) -> Path:
        """A directory of the build tree named after configuration values (a target, a
        profile, a group): checked to stay under the build tree, whatever the names."""
        from .fs import inside

        return inside(self.build, self.build.joinpath(*parts), what="/".join(parts))

    def dist(self, configured: str) -> Path:
        """The dist directory of build-matrix.toml ([wheels] dist-dir), under the root."""
        return (self.root / configured).resolve()
