"""build-matrix.toml: the declarative source of truth, loaded and checked."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cudaarch import Family, Toolkit, parse_families, parse_toolkits
from .errors import BuildError
from .project import ROOT, load_toml

MATRIX_FILE = ROOT / "build-matrix.toml"
AUTO = "auto"


@dataclass(frozen=True)
class Target:
    """One build target: a platform, and for CUDA its toolkit and GPU archs."""

    name: str
    description: str
    platform: str  # "x86", "arm" or "cuda"
    arch: str  # "x86_64" or "aarch64"
    cuda: str | None = None
    sass_archs: tuple[str, ...] = ()
    ptx_archs: tuple[str, ...] = ()
    kernel_archs: tuple[str, ...] = ()  # arch groups whose kernel libraries it links
    kernel_profile: str | None = None

    @property
    def is_cuda(self) -> bool:
        return self.platform == "cuda"


@dataclass(frozen=True)
class BuildMatrix:
    python_versions: tuple[str, ...]
    targets: dict[str, Target]
    dist_dir: Path
    manylinux: str
    repair_exclude: tuple[str, ...]
    size_budget_mib: dict[str, float]
    images: dict[str, str] = field(default_factory=dict)
    toolkits: dict[str, Toolkit] = field(default_factory=dict)
    families: dict[str, Family] = field(default_factory=dict)

    def target(self, name: str) -> Target:
        try:
            return self.targets[name]
        except KeyError:
            known = ", ".join(sorted(self.targets))
            raise BuildError(
                f"unknown build target {name!r}",
                why=f"build-matrix.toml defines: {known}",
                fix=f"pass one of them (--target {sorted(self.targets)[0]}) or '{AUTO}'",
            ) from None

    def default_target(self, *, cuda_available: bool) -> Target:
        """The `auto` target: CUDA for this machine's arch when nvcc is there, else CPU."""
        platform = "cuda" if cuda_available else "x86"
        for target in self.targets.values():
            if target.platform == platform and target.arch == "x86_64":
                return target
        raise BuildError(f"build-matrix.toml has no x86_64 target for platform {platform!r}")


def _str_list(table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BuildError(
            f"{where}.{key} in build-matrix.toml must be a list of strings, got {value!r}",
            fix=f'write it as {key} = ["..."]',
        )
    return tuple(value)


def _target(name: str, table: dict[str, Any]) -> Target:
    where = f"[targets.{name}]"
    for key in ("platform", "arch"):
        if key not in table:
            raise BuildError(f"{where} in build-matrix.toml has no {key!r}", fix=f"add {key} = ...")
    platform = table["platform"]
    if platform not in ("x86", "arm", "cuda"):
        raise BuildError(f"{where}.platform is {platform!r}", why="expected 'x86', 'arm' or 'cuda'")
    sass = _str_list(table, "sass-archs", where)
    ptx = _str_list(table, "ptx-archs", where)
    if platform == "cuda" and (not sass or "cuda" not in table):
        raise BuildError(
            f"{where} is a CUDA target without a CUDA version or SASS archs",
            fix='set cuda = "13.0" and sass-archs = ["80", "90"]',
        )
    return Target(
        name=name,
        description=str(table.get("description", "")),
        platform=platform,
        arch=str(table["arch"]),
        cuda=str(table["cuda"]) if "cuda" in table else None,
        sass_archs=sass,
        ptx_archs=ptx,
        kernel_archs=_str_list(table, "kernel-archs", where),
        kernel_profile=table.get("kernel-profile"),
    )


def parse(data: dict[str, Any]) -> BuildMatrix:
    wheels = data.get("wheels", {})
    return BuildMatrix(
        python_versions=_str_list(data.get("python", {}), "versions", "[python]"),
        targets={name: _target(name, t) for name, t in data.get("targets", {}).items()},
        dist_dir=ROOT / wheels.get("dist-dir", "dist"),
        manylinux=str(wheels.get("manylinux", "manylinux2014")),
        repair_exclude=_str_list(wheels, "repair-exclude", "[wheels]"),
        size_budget_mib={k: float(v) for k, v in wheels.get("size-budget-mib", {}).items()},
        images={k: str(v) for k, v in data.get("images", {}).items()},
        toolkits=parse_toolkits(data),
        families=parse_families(data),
    )


@functools.cache
def load(path: Path = MATRIX_FILE) -> BuildMatrix:
    return parse(load_toml(path))
