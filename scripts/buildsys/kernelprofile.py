"""Kernel profiles: which fast kernels an arch group's library contains.

build-matrix.toml declares arch groups ([kernel-archs.sm90]: SASS/PTX archs and
kernel families) and profiles ([kernel-profiles.ci]: per family, head dims,
dtypes, causal flags...). `plan()` combines one of each with a CUDA version into
a KernelPlan: the translation units to compile and the CMake definitions that
make the dispatch table, checked by the arch/CUDA resolver before any compile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import cudaarch
from .errors import BuildError

FA2_HEADDIMS = (32, 64, 96, 128, 192, 256)  # what FA2 2.8.3 ships TUs for
FMHA_HEADDIMS = (64, 128, 256)  # what CUTLASS's Hopper FMHA example configures
DTYPES = ("bf16", "fp16")
# Features the engine's API never asks for: compiled out, which halves the
# instantiations per FA2 TU each (about 2x less compile time in total).
FA2_DISABLED = ("DROPOUT", "ALIBI", "SOFTCAP", "LOCAL", "UNEVEN_K")


@dataclass(frozen=True)
class ArchGroup:
    name: str  # "sm90"
    description: str
    archs: tuple[str, ...]
    ptx: tuple[str, ...]
    families: tuple[str, ...]


@dataclass(frozen=True)
class Fa2Spec:
    headdims: tuple[int, ...]
    dtypes: tuple[str, ...]
    causal: tuple[bool, ...]
    split: tuple[bool, ...]

    def units(self) -> list[str]:
        """Upstream's TU names (generate_kernels.py), one per combination."""
        names = []
        for split in self.split:
            prefix = "flash_fwd_split_" if split else "flash_fwd_"
            for hdim in self.headdims:
                for dtype in self.dtypes:
                    for causal in self.causal:
                        suffix = "_causal" if causal else ""
                        names.append(f"{prefix}hdim{hdim}_{dtype}{suffix}_sm80")
        return names


@dataclass(frozen=True)
class CutlassSm90Spec:
    gemm_dtypes: tuple[str, ...]
    fmha_headdims: tuple[int, ...]
    fmha_dtypes: tuple[str, ...]
    fmha_causal: tuple[bool, ...]

    def units(self) -> list[str]:
        names = [f"gemm_sm90_{d}" for d in self.gemm_dtypes]
        for hdim in self.fmha_headdims:
            for dtype in self.fmha_dtypes:
                for causal in self.fmha_causal:
                    names.append(f"fmha_sm90_hdim{hdim}_{dtype}{'_causal' if causal else ''}")
        return names


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    fa2: Fa2Spec | None = None
    cutlass_sm90: CutlassSm90Spec | None = None


