"""The models of build-matrix.toml: targets, CUDA toolkits, kernel families, arch groups,
kernel profiles, wheels and images.

Every check of the hand-written parsers these models replaced is here, plus the
cross-checks between tables that used to surface only when a session reached them (an
unknown kernel-profile, a CUDA version without a toolkit entry, a release policy whose
glibc is too old for the toolkit...).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, PrivateAttr, StrictBool, StrictInt, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from ..errors import BuildError, UsageError
from . import compat
from .ccache import Ccache
from .ci import Ci, ci_problems
from .images import Images
from .release import ReleaseCell, cell_problems
from .values import (
    NAME_KEY,
    Arch,
    ArchList,
    CompilerVersion,
    CrossPrefix,
    Model,
    NameList,
    Policy,
    PythonVersion,
    RelPath,
    SafeName,
    Version,
    check,
    did_you_mean,
    int_choice,
    known_list,
    raise_checks,
    tuple_of,
)

AUTO = "auto"  # the target name that means default_target()
CORE_MEMORY = "core"  # [kernel-memory] key of the engine core's own TUs

Fa2HeadDim = Literal[32, 64, 96, 128, 192, 256]  # what FA2 2.8.3 ships TUs for
FmhaHeadDim = Literal[64, 128, 256]  # what CUTLASS's Hopper FMHA example configures
# FA4's forward on sm_90a (8-256) and sm_100a (8-128, and 256): the buckets an engine uses.
Fa4HeadDim = Literal[64, 128, 256]
Dtype = Literal["bf16", "fp16"]
GemmDtype = Literal["bf16"]  # the warp-specialized GEMM is instantiated for bf16 only

PositiveNumber = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Dtypes = Annotated[tuple_of(Dtype), Field(min_length=1)]
CausalFlags = Annotated[tuple_of(StrictBool), Field(min_length=1)]


def _dtypes_field() -> Any:
    return Field(description="element types", examples=[["bf16", "fp16"]])


def _causal_field() -> Any:
    return Field(description="causal masking: false, true or both", examples=[[False, True]])


def _name_field(what: str) -> Any:
    """The table's own key ([targets.NAME]), handed in by the parent; not a TOML key."""
    return Field(alias=NAME_KEY, description=f"the {what}'s key in its parent table")


def _with_names(value: Any) -> Any:
    """{key: table} -> {key: table + its name}, for the models that carry their key."""
    if not isinstance(value, dict):
        return value
    return {k: {**t, NAME_KEY: k} if isinstance(t, dict) else t for k, t in value.items()}


class Python(Model):
    """[python]: the CPython versions wheels are built and tested for."""

    versions: Annotated[tuple_of(PythonVersion), Field(min_length=1)] = Field(
        description="CPython versions, oldest first", examples=[["3.10", "3.11", "3.12"]]
    )


class SizeBudget(Model):
    """[wheels.size-budget-mib]: the largest a repaired wheel may be, in MiB."""

    cpu: PositiveNumber = Field(description="limit for CPU-only wheels (MiB)", examples=[5])
    cuda: PositiveNumber = Field(description="limit for CUDA wheels (MiB)", examples=[100])


class Wheels(Model):
    """[wheels]: where wheels land, what they are repaired for and how large they may be."""

    dist_dir: RelPath = Field(
        "dist",
        alias="dist-dir",
        description="where finished, tested wheels land: a path relative to the repository",
    )
    manylinux: Policy = Field(
        compat.DEFAULT_POLICY,
        description="the release wheels' manylinux policy, unless a target sets its own",
        examples=["manylinux2014", "manylinux_2_28"],
    )
    repair_exclude: tuple_of(SafeName) = Field(
        (),
        alias="repair-exclude",
        description="shared libraries auditwheel repair must not bundle (the CUDA driver)",
        examples=[["libcuda.so.1"]],
    )
    size_budget_mib: SizeBudget = Field(
        alias="size-budget-mib", description="per-wheel size limits, checked after repair"
    )


