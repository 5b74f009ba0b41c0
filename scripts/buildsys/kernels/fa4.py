"""FlashAttention-4 in an arch group's library: its variants, their export cache, the
CMake inputs that export and link them, and what verification expects of them.

A profile's [kernel-profiles.NAME.fa4] lists head dims, dtypes, causal flags and head
ratios; every combination is one variant per fa4 arch of the group (sm_90a, sm_100a),
exported by fa4_export.py as a CMake custom command in the heavy pool. A variant's C
symbol prefix names its group, so two groups' variants never share one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import SourcesLock
from ..errors import ConfigError
from ..util import console
from ..util.paths import Paths
from . import dsl_env
from .fa4_export import Variant, cache_key, complete
from .profile import KernelPlan

FAMILY = "fa4"
SOURCE = "flash-attn-4"  # its sources.lock.toml entry
EXPORTER = Path(__file__).with_name("fa4_export.py")
TU_MONITOR = Path(__file__).with_name("tu_monitor.py")
# The SM count FA4's own heuristics assume when choosing a variant's configuration (its
# FLASH_ATTENTION_NUM_SMS, for compiling without the GPU): H100/H200 SXM and B200. The
# exported kernels take the real count at run time.
SELECTION_SMS = {"90a": 132, "100a": 148}
# The group library's member that holds every variant and the DSL runtime (CMake names it).
OBJECT_PREFIX = "infercore_fa4_"
# The tensor-core instruction every variant's SASS must hold, per arch: wgmma on Hopper,
# tcgen05.mma (UTCHMMA, the half-precision kind) on Blackwell.
MMA = {"sm_90a": "HGMMA", "sm_100a": "UTCHMMA"}


@dataclass(frozen=True)
class Fa4Inputs:
    """What the export commands need besides the variants (the same for every group)."""

    source: Path  # the directory holding flash_attn/cute
    fa4_sha256: str
    env: dsl_env.DslEnv
    cache: Path


def variants(plan: KernelPlan) -> list[Variant]:
    """Every variant of the group, in a fixed order (the library's link order)."""
    spec = plan.profile.fa4
    if spec is None or FAMILY not in plan.units:
        return []
    out = []
    for target in plan.arch_plan.families[FAMILY]:
        if target not in SELECTION_SMS:
            raise ConfigError(
                f"fa4 for sm_{target} has no SM count for FA4's heuristics",
                why=f"buildsys.kernels.fa4.SELECTION_SMS knows {', '.join(SELECTION_SMS)}",
                fix="add the arch's SM count there, or drop the arch from [kernel-families.fa4]",
            )
        for unit, dtype, headdim, causal, ratio in spec.variants():
            out.append(
                Variant(
                    arch=f"sm_{target}",
                    dtype=dtype,
                    headdim=headdim,
                    causal=causal,
                    heads_ratio=ratio,
                    prefix=f"infercore_{plan.group.name}_{unit}_sm{target}",
                    selection_sms=SELECTION_SMS[target],
                )
            )
    return out


def source_dir(root: Path) -> Path:
    """The sys.path entry for the unpacked source whose root is flash_attn/cute."""
    return root.parents[1]


def uncached(paths: Paths, plans: list[KernelPlan], *, fa4_sha256: str) -> list[Variant]:
    env_sha = dsl_env.lock_sha256()
    return [
        v
        for p in plans
        for v in variants(p)
        if not complete(
            paths.export_cache / cache_key(v, fa4_sha256=fa4_sha256, env_sha256=env_sha), v.prefix
        )
    ]


def prepare(
    paths: Paths,
    lock: SourcesLock,
    plans: list[KernelPlan],
    built: list[KernelPlan],
    *,
    srcs: dict[str, Path],
    offline: bool,
    log: Path,
) -> Fa4Inputs | None:
    """The export inputs of the profile's tree (None: no group has fa4). The CuTe DSL
    environment is created only when a group being built has a variant the export cache
    lacks: a warm rebuild, or a machine given the cache, needs none."""
    if not any(variants(p) for p in plans):
        return None
    fa4_sha = lock[SOURCE].sha256
    missing = uncached(paths, built, fa4_sha256=fa4_sha)
    wanted = sum(len(variants(p)) for p in built)
    if missing or (wanted and not dsl_env.runtime_copy(paths).is_file()):
        console.say(
            FAMILY,
            f"{len(missing)} of {wanted} FA4 export(s) not in the cache ({paths.export_cache})",
        )
        env = dsl_env.ensure(paths, offline=offline, log=log)
    else:
        env = dsl_env.planned(paths)
        if wanted:
            console.say(FAMILY, f"all {wanted} FA4 export(s) cached: the DSL is not needed")
    return Fa4Inputs(
        source=source_dir(srcs[SOURCE]), fa4_sha256=fa4_sha, env=env, cache=paths.export_cache
    )


def cmake_inputs(inputs: Fa4Inputs, plans: list[KernelPlan], *, report: Path) -> dict[str, str]:
    """The -D definitions of the export commands: the tools (profile-wide) and each
    group's variants, "PREFIX,ARCH,DTYPE,HEADDIM,CAUSAL,HEADS_RATIO,SELECTION_SMS" each."""
    defines = {
        "INFERCORE_FA4_EXPORTER": str(EXPORTER),
        "INFERCORE_FA4_LAUNCHER": ";".join([str(TU_MONITOR), str(report)]),
        "INFERCORE_FA4_PYTHON": str(inputs.env.python),
        "INFERCORE_FA4_SOURCE_DIR": str(inputs.source),
        "INFERCORE_FA4_SHA256": inputs.fa4_sha256,
        "INFERCORE_FA4_ENV_SHA256": inputs.env.sha256,
        "INFERCORE_FA4_CACHE_DIR": str(inputs.cache),
        "INFERCORE_FA4_RUNTIME_LIBRARY": str(inputs.env.runtime),
    }
    for p in plans:
        if found := variants(p):
            defines[f"INFERCORE_{p.group.name}_FA4_VARIANTS"] = ";".join(
                f"{v.prefix},{v.arch},{v.dtype},{v.headdim},{int(v.causal)},{v.heads_ratio},"
                f"{v.selection_sms}"
                for v in found
            )
    return defines


def is_object(member: str) -> bool:
    return member.startswith(OBJECT_PREFIX) and member.endswith(".o")


def export_args(variant: Variant, inputs: Fa4Inputs, output: Path) -> list[str]:
    """The exporter's command line for one variant (what CMake runs, without the monitor)."""
    args = [str(EXPORTER), "--python", str(inputs.env.python), "--source", str(inputs.source)]
    args += ["--fa4-sha256", inputs.fa4_sha256, "--env-sha256", inputs.env.sha256]
    args += ["--cache", str(inputs.cache), "--arch", variant.arch, "--dtype", variant.dtype]
    args += ["--headdim", str(variant.headdim), "--heads-ratio", str(variant.heads_ratio)]
    args += ["--selection-sms", str(variant.selection_sms), "-o", str(output)]
    return args + (["--causal"] if variant.causal else [])


def fill_cache(
    paths: Paths,
    lock: SourcesLock,
    plans: list[KernelPlan],
    *,
    jobs: int,
    offline: bool,
) -> list[dict]:
    """Export every variant of `plans` the export cache lacks, `jobs` at a time, and
    nothing else: the cache (a few MiB) is then all a machine without the network needs
    to build the libraries' FA4 part (INFERCORE_EXPORT_CACHE). Each export runs behind the
    TU monitor, as in a build; returns its records (time, peak memory, cache verdict)."""
    import concurrent.futures
    import json
    import tempfile

    from ..sources import cache as sources
    from ..util import runner

    src = sources.unpack(paths, lock[SOURCE], sources.fetch(paths, lock[SOURCE], offline=offline))
    log = paths.logs / "fa4-exports.log"
    inputs = prepare(paths, lock, plans, plans, srcs={SOURCE: src}, offline=offline, log=log)
    missing = uncached(paths, plans, fa4_sha256=lock[SOURCE].sha256)
    if inputs is None or not missing:
        return []
    with tempfile.TemporaryDirectory(prefix="infercore-fa4-") as tmp:
        report = Path(tmp) / "tu-report.jsonl"

        def one(v: Variant) -> None:
            out = Path(tmp) / v.prefix / f"{v.prefix}.o"
            monitored = [str(TU_MONITOR), str(report), *export_args(v, inputs, out)]
            runner.call(monitored, what=f"exporting {v.prefix}", log=log, echo=False)
            console.say(FAMILY, f"exported {v.prefix}")

        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            for done in [pool.submit(one, v) for v in missing]:
                done.result()
        return [json.loads(line) for line in report.read_text().splitlines() if line]