@dataclass(frozen=True)
class KernelPlan:
    """One arch group built with one profile: everything the kernels CMake project needs."""

    group: ArchGroup
    profile: Profile
    cuda: str
    arch_plan: cudaarch.ArchPlan
    units: dict[str, list[str]] = field(default_factory=dict)  # family -> TU names

    @property
    def library(self) -> str:
        return f"infercore_kernels_{self.group.name}"

    def cc_range(self, family: str) -> tuple[int, int]:
        """Compute capabilities the family's code runs on: SASS sm_XY on XY..X9 (same
        major), arch-specific sm_XYa on XY only, PTX for XY on XY and anything newer."""
        lo, hi = 10**6, 0
        for t in self.arch_plan.families[family]:
            cc = int(t.rstrip("a"))
            lo = min(lo, cc)
            hi = max(hi, cc if t.endswith("a") else cc // 10 * 10 + 9)
            if t in self.arch_plan.ptx:
                hi = 999
        return lo, hi

    def cmake_defines(self) -> dict[str, str]:
        on_off = {True: "ON", False: "OFF"}
        defines = {
            "INFERCORE_KERNEL_GROUP": self.group.name,
            "INFERCORE_KERNEL_PROFILE": self.profile.name,
            "INFERCORE_KERNEL_FAMILIES": ";".join(self.units),
        }
        if (fa2 := self.profile.fa2) is not None and "fa2" in self.units:
            defines |= {
                "INFERCORE_FA2_ARCHITECTURES": self.arch_plan.cmake_architectures("fa2"),
                "INFERCORE_FA2_HEADDIMS": ";".join(map(str, fa2.headdims)),
                "INFERCORE_FA2_DTYPES": ";".join(fa2.dtypes),
                "INFERCORE_FA2_CAUSAL": ";".join(on_off[c] for c in fa2.causal),
                "INFERCORE_FA2_SPLIT": ";".join(on_off[s] for s in fa2.split),
                "INFERCORE_FA2_DISABLE": ";".join(FA2_DISABLED),
            }
        if (cs := self.profile.cutlass_sm90) is not None and "cutlass-sm90" in self.units:
            defines |= {
                "INFERCORE_CUTLASS_SM90_GEMM_DTYPES": ";".join(cs.gemm_dtypes),
                "INFERCORE_CUTLASS_SM90_FMHA_HEADDIMS": ";".join(map(str, cs.fmha_headdims)),
                "INFERCORE_CUTLASS_SM90_FMHA_DTYPES": ";".join(cs.fmha_dtypes),
                "INFERCORE_CUTLASS_SM90_FMHA_CAUSAL": ";".join(on_off[c] for c in cs.fmha_causal),
            }
        return defines


def _list(table: dict[str, Any], key: str, where: str, kind: type, default: Any = None) -> tuple:
    value = table.get(key, default)
    if value is None:
        raise BuildError(f"{where} in build-matrix.toml has no {key!r}", fix=f"add {key} = [...]")
    if not isinstance(value, list) or not value or not all(type(v) is kind for v in value):
        raise BuildError(
            f"{where}.{key} in build-matrix.toml must be a non-empty list of {kind.__name__}, "
            f"got {value!r}",
        )
    return tuple(value)


def _choices(values: tuple, allowed: tuple, where: str, key: str) -> tuple:
    bad = [v for v in values if v not in allowed]
    if bad:
        raise BuildError(
            f"{where}.{key} has {', '.join(map(str, bad))}",
            why=f"supported: {', '.join(map(str, allowed))}",
            fix="pick from the supported values",
        )
    return values


def parse_groups(data: dict[str, Any]) -> dict[str, ArchGroup]:
    groups = {}
    for name, t in data.get("kernel-archs", {}).items():
        where = f"[kernel-archs.{name}]"
        groups[name] = ArchGroup(
            name=name,
            description=str(t.get("description", "")),
            archs=_list(t, "archs", where, str),
            ptx=tuple(t.get("ptx", [])),
            families=_list(t, "families", where, str),
        )
    return groups


def parse_profiles(data: dict[str, Any]) -> dict[str, Profile]:
    profiles = {}
    for name, t in data.get("kernel-profiles", {}).items():
        fa2 = cs = None
        if "fa2" in t:
            where, f = f"[kernel-profiles.{name}.fa2]", t["fa2"]
            fa2 = Fa2Spec(
                headdims=_choices(
                    _list(f, "headdims", where, int), FA2_HEADDIMS, where, "headdims"
                ),
                dtypes=_choices(_list(f, "dtypes", where, str), DTYPES, where, "dtypes"),
                causal=_list(f, "causal", where, bool),
                split=_list(f, "split", where, bool, [False]),
            )
            if False not in fa2.split:
                # The dispatch table lists the plain kernels; split-KV ones only serve the
                # shapes whose plain grid would leave SMs idle (decode, small batches).
                raise BuildError(
                    f"{where}.split = {f['split']}: split-KV kernels complement the plain ones",
                    why="the plain kernels are what the dispatch table lists, and they run "
                    "whenever the GPU is full without splitting",
                    fix="use split = [false, true] (or [false] for no split-KV kernels)",
                )
        if "cutlass-sm90" in t:
            where, c = f"[kernel-profiles.{name}.cutlass-sm90]", t["cutlass-sm90"]
            cs = CutlassSm90Spec(
                gemm_dtypes=_choices(
                    _list(c, "gemm-dtypes", where, str), ("bf16",), where, "gemm-dtypes"
                ),
                fmha_headdims=_choices(
                    _list(c, "fmha-headdims", where, int), FMHA_HEADDIMS, where, "fmha-headdims"
                ),
                fmha_dtypes=_choices(
                    _list(c, "fmha-dtypes", where, str), DTYPES, where, "fmha-dtypes"
                ),
                fmha_causal=_list(c, "fmha-causal", where, bool),
            )
        profiles[name] = Profile(
            name=name, description=str(t.get("description", "")), fa2=fa2, cutlass_sm90=cs
        )
    return profiles


def _pick(table: dict[str, Any], name: str, what: str, flag: str) -> Any:
    if name not in table:
        known = ", ".join(sorted(table)) or "(none)"
        raise BuildError(
            f"unknown {what} {name!r}",
            why=f"build-matrix.toml defines: {known}",
            fix=f"pass one of them ({flag} {sorted(table)[0] if table else '...'})",
        )
    return table[name]


def plan(
    *,
    group: str,
    profile: str,
    cuda: str,
    data: dict[str, Any],
) -> KernelPlan:
    """Resolve (group, profile, CUDA) to a KernelPlan, or fail before any compile."""
    groups, profiles = parse_groups(data), parse_profiles(data)
    grp: ArchGroup = _pick(groups, group, "kernel arch group", "kernels-")
    prof: Profile = _pick(profiles, profile, "kernel profile", "--profile")
    specs: dict[str, Fa2Spec | CutlassSm90Spec | None] = {
        "fa2": prof.fa2,
        "cutlass-sm90": prof.cutlass_sm90,
    }
    families = [f for f in grp.families if specs.get(f) is not None]
    if not families:
        raise BuildError(
            f"profile {profile!r} builds nothing for {group}",
            why=f"{group} compiles {', '.join(grp.families)}; the profile declares "
            f"{', '.join(f for f, s in specs.items() if s) or 'no family'}",
            fix=f"add [kernel-profiles.{profile}.{grp.families[0]}], or use another profile",
        )
    arch_plan = cudaarch.resolve(
        cuda=cuda,
        archs=grp.archs,
        ptx=grp.ptx,
        families=families,
        toolkits=cudaarch.parse_toolkits(data),
        family_table=cudaarch.parse_families(data),
    )
    units = {f: spec.units() for f in families if (spec := specs[f]) is not None}
    return KernelPlan(group=grp, profile=prof, cuda=cuda, arch_plan=arch_plan, units=units)