class Target(Model):
    """[targets.NAME]: one build target, a platform and for CUDA its toolkit and GPU archs."""

    name: SkipJsonSchema[SafeName] = _name_field("target")
    description: str = Field(description="what the target builds, in a line")
    platform: Literal["x86", "arm", "cuda"] = Field(
        description="x86 and arm: CPU-only; cuda: the CPU core plus CUDA kernels"
    )
    arch: Literal["x86_64", "aarch64"] = Field(description="the CPU architecture")
    cuda: Version | None = Field(
        None, description="CUDA toolkit version ([cuda-toolkits]); CUDA targets only"
    )
    sass_archs: ArchList = Field(
        (), alias="sass-archs", description="SM archs compiled to SASS; CUDA targets only"
    )
    ptx_archs: ArchList = Field(
        (),
        alias="ptx-archs",
        description="SM archs also embedded as PTX (newer GPUs JIT it); a subset of sass-archs",
    )
    kernel_archs: NameList = Field(
        (),
        alias="kernel-archs",
        description="arch groups ([kernel-archs]) whose kernel libraries the target links",
    )
    kernel_profile: SafeName | None = Field(
        None,
        alias="kernel-profile",
        description="the kernel profile ([kernel-profiles]) the libraries are built with",
    )
    compiler: Literal["gcc", "armclang"] = Field(
        "gcc", description="the C/C++ compiler family (its Conan profile template)"
    )
    compiler_version: CompilerVersion | None = Field(
        None,
        alias="compiler-version",
        description="the compiler's major version, where it cannot be detected here "
        "(cross compilers, armclang)",
    )
    cross_prefix: CrossPrefix | None = Field(
        None, alias="cross-prefix", description="a GCC cross toolchain's prefix"
    )
    manylinux: Policy | None = Field(
        None,
        description="the manylinux policy of this target's release wheels; default: "
        "[wheels] manylinux",
    )
    # [wheels] manylinux of the matrix the target belongs to (set by BuildMatrix).
    _wheels_policy: str = PrivateAttr(compat.DEFAULT_POLICY)

    @property
    def is_cuda(self) -> bool:
        return self.platform == "cuda"

    @property
    def release_policy(self) -> str:
        """The manylinux policy its release wheels are built for."""
        return self.manylinux or self._wheels_policy

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        problems = []
        cpu = {"x86": "x86_64", "arm": "aarch64"}.get(self.platform)
        if cpu is not None and self.arch != cpu:
            problems.append(
                check(
                    ("arch",),
                    f"platform {self.platform!r} builds for {cpu}, not {self.arch}",
                    found=self.arch,
                    allowed=repr(cpu),
                    fix=f'use arch = "{cpu}", or another platform',
                )
            )
        if self.is_cuda:
            if self.cuda is None or not self.sass_archs:
                problems.append(
                    check(
                        (),
                        "a CUDA target needs a CUDA version and SASS archs",
                        fix='set cuda = "13.0" and sass-archs = ["80", "90"]',
                    )
                )
        else:
            cuda_only = {
                "cuda": self.cuda,
                "sass-archs": self.sass_archs,
                "ptx-archs": self.ptx_archs,
                "kernel-archs": self.kernel_archs,
                "kernel-profile": self.kernel_profile,
            }
            for key, value in cuda_only.items():
                if value:
                    problems.append(
                        check(
                            (key,),
                            f"{key} is for CUDA targets, and this one is platform "
                            f"{self.platform!r}",
                            found=value,
                            fix=f'remove {key}, or make it platform = "cuda"',
                        )
                    )
        for arch in self.ptx_archs:
            if arch not in self.sass_archs:
                problems.append(
                    check(
                        ("ptx-archs",),
                        f"PTX for sm_{arch} was asked for, but sm_{arch} is not in sass-archs",
                        found=arch,
                        allowed=f"a subset of sass-archs ({', '.join(self.sass_archs)})",
                        fix=f"add {arch} to sass-archs, or remove it from ptx-archs",
                    )
                )
        if (self.compiler == "armclang" or self.cross_prefix) and not self.compiler_version:
            problems.append(
                check(
                    ("compiler-version",),
                    "a cross or armclang compiler is not detected on this machine, so its "
                    "version is pinned in the build matrix",
                    allowed='a version like "12"',
                    fix='add compiler-version = "MAJOR" (what the compiler reports)',
                )
            )
        raise_checks(problems)
        return self


