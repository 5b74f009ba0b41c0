"""The arch / CUDA compatibility resolver: impossible requests fail before any compile.

Data (which toolkit compiles which SASS targets, which kernel family runs where)
lives in build-matrix.toml; this module only reasons over it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..config import Family, Toolkit, check_glibc
from ..errors import ConfigError


def _num(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


@dataclass(frozen=True)
class ArchPlan:
    cuda: str
    families: dict[str, tuple[str, ...]]  # family -> compile targets ("80", "90a")
    ptx: tuple[str, ...]

    def cmake_architectures(self, family: str) -> str:
        """CMAKE_CUDA_ARCHITECTURES for one family: SASS for each, PTX where asked.

        Never PTX for an arch-specific ("90a") family: plain compute_90 PTX of Hopper
        code would be JIT-compiled without wgmma and abort at run time.
        """
        targets = self.families[family]
        real = [f"{t}-real" for t in targets]
        virtual = [f"{a}-virtual" for a in self.ptx if a in targets]
        return ";".join(real + virtual)

    def union_architectures(self) -> str:
        """Every family's compile targets at once (SASS, and PTX where asked): for code
        that belongs to no family, such as the kernel registry of a group."""
        targets = sorted({t for ts in self.families.values() for t in ts})
        real = [f"{t}-real" for t in targets]
        virtual = [f"{a}-virtual" for a in self.ptx if a in targets]
        return ";".join(real + virtual)


def toolkit(toolkits: Mapping[str, Toolkit], cuda: str) -> Toolkit:
    if cuda not in toolkits:
        raise ConfigError(
            f"CUDA {cuda} is not in build-matrix.toml's [cuda-toolkits]",
            why=f"known: {', '.join(sorted(toolkits, key=_num))}",
            fix=f'add [cuda-toolkits."{cuda}"] with its SASS targets, or use a known version',
        )
    return toolkits[cuda]


def resolve(
    *,
    cuda: str,
    archs: list[str] | tuple[str, ...],
    ptx: list[str] | tuple[str, ...],
    families: list[str] | tuple[str, ...],
    toolkits: Mapping[str, Toolkit],
    family_table: Mapping[str, Family],
) -> ArchPlan:
    tk = toolkit(toolkits, cuda)
    for arch in archs:
        if arch not in tk.sass:
            oldest = min(tk.sass, key=int)
            hint = (
                f"CUDA {cuda} dropped GPUs older than sm_{oldest}: build sm_{arch} with an "
                "older toolkit, or drop it"
                if int(arch) < int(oldest)
                else f"sm_{arch} needs a newer CUDA than {cuda}, or drop it"
            )
            raise ConfigError(
                f"sm_{arch} is not a target of CUDA {cuda}",
                why=f"CUDA {cuda} compiles sm_{', sm_'.join(tk.sass)}",
                fix=hint,
            )
    for arch in ptx:
        if arch not in archs:
            raise ConfigError(
                f"PTX for sm_{arch} was asked for, but sm_{arch} is not built",
                fix=f"add {arch} to the archs, or ptx-archs = [] ",
            )
    plan: dict[str, tuple[str, ...]] = {}
    for name in families:
        if name not in family_table:
            raise ConfigError(
                f"unknown kernel family {name!r}",
                why=f"build-matrix.toml [kernel-families]: {', '.join(family_table)}",
            )
        fam = family_table[name]
        if _num(cuda) < _num(fam.min_cuda):
            raise ConfigError(
                f"{name} needs CUDA >= {fam.min_cuda}, the target uses {cuda}",
                fix=f"use CUDA {fam.min_cuda} or newer for {name}",
            )
        eligible = [a for a in archs if fam.runs_on(a)]
        if not eligible:
            where = f"sm_{', sm_'.join(fam.archs)}" if fam.archs else f"sm_{fam.min_arch} and newer"
            raise ConfigError(
                f"kernel family {name} runs on {where}, and none of the requested "
                f"archs (sm_{', sm_'.join(archs)}) is one of them",
                fix=f"add one of them to the archs, or drop {name} from the profile",
            )
        if fam.arch_specific:
            for arch in eligible:
                if arch not in tk.arch_specific:
                    raise ConfigError(
                        f"{name} needs sm_{arch}a, which CUDA {cuda} cannot build",
                        fix="use a CUDA version that lists it in arch-specific",
                    )
            eligible = [f"{a}a" for a in eligible]
        plan[name] = tuple(eligible)
    return ArchPlan(cuda=cuda, families=plan, ptx=tuple(ptx))


def check_platform(tk: Toolkit, *, policy: str | None = None, gcc: str | None = None) -> None:
    """The toolkit must run on the build image (glibc: config.check_glibc, also run when the
    configuration loads) and accept the host compiler."""
    if policy is not None:
        check_glibc(tk, policy)
    if gcc is not None and _num(gcc)[0] > tk.max_gcc:
        raise ConfigError(
            f"gcc {gcc} is newer than CUDA {tk.version} supports (gcc <= {tk.max_gcc})",
            fix=f"use gcc {tk.max_gcc} or older (CUDAHOSTCXX), or a newer CUDA",
        )
