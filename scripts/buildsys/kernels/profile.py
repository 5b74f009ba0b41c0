"""Kernel profiles: which fast kernels an arch group's library contains.

build-matrix.toml declares arch groups ([kernel-archs.sm90]: SASS/PTX archs and
kernel families) and profiles ([kernel-profiles.ci]: per family, head dims,
dtypes, causal flags...). `plan()` combines one of each with a CUDA version into
a KernelPlan: the translation units to compile and the CMake definitions that
make the dispatch table, checked by the arch/CUDA resolver before any compile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import ArchGroup, BuildMatrix, Profile
from ..cuda import archs
from ..errors import ConfigError

FA2_HEADDIMS = (32, 64, 96, 128, 192, 256)  # what FA2 2.8.3 ships TUs for
FMHA_HEADDIMS = (64, 128, 256)  # what CUTLASS's Hopper FMHA example configures
DTYPES = ("bf16", "fp16")
# Features the engine's API never asks for: compiled out, which halves the
# instantiations per FA2 TU each (about 2x less compile time in total).
FA2_DISABLED = ("DROPOUT", "ALIBI", "SOFTCAP", "LOCAL", "UNEVEN_K")


@dataclass(frozen=True)
class KernelPlan:
    """One arch group built with one profile: everything the kernels CMake project needs."""

    group: ArchGroup
    profile: Profile
    cuda: str
    arch_plan: archs.ArchPlan
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
        """The profile's lists for the families this group compiles (the same for every
        group of the profile); the per-group archs come from kernels.build.cmake_inputs."""
        on_off = {True: "ON", False: "OFF"}
        defines = {"INFERCORE_KERNEL_PROFILE": self.profile.name}
        if (fa2 := self.profile.fa2) is not None and "fa2" in self.units:
            defines |= {
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


def plan(*, group: str, profile: str, cuda: str, matrix: BuildMatrix) -> KernelPlan:
    """Resolve (group, profile, CUDA) to a KernelPlan, or fail before any compile."""
    grp = matrix.group(group)
    prof = matrix.profile(profile)
    specs = prof.specs()
    families = [f for f in grp.families if f in specs]
    if not families:
        raise ConfigError(
            f"profile {profile!r} builds nothing for {group}",
            why=f"{group} compiles {', '.join(grp.families)}; the profile declares "
            f"{', '.join(specs) or 'no family'}",
            fix=f"add [kernel-profiles.{profile}.{grp.families[0]}], or use another profile",
        )
    arch_plan = archs.resolve(
        cuda=cuda,
        archs=grp.archs,
        ptx=grp.ptx,
        families=families,
        toolkits=matrix.toolkits,
        family_table=matrix.families,
    )
    units = {f: specs[f].units() for f in families}
    return KernelPlan(group=grp, profile=prof, cuda=cuda, arch_plan=arch_plan, units=units)