class Toolkit(Model):
    """[cuda-toolkits."X.Y"]: what one CUDA toolkit compiles and what it needs to run."""

    version: SkipJsonSchema[Version] = _name_field("toolkit")
    sass: Annotated[ArchList, Field(min_length=1)] = Field(
        description="SM archs it compiles SASS for (nvcc --list-gpu-code)"
    )
    arch_specific: ArchList = Field(
        alias="arch-specific",
        description='archs with an arch-specific "a" target (90a: wgmma, TMA); a subset of sass',
    )
    min_glibc: Version = Field(
        alias="min-glibc", description="oldest glibc its compiler runs on", examples=["2.28"]
    )
    max_gcc: StrictInt = Field(
        alias="max-gcc",
        ge=1,
        le=99,
        description="newest GCC major version it accepts",
        examples=[15],
    )

    @model_validator(mode="after")
    def _subset(self) -> Toolkit:
        raise_checks(
            [
                check(
                    ("arch-specific",),
                    f"sm_{a}a is listed, but sm_{a} is not in sass",
                    found=a,
                    allowed=f"a subset of sass ({', '.join(self.sass)})",
                    fix=f"add {a} to sass, or remove it from arch-specific",
                )
                for a in self.arch_specific
                if a not in self.sass
            ]
        )
        return self


class Family(Model):
    """[kernel-families.NAME]: which GPUs a kernel family runs on and what it needs."""

    name: SkipJsonSchema[SafeName] = _name_field("kernel family")
    description: str = Field(description="what the family is, in a line")
    min_cuda: Version = Field(alias="min-cuda", description="oldest CUDA that compiles it")
    min_arch: Arch | None = Field(
        None, alias="min-arch", description="runs on this SM arch and newer (or: archs)"
    )
    archs: ArchList = Field((), description="runs on exactly these SM archs (or: min-arch)")
    arch_specific: StrictBool = Field(
        False,
        alias="arch-specific",
        description='compiled for the "a" target (sm_90a), never plain sm_90, which '
        "compiles without wgmma and aborts at run time",
    )

    def runs_on(self, arch: str) -> bool:
        if self.archs:
            return arch in self.archs
        return self.min_arch is not None and int(arch) >= int(self.min_arch)

    @model_validator(mode="after")
    def _one_of(self) -> Family:
        if (self.min_arch is None) == (not self.archs):
            raise_checks(
                [
                    check(
                        (),
                        "a kernel family needs exactly one of min-arch and archs",
                        found="both" if self.archs else "neither",
                        fix='set min-arch = "80" (this arch and newer) or archs = ["90"]',
                    )
                ]
            )
        return self


class ArchGroup(Model):
    """[kernel-archs.NAME]: one kernel library: its SASS/PTX archs and kernel families."""

    name: SkipJsonSchema[SafeName] = _name_field("arch group")
    description: str = Field(description="which GPUs the library serves, in a line")
    archs: Annotated[ArchList, Field(min_length=1)] = Field(
        description='SM archs compiled to SASS (an arch-specific family gets "a")'
    )
    ptx: ArchList = Field((), description="archs also embedded as PTX; a subset of archs")
    families: Annotated[NameList, Field(min_length=1)] = Field(
        description="kernel families ([kernel-families]) compiled into the library"
    )

    @model_validator(mode="after")
    def _ptx_subset(self) -> ArchGroup:
        raise_checks(
            [
                check(
                    ("ptx",),
                    f"PTX for sm_{a} was asked for, but sm_{a} is not built",
                    found=a,
                    allowed=f"a subset of archs ({', '.join(self.archs)})",
                    fix=f"add {a} to archs, or remove it from ptx",
                )
                for a in self.ptx
                if a not in self.archs
            ]
        )
        return self


