"""The arch / CUDA compatibility resolver: impossible requests fail before any compile.

Data (which toolkit compiles which SASS targets, which kernel family runs where)
lives in build-matrix.toml; this module only reasons over it.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import BuildError


def _num(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", version))


@dataclass(frozen=True)
class Toolkit:
    version: str
    sass: tuple[str, ...]
    arch_specific: tuple[str, ...]
    min_glibc: str
    max_gcc: int


@dataclass(frozen=True)
class Family:
    name: str
    description: str
    min_cuda: str
    min_arch: str | None = None  # runs on this arch and newer
    archs: tuple[str, ...] = ()  # or: exactly these archs
    arch_specific: bool = False  # compiled for "<arch>a" (wgmma, TMA...)

    def runs_on(self, arch: str) -> bool:
        if self.archs:
            return arch in self.archs
        return self.min_arch is not None and int(arch) >= int(self.min_arch)


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


def parse_toolkits(data: dict[str, Any]) -> dict[str, Toolkit]:
    return {
        v: Toolkit(
            version=v,
            sass=tuple(t["sass"]),
            arch_specific=tuple(t["arch-specific"]),
            min_glibc=str(t["min-glibc"]),
            max_gcc=int(t["max-gcc"]),
        )
        for v, t in data.get("cuda-toolkits", {}).items()
    }


def parse_families(data: dict[str, Any]) -> dict[str, Family]:
    return {
        n: Family(
            name=n,
            description=f.get("description", ""),
            min_cuda=f["min-cuda"],
            min_arch=f.get("min-arch"),
            archs=tuple(f.get("archs", ())),
            arch_specific=bool(f.get("arch-specific", False)),
        )
        for n, f in data.get("kernel-families", {}).items()
    }


def toolkit(toolkits: dict[str, Toolkit], cuda: str) -> Toolkit:
    if cuda not in toolkits:
        raise BuildError(
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
    toolkits: dict[str, Toolkit],
    family_table: dict[str, Family],
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
            raise BuildError(
                f"sm_{arch} is not a target of CUDA {cuda}",
                why=f"CUDA {cuda} compiles sm_{', sm_'.join(tk.sass)}",
                fix=hint,
            )
    for arch in ptx:
        if arch not in archs:
            raise BuildError(
                f"PTX for sm_{arch} was asked for, but sm_{arch} is not built",
                fix=f"add {arch} to the archs, or ptx-archs = [] ",
            )
    plan: dict[str, tuple[str, ...]] = {}
    for name in families:
        if name not in family_table:
            raise BuildError(
                f"unknown kernel family {name!r}",
                why=f"build-matrix.toml [kernel-families]: {', '.join(family_table)}",
            )
        fam = family_table[name]
        if _num(cuda) < _num(fam.min_cuda):
            raise BuildError(
                f"{name} needs CUDA >= {fam.min_cuda}, the target uses {cuda}",
                fix=f"use CUDA {fam.min_cuda} or newer for {name}",
            )
        eligible = [a for a in archs if fam.runs_on(a)]
        if not eligible:
            where = f"sm_{', sm_'.join(fam.archs)}" if fam.archs else f"sm_{fam.min_arch} and newer"
            raise BuildError(
                f"kernel family {name} runs on {where}, and none of the requested "
                f"archs (sm_{', sm_'.join(archs)}) is one of them",
                fix=f"add one of them to the archs, or drop {name} from the profile",
            )
        if fam.arch_specific:
            for arch in eligible:
                if arch not in tk.arch_specific:
                    raise BuildError(
                        f"{name} needs sm_{arch}a, which CUDA {cuda} cannot build",
                        fix="use a CUDA version that lists it in arch-specific",
                    )
            eligible = [f"{a}a" for a in eligible]
        plan[name] = tuple(eligible)
    return ArchPlan(cuda=cuda, families=plan, ptx=tuple(ptx))


def policy_glibc(policy: str) -> str:
    """'manylinux2014' -> '2.17', 'manylinux_2_28' -> '2.28'."""
    if policy == "manylinux2014":
        return "2.17"
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)", policy)
    if not match:
        raise BuildError(f"not a manylinux policy: {policy!r}")
    return f"{match.group(1)}.{match.group(2)}"


def check_platform(tk: Toolkit, *, policy: str | None = None, gcc: str | None = None) -> None:
    """The toolkit must run on the build image (glibc) and accept the host compiler."""
    if policy is not None and _num(policy_glibc(policy)) < _num(tk.min_glibc):
        raise BuildError(
            f"CUDA {tk.version}'s compiler needs glibc >= {tk.min_glibc}, "
            f"and {policy} has glibc {policy_glibc(policy)}",
            fix=f"build CUDA {tk.version} wheels for manylinux_"
            f"{tk.min_glibc.replace('.', '_')} or newer, or use an older CUDA "
            f"for {policy}",
        )
    if gcc is not None and _num(gcc)[0] > tk.max_gcc:
        raise BuildError(
            f"gcc {gcc} is newer than CUDA {tk.version} supports (gcc <= {tk.max_gcc})",
            fix=f"use gcc {tk.max_gcc} or older (CUDAHOSTCXX), or a newer CUDA",
        )


def nvcc_sass_targets(nvcc: Path) -> tuple[str, ...]:
    """What the installed nvcc says it compiles (`--list-gpu-code`), as arch numbers."""
    out = subprocess.run([str(nvcc), "--list-gpu-code"], capture_output=True, text=True).stdout
    return tuple(sorted({m for m in re.findall(r"sm_(\d+)\b", out)}, key=int))