class Fa2Spec(Model):
    """[kernel-profiles.NAME.fa2]: the FlashAttention-2 forward kernels compiled."""

    headdims: Annotated[tuple_of(int_choice(Fa2HeadDim)), Field(min_length=1)] = Field(
        description="head dimensions", examples=[[64, 128, 256]]
    )
    dtypes: Dtypes = _dtypes_field()
    causal: CausalFlags = _causal_field()
    split: Annotated[tuple_of(StrictBool), Field(min_length=1)] = Field(
        (False,),
        description="[false]: the plain kernels; [false, true]: split-KV kernels too "
        "(decode, small batches)",
    )

    @model_validator(mode="after")
    def _plain_kernels(self) -> Fa2Spec:
        if False not in self.split:
            # The dispatch table lists the plain kernels; split-KV ones only serve the
            # shapes whose plain grid would leave SMs idle (decode, small batches).
            raise_checks(
                [
                    check(
                        ("split",),
                        "split-KV kernels complement the plain ones: the plain kernels are "
                        "what the dispatch table lists, and they run whenever the GPU is full "
                        "without splitting",
                        found=list(self.split),
                        allowed="[false] or [false, true]",
                        fix="use split = [false, true] (or [false] for no split-KV kernels)",
                    )
                ]
            )
        return self

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


class CutlassSm90Spec(Model):
    """[kernel-profiles.NAME.cutlass-sm90]: the CUTLASS Hopper GEMM and FMHA kernels."""

    gemm_dtypes: Annotated[tuple_of(GemmDtype), Field(min_length=1)] = Field(
        alias="gemm-dtypes", description="GEMM element types", examples=[["bf16"]]
    )
    fmha_headdims: Annotated[tuple_of(int_choice(FmhaHeadDim)), Field(min_length=1)] = Field(
        alias="fmha-headdims", description="Hopper FMHA head dimensions", examples=[[128]]
    )
    fmha_dtypes: Annotated[tuple_of(Dtype), Field(min_length=1)] = Field(
        alias="fmha-dtypes", description="Hopper FMHA element types", examples=[["bf16"]]
    )
    fmha_causal: Annotated[tuple_of(StrictBool), Field(min_length=1)] = Field(
        alias="fmha-causal",
        description="Hopper FMHA causal masking: false, true or both",
        examples=[[False, True]],
    )

    def units(self) -> list[str]:
        names = [f"gemm_sm90_{d}" for d in self.gemm_dtypes]
        for hdim in self.fmha_headdims:
            for dtype in self.fmha_dtypes:
                for causal in self.fmha_causal:
                    names.append(f"fmha_sm90_hdim{hdim}_{dtype}{'_causal' if causal else ''}")
        return names


class Fa4Spec(Model):
    """[kernel-profiles.NAME.fa4]: the FlashAttention-4 forward variants exported ahead of
    time (CuTe DSL), one per combination; the head ratio is compiled in (pack_gqa)."""

    headdims: Annotated[tuple_of(int_choice(Fa4HeadDim)), Field(min_length=1)] = Field(
        description="head dimensions", examples=[[64, 128, 256]]
    )
    dtypes: Dtypes = _dtypes_field()
    causal: CausalFlags = _causal_field()
    heads_ratios: Annotated[
        tuple_of(Annotated[StrictInt, Field(ge=1, le=64)]), Field(min_length=1)
    ] = Field(
        (1,),
        alias="heads-ratios",
        description="query heads per KV head, each its own variant (FA4 compiles the ratio "
        "in: 1 is multi-head attention, above 1 grouped-query attention with pack_gqa)",
        examples=[[1, 4, 8]],
    )

    def variants(self) -> list[tuple[str, str, int, bool, int]]:
        """(unit name, dtype, head dim, causal, heads ratio) of every variant."""
        out = []
        for hdim in self.headdims:
            for dtype in self.dtypes:
                for causal in self.causal:
                    for ratio in self.heads_ratios:
                        name = f"fa4_hdim{hdim}_{dtype}{'_causal' if causal else ''}"
                        name += f"_gqa{ratio}" if ratio > 1 else ""
                        out.append((name, dtype, hdim, causal, ratio))
        return out

    def units(self) -> list[str]:
        return [v[0] for v in self.variants()]


Spec = Fa2Spec | CutlassSm90Spec | Fa4Spec


class Profile(Model):
    """[kernel-profiles.NAME]: what each kernel family compiles (one sub-table per family)."""

    name: SkipJsonSchema[SafeName] = _name_field("kernel profile")
    description: str = Field(description="what the profile is for, in a line")
    fa2: Fa2Spec | None = Field(None, description="the FA2 kernels; absent: none")
    cutlass_sm90: CutlassSm90Spec | None = Field(
        None, alias="cutlass-sm90", description="the CUTLASS Hopper kernels; absent: none"
    )
    fa4: Fa4Spec | None = Field(
        None, description="the FlashAttention-4 variants (exported ahead of time); absent: none"
    )

    def specs(self) -> dict[str, Spec]:
        """Family name -> spec, for the families this profile declares."""
        specs: dict[str, Spec | None] = {
            "fa2": self.fa2,
            "cutlass-sm90": self.cutlass_sm90,
            "fa4": self.fa4,
        }
        return {family: spec for family, spec in specs.items() if spec is not None}

    @model_validator(mode="after")
    def _not_empty(self) -> Profile:
        if not self.specs():
            raise_checks(
                [
                    check(
                        (),
                        "the profile declares no kernel family, so it builds nothing",
                        allowed="[kernel-profiles.NAME.fa2], [kernel-profiles.NAME."
                        "cutlass-sm90] and/or [kernel-profiles.NAME.fa4]",
                        fix="add a sub-table for a family, or remove the profile",
                    )
                ]
            )
        return self


def _pick(table: dict[str, Any], name: str, what: str, flag: str) -> Any:
    if name in table:
        return table[name]
    hint = did_you_mean(name, table)
    raise UsageError(
        f"unknown {what} {name!r}" + (f" ({hint})" if hint else ""),
        why=f"build-matrix.toml defines: {known_list(table)}",
        fix=f"pass one of them ({flag}{sorted(table)[0] if table else '...'})",
    )


class BuildMatrix(Model):
    """build-matrix.toml: the one declarative source of truth for what gets built."""

    python: Python = Field(description="the CPython versions wheels are built for")
    wheels: Wheels = Field(description="where wheels land, their policy and size limits")
    images: Images = Field(
        default_factory=Images,
        description="the build images: bases, roles (docker/Dockerfile's stages), and the "
        "image each session runs in",
    )
    release: dict[SafeName, ReleaseCell] = Field(
        default_factory=dict,
        description="the release cells: (target, manylinux policy, image, CUDA toolkit), "
        "built by cibuildwheel",
    )
    ccache: Ccache = Field(
        default_factory=Ccache,
        description="the compiler cache of every C++/CUDA compile, and its shared remote "
        "storage (Redis or HTTP)",
    )
    ci: Ci = Field(
        default_factory=Ci,
        description="CI: runner labels, the GPU runner, per-session timeouts and targets, "
        "the image registry (the sessions are the noxfile's, tagged ci, gpu, release)",
    )
    targets: Annotated[dict[SafeName, Target], Field(min_length=1)] = Field(
        description="build targets by name; `auto` picks one (see default_target)"
    )
    toolkits: dict[Version, Toolkit] = Field(
        default_factory=dict,
        alias="cuda-toolkits",
        description='what each CUDA toolkit compiles, by version ("13.0")',
    )
    families: dict[SafeName, Family] = Field(
        default_factory=dict,
        alias="kernel-families",
        description="kernel families by name: which GPUs they run on, what they need",
    )
    kernel_archs: dict[SafeName, ArchGroup] = Field(
        default_factory=dict,
        alias="kernel-archs",
        description="arch groups by name: one kernel library each",
    )
    kernel_profiles: dict[SafeName, Profile] = Field(
        default_factory=dict,
        alias="kernel-profiles",
        description="kernel profiles by name: what each family compiles",
    )
    kernel_memory: dict[SafeName, PositiveNumber] = Field(
        default_factory=dict,
        alias="kernel-memory",
        description='peak memory (GiB) of one TU per kernel family, and "core" for the '
        "engine's own; sizes the parallel compile jobs",
    )

    @field_validator(
        "targets", "toolkits", "families", "kernel_archs", "kernel_profiles", mode="before"
    )
    @classmethod
    def _inject_names(cls, value: Any) -> Any:
        return _with_names(value)

    # -- what the consumers read ------------------------------------------------------

    @property
    def python_versions(self) -> tuple[str, ...]:
        return self.python.versions

    @property
    def manylinux(self) -> str:
        """[wheels] manylinux: the default release policy."""
        return self.wheels.manylinux

    @property
    def repair_exclude(self) -> tuple[str, ...]:
        return self.wheels.repair_exclude

    @property
    def size_budget_mib(self) -> dict[str, float]:
        """{"cpu": MiB, "cuda": MiB}."""
        return {"cpu": self.wheels.size_budget_mib.cpu, "cuda": self.wheels.size_budget_mib.cuda}

    def dist_path(self, root: Path) -> Path:
        """[wheels] dist-dir, resolved against the repository root."""
        return root / self.wheels.dist_dir

    def target(self, name: str) -> Target:
        if name in self.targets:
            return self.targets[name]
        hint = did_you_mean(name, self.targets)
        raise UsageError(
            f"unknown build target {name!r}" + (f" ({hint})" if hint else ""),
            why=f"build-matrix.toml defines: {', '.join(sorted(self.targets))}",
            fix=f"pass one of them (--target {sorted(self.targets)[0]}) or '{AUTO}'",
        )

    def default_target(self, *, cuda_available: bool) -> Target:
        """The `auto` target: CUDA for x86_64 when nvcc is there, else the x86_64 CPU one."""
        platform = "cuda" if cuda_available else "x86"
        for target in self.targets.values():
            if target.platform == platform and target.arch == "x86_64":
                return target
        raise BuildError(f"build-matrix.toml has no x86_64 target for platform {platform!r}")

    def group(self, name: str) -> ArchGroup:
        return _pick(self.kernel_archs, name, "kernel arch group", "kernels-")

    def profile(self, name: str) -> Profile:
        return _pick(self.kernel_profiles, name, "kernel profile", "--profile ")

    def toolkit(self, version: str) -> Toolkit:
        if version in self.toolkits:
            return self.toolkits[version]
        raise UsageError(
            f"CUDA {version} is not in build-matrix.toml's [cuda-toolkits]",
            why=f"known: {', '.join(sorted(self.toolkits, key=compat.version_tuple))}",
            fix=f'add [cuda-toolkits."{version}"] with its SASS targets, or use a known version',
        )

    # -- cross-checks between tables ----------------------------------------------------

    @model_validator(mode="after")
    def _cross_checks(self) -> BuildMatrix:
        problems: list[dict[str, Any]] = []

        def unknown(
            loc: tuple[str | int, ...], what: str, name: str, table: str, known: Any, fix: str
        ) -> None:
            hint = did_you_mean(name, known)
            problems.append(
                check(
                    loc,
                    f"{what} {name!r} is not in [{table}]" + (f"; {hint}" if hint else ""),
                    found=name,
                    allowed=f"one of [{table}]: {known_list(known)}",
                    fix=fix,
                )
            )

        tables: list[tuple[str, dict[str, Any]]] = [
            ("targets", self.targets),
            ("kernel-families", self.families),
            ("kernel-archs", self.kernel_archs),
            ("kernel-profiles", self.kernel_profiles),
        ]
        for table, entries in tables:
            for key, entry in entries.items():
                if entry.name != key:
                    problems.append(
                        check((table, key), f"the table's name is {entry.name!r}", found=key)
                    )
        for key, tk in self.toolkits.items():
            if tk.version != key:
                problems.append(
                    check(("cuda-toolkits", key), f"the table's version is {tk.version!r}")
                )

        for name, prof in self.kernel_profiles.items():
            for family in prof.specs():
                if family not in self.families:
                    unknown(
                        ("kernel-profiles", name, family),
                        "kernel family",
                        family,
                        "kernel-families",
                        self.families,
                        f"add [kernel-families.{family}], or remove "
                        f"[kernel-profiles.{name}.{family}]",
                    )
        for name, grp in self.kernel_archs.items():
            for family in grp.families:
                if family not in self.families:
                    unknown(
                        ("kernel-archs", name, "families"),
                        "kernel family",
                        family,
                        "kernel-families",
                        self.families,
                        f"add [kernel-families.{family}], or remove it from families",
                    )
        for family in self.kernel_memory:
            if family != CORE_MEMORY and family not in self.families:
                unknown(
                    ("kernel-memory", family),
                    "kernel family",
                    family,
                    "kernel-families",
                    [*self.families, CORE_MEMORY],
                    f'use a kernel family\'s name or "{CORE_MEMORY}"',
                )

        for name, target in self.targets.items():
            where = ("targets", name)
            target._wheels_policy = self.wheels.manylinux
            for group in target.kernel_archs:
                if group not in self.kernel_archs:
                    unknown(
                        (*where, "kernel-archs"),
                        "arch group",
                        group,
                        "kernel-archs",
                        self.kernel_archs,
                        f"add [kernel-archs.{group}], or remove it from kernel-archs",
                    )
            if target.kernel_profile is not None and (
                target.kernel_profile not in self.kernel_profiles
            ):
                unknown(
                    (*where, "kernel-profile"),
                    "kernel profile",
                    target.kernel_profile,
                    "kernel-profiles",
                    self.kernel_profiles,
                    f"add [kernel-profiles.{target.kernel_profile}], or use a known profile",
                )
            if not target.is_cuda or target.cuda is None:
                continue
            tk = self.toolkits.get(target.cuda)
            if tk is None:
                unknown(
                    (*where, "cuda"),
                    "CUDA",
                    target.cuda,
                    "cuda-toolkits",
                    self.toolkits,
                    f'add [cuda-toolkits."{target.cuda}"] with its SASS targets, or use a '
                    "known version",
                )
                continue
            for arch in target.sass_archs:
                if arch not in tk.sass:
                    newer = int(arch) > max(int(a) for a in tk.sass)
                    problems.append(
                        check(
                            (*where, "sass-archs"),
                            f"sm_{arch} is not a target of CUDA {tk.version}",
                            found=arch,
                            allowed=f"CUDA {tk.version} compiles sm_{', sm_'.join(tk.sass)}",
                            fix=f"sm_{arch} needs a newer CUDA than {tk.version}, or drop it"
                            if newer
                            else f"build sm_{arch} with an older toolkit, or drop it",
                        )
                    )
            policy = target.release_policy
            glibc = compat.glibc_problem(tk, policy)
            if glibc is not None:
                own = target.manylinux is not None
                problems.append(
                    check(
                        (*where, "manylinux"),
                        f"{glibc.what} (the release policy of [targets.{name}]"
                        + ("" if own else ", from [wheels] manylinux")
                        + ")",
                        found=policy,
                        allowed=f"{compat.policy_for_glibc(tk.min_glibc)} or newer",
                        fix=f'set manylinux = "{compat.policy_for_glibc(tk.min_glibc)}" in '
                        f"[targets.{name}], or use an older CUDA",
                    )
                )
            problems.extend(self._image_glibc_problems(target, tk))
        problems.extend(cell_problems(self))
        problems.extend(ci_problems(self.ci, self.targets))
        raise_checks(problems)
        return self

    def _image_glibc_problems(self, target: Target, tk: Toolkit) -> list[dict[str, Any]]:
        """A CUDA target's images must carry at least the toolkit's glibc floor: the
        compiler runs inside them."""
        problems = []
        for role_name, role in self.images.roles.items():
            base_name = role.base_for(target.platform)
            base = self.images.bases.get(base_name)
            if base is None or compat.version_tuple(base.glibc) >= compat.version_tuple(
                tk.min_glibc
            ):
                continue
            problems.append(
                check(
                    ("images", "roles", role_name),
                    f"the {role_name}-{target.platform} image's base {base_name!r} has glibc "
                    f"{base.glibc}, and CUDA {tk.version}'s compiler needs >= {tk.min_glibc} "
                    f"([targets.{target.name}] cuda)",
                    found=base_name,
                    fix=f"give the role a base with glibc >= {tk.min_glibc} for "
                    f'{target.platform} (platform-bases = {{ {target.platform} = "..." }})',
                )
            )
        return problems

    def release_image(self, target: Target) -> str | None:
        """The pinned registry base of the target's release image (None: none pinned)."""
        role = self.images.roles.get("release")
        if role is None:
            return None
        base = self.images.bases.get(role.base_for(target.platform))
        return base.image if base is not None else None
