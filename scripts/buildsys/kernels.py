"""`nox -s kernels-smXX`: one arch group's fast-kernel library, built, verified, reported.

Resolve (arch group, profile, CUDA) against build-matrix.toml, fetch the pinned
sources, size the parallel jobs to the available memory, compile with ccache
behind a launcher that records every TU's cost, install, verify the library
(SASS/PTX per arch, wgmma, symbols) and print the build report. The result, a
prefix with lib/libinfercore_kernels_<group>.a, is what the CUDA wheels link.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout
from rich.table import Table

from . import kernelprofile, kernelverify, matrix, proc, sources
from .errors import BuildError
from .kernelprofile import KernelPlan
from .project import BUILD_DIR, ROOT, load_toml
from .toolchain import find_nvcc, nvcc_version

KERNELS_SOURCE = ROOT / "csrc" / "kernels"
# Generated CUTLASS TUs are named after what they hold (cmake/cutlass.cmake).
CUTLASS_OBJECT = re.compile(r"^(fmha|gemm)_sm90")


@dataclass(frozen=True)
class KernelBuild:
    plan: KernelPlan
    build_dir: Path
    prefix: Path

    @property
    def library(self) -> Path:
        return self.prefix / "lib" / f"lib{self.plan.library}.a"


def real_nvcc(nvcc: Path) -> Path:
    """See through wrapper scripts (e.g. /usr/local/bin/nvcc that execs the toolkit's):
    nvcc's dry run names the toolkit it belongs to."""
    dry_run = [str(nvcc), "-dryrun", "-c", "-x", "cu", os.devnull, "-o", os.devnull]
    out = subprocess.run(dry_run, capture_output=True, text=True).stderr
    if m := re.search(r"^#\$ TOP=(.+)$", out, re.MULTILINE):
        candidate = (Path(m.group(1).strip()) / "bin" / "nvcc").resolve()
        if candidate.is_file():
            return candidate
    return nvcc.resolve()


def available_gib() -> float:
    """Memory the compiles may use, in GiB: INFERCORE_BUILD_MEMORY_GIB when set, else the
    machine's memory (or a container's cgroup limit, if lower) less a reserve for the rest
    of the system. Total rather than currently free memory: the job pools are part of the
    CMake configuration, and a figure that moved between runs would reconfigure each time."""
    if override := os.environ.get("INFERCORE_BUILD_MEMORY_GIB"):
        try:
            return float(override)
        except ValueError:
            raise BuildError(
                f"INFERCORE_BUILD_MEMORY_GIB={override!r} is not a number",
                fix="set it to the GiB the build may use, e.g. 100, or unset it",
            ) from None
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                limits.append(int(line.split()[1]) / 2**20)
    except OSError:
        pass
    try:  # cgroup v2: a container may have far less than the host
        high = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if high != "max":
            limits.append(int(high) / 2**30)
    except (OSError, ValueError):
        pass
    total = min(limits) if limits else 8.0
    return round(max(total - max(2.0, total * 0.1), 1.0), 1)


def job_pools(
    families: list[str], *, memory: dict[str, float], avail_gib: float, cpus: int
) -> dict[str, int]:
    """Ninja pool sizes so that the heavy TUs running at once fit in memory.

    The CUTLASS Hopper TUs get a share first, FA2 TUs the rest ([kernel-memory]);
    light TUs (entry points, registry) only by CPU count. At least one of each
    always runs, so a machine too small for one TU still builds, serially.
    """
    budget = max(avail_gib - memory.get("core", 1.0), 1.0)
    pools = {"light": cpus}
    if "cutlass-sm90" in families:
        fmha = memory.get("cutlass-sm90", 4.5)
        share = budget / 2 if "fa2" in families else budget
        pools["fmha"] = max(1, min(cpus, math.floor(share / fmha)))
        budget -= pools["fmha"] * fmha
    if "fa2" in families:
        pools["fa2"] = max(1, min(cpus, math.floor(max(budget, 0) / memory.get("fa2", 4.5))))
    return pools


def source_dirs(*, offline: bool = False) -> dict[str, Path]:
    lock = sources.load_lock()
    dirs = {}
    for name in ("cutlass", "flash-attention"):
        src = lock[name]
        dirs[name] = sources.unpack(src, sources.fetch(src, offline=offline))
    return dirs


def _configure_args(
    plan: KernelPlan,
    *,
    nvcc: Path,
    build_dir: Path,
    prefix: Path,
    srcs: dict[str, Path],
    pools: dict[str, int],
    report: Path,
) -> list[str]:
    defines = plan.cmake_defines() | {
        "CMAKE_BUILD_TYPE": "Release",
        "CMAKE_INSTALL_PREFIX": str(prefix),
        "CMAKE_CUDA_COMPILER": str(nvcc),
        "CMAKE_CUDA_ARCHITECTURES": plan.arch_plan.cmake_architectures("fa2"),
        "INFERCORE_FA2_SOURCE_DIR": str(srcs["flash-attention"] / "csrc" / "flash_attn" / "src"),
        "INFERCORE_CUTLASS_DIR": str(srcs["cutlass"]),
        "INFERCORE_JOB_POOLS": ";".join(f"{k}={v}" for k, v in pools.items()),
    }
    for family in plan.units:
        lo, hi = plan.cc_range(family)
        defines[f"INFERCORE_{family.upper().replace('-', '_')}_CC_RANGE"] = f"{lo};{hi}"
    # Every compile goes through the TU monitor (time, memory, cache verdict), then ccache.
    # The monitor runs by its own shebang (standard library only), not by this venv's
    # Python: the compile commands, and so ninja's view of what is up to date, must not
    # depend on which nox session configured the build.
    launcher = [str(Path(__file__).with_name("tu_monitor.py")), str(report)]
    if ccache := shutil.which("ccache"):
        launcher.append(ccache)
    defines["CMAKE_CUDA_COMPILER_LAUNCHER"] = ";".join(launcher)
    defines["CMAKE_CXX_COMPILER_LAUNCHER"] = ";".join(launcher)
    args = ["cmake", "-S", str(KERNELS_SOURCE), "-B", str(build_dir), "-G", "Ninja"]
    return args + [f"-D{k}={v}" for k, v in defines.items()]


def _build_env() -> dict[str, str]:
    return {
        "SOURCE_DATE_EPOCH": os.environ.get("SOURCE_DATE_EPOCH", "1577836800"),
        # The compiler check runs the compiler: a toolkit reinstalled in place
        # (same path, same mtime) still invalidates the cache.
        "CCACHE_COMPILERCHECK": "%compiler% --version",
        # FA2 and CUTLASS TUs are large: keep them, the default cache (5 GB) holds them.
        "CCACHE_NOHASHDIR": "1",
    }


def _progress_build(build_dir: Path, *, jobs: int, log: Path, label: str) -> None:
    """ninja with its [n/m] lines turned into progress output (the TUs take minutes)."""
    cmd = ["cmake", "--build", str(build_dir), "--parallel", str(jobs)]
    env = {**os.environ, **_build_env(), "NINJA_STATUS": "[%f/%t %es] "}
    with log.open("a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        p = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True
        )
        assert p.stdout is not None
        for line in p.stdout:
            f.write(line)
            f.flush()
            if m := re.match(r"\[(\d+)/(\d+) ([\d.]+)s\] Building (\w+) object (\S+)", line):
                done, total, _, lang, obj = m.groups()
                proc.say(label, f"[{done}/{total}] {lang} {Path(obj).name}")
        rc = p.wait()
    if rc != 0:
        raise BuildError(
            f"compiling the {label} kernels failed (exit {rc})",
            why="last lines of the log:\n" + proc.tail(log),
            fix=f"read the whole log: {log}",
        )


def verify(build: KernelBuild) -> kernelverify.Verification:
    # A library byte-identical to one already verified is not inspected again (keeps a
    # no-op run fast: the SASS dump for the wgmma check takes seconds).
    stamp = build.build_dir / "infercore-verified.json"
    digest = kernelverify.file_sha256(build.library)
    if stamp.exists():
        saved = json.loads(stamp.read_text())
        if saved.get("sha256") == digest:
            return kernelverify.Verification(**saved["verification"])
    v = _verify(build)
    stamp.write_text(json.dumps({"sha256": digest, "verification": v.as_json()}))
    return v


def _verify(build: KernelBuild) -> kernelverify.Verification:
    plan = build.plan
    v = kernelverify.inspect(
        build.library,
        count_wgmma="cutlass-sm90" in plan.units,
    )
    fa2_sass = {f"sm_{t}" for t in plan.arch_plan.families.get("fa2", ())}
    fa2_ptx = {f"sm_{a}" for a in plan.arch_plan.ptx}
    cutlass_sass = {f"sm_{t}" for t in plan.arch_plan.families.get("cutlass-sm90", ())}
    expect_sass, expect_ptx, hopper = {}, {}, []
    for obj in v.sass:
        if CUTLASS_OBJECT.match(obj):
            expect_sass[obj], expect_ptx[obj] = cutlass_sass, set()
            hopper.append(obj)
        else:
            expect_sass[obj], expect_ptx[obj] = fa2_sass, fa2_ptx
    problems = kernelverify.check(
        v, expect_sass=expect_sass, expect_ptx=expect_ptx, hopper_objects=hopper
    )
    if problems:
        build.library.unlink()  # never leave an unverified library where the wheels look
        raise BuildError(
            f"the {plan.group.name} kernel library failed verification",
            why="\n    ".join(["", *problems]),
            fix="read the build log; the library was removed so that nothing links it",
        )
    return v


def report(
    build: KernelBuild, records: list[dict], v: kernelverify.Verification, seconds: float
) -> dict:
    """Print the build report and return it (also written beside the library)."""
    table = Table(title=f"kernels {build.plan.group.name} (profile {build.plan.profile.name})")
    for col in ("translation unit", "wall s", "peak MiB", "ccache"):
        table.add_column(col, justify="left" if col == "translation unit" else "right")
    slowest = sorted(records, key=lambda r: -r["wall_s"])
    for r in slowest:
        table.add_row(
            Path(r["object"]).name, f"{r['wall_s']:.1f}", f"{r['peak_mib']:.0f}", r["cache"]
        )
    hits = sum(r["cache"] == "hit" for r in records)
    summary = {
        "group": build.plan.group.name,
        "profile": build.plan.profile.name,
        "cuda": build.plan.cuda,
        "archs": dict(build.plan.arch_plan.families),
        "units": build.plan.units,
        "compiled": len(records),
        "cache_hits": hits,
        "compile_cpu_s": round(sum(r["wall_s"] for r in records), 1),
        "peak_tu_mib": max((r["peak_mib"] for r in records), default=0),
        "wall_s": round(seconds, 1),
        "library": str(build.library),
        "library_mib": round(build.library.stat().st_size / 2**20, 2),
        "sass": {k: sorted(s) for k, s in v.sass.items()},
        "wgmma": v.wgmma,
        "slowest": [Path(r["object"]).name for r in slowest[:3]],
        "tus": records,
    }
    if records:
        proc.console.print(table)
    proc.say(
        build.plan.group.name,
        f"{len(records)} TU(s) compiled ({hits} ccache hits), "
        f"{summary['compile_cpu_s']} s compile time, peak TU {summary['peak_tu_mib']:.0f} MiB, "
        f"{seconds:.1f} s wall; library {summary['library_mib']} MiB, verified "
        f"(SASS per arch{', PTX' if build.plan.arch_plan.ptx else ''}"
        f"{', wgmma' if v.wgmma else ''}, symbols)",
        style="green",
    )
    out = build.prefix / "share" / "infercore" / f"{build.plan.library}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def build(
    plan: KernelPlan,
    *,
    nvcc: Path,
    jobs: int | None = None,
    offline: bool = False,
) -> KernelBuild:
    start = time.monotonic()
    label = plan.group.name
    root = BUILD_DIR / "kernels" / plan.profile.name / plan.group.name
    kb = KernelBuild(plan=plan, build_dir=root / "build", prefix=root / "install")
    log = BUILD_DIR / "logs" / f"kernels-{plan.profile.name}-{plan.group.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    records_file = kb.build_dir / "tu-report.jsonl"
    cpus = jobs or os.cpu_count() or 1
    pools = job_pools(
        list(plan.units),
        memory={
            k: float(v)
            for k, v in load_toml(ROOT / "build-matrix.toml").get("kernel-memory", {}).items()
        },
        avail_gib=available_gib(),
        cpus=cpus,
    )
    units = sum(len(u) for u in plan.units.values())
    proc.say(
        label,
        f"profile {plan.profile.name}: {units} kernel TU(s) "
        + ", ".join(f"{f} for {'/'.join(plan.arch_plan.families[f])}" for f in plan.units)
        + f"; CUDA {plan.cuda}; parallel jobs {pools} for {available_gib():.0f} GiB",
    )
    srcs = source_dirs(offline=offline)
    configure = _configure_args(
        plan,
        nvcc=real_nvcc(nvcc),
        build_dir=kb.build_dir,
        prefix=kb.prefix,
        srcs=srcs,
        pools=pools,
        report=records_file,
    )
    kb.build_dir.mkdir(parents=True, exist_ok=True)
    # Two sessions building the same group and profile at once (nox -s tests beside nox -s
    # wheels) would write the same objects: the second waits for the first.
    lock = FileLock(str(kb.build_dir.parent / ".build.lock"))
    try:
        lock.acquire(timeout=2)
    except Timeout:
        proc.say(label, f"waiting for another build of {label} ({plan.profile.name}) to finish")
        lock.acquire()
    try:
        _build_locked(kb, configure, records_file, cpus=cpus, log=log, label=label)
        records = []
        if records_file.exists():
            lines = records_file.read_text().splitlines()
            records = [json.loads(line) for line in lines if line]
        v = verify(kb)
        report(kb, records, v, time.monotonic() - start)
    finally:
        lock.release()
    return kb


def _build_locked(
    kb: KernelBuild, configure: list[str], records_file: Path, *, cpus: int, log: Path, label: str
) -> None:
    stamp = kb.build_dir / "infercore-configure.txt"
    if not (
        stamp.exists()
        and stamp.read_text() == str(configure)
        and (kb.build_dir / "build.ninja").exists()
    ):
        stamp.unlink(missing_ok=True)
        proc.run(
            configure, log=log, env=_build_env(), what=f"configuring the {label} kernels (cmake)"
        )
        stamp.write_text(str(configure))
    records_file.unlink(missing_ok=True)
    _progress_build(kb.build_dir, jobs=cpus, log=log, label=label)
    proc.run(
        ["cmake", "--install", str(kb.build_dir)], log=log, what=f"installing the {label} kernels"
    )


def run(
    *, group: str, profile: str | None, cuda: str | None, jobs: int | None, offline: bool
) -> KernelBuild:
    data = load_toml(ROOT / "build-matrix.toml")
    nvcc = find_nvcc()
    if nvcc is None:
        raise BuildError(
            f"kernels-{group} needs nvcc",
            why="looked at $CUDACXX, PATH and /usr/local/cuda/bin/nvcc",
            fix="install the CUDA toolkit (the version in build-matrix.toml's CUDA target)",
        )
    found = nvcc_version(nvcc)
    # Defaults: the CUDA target that `nox -s wheels` would build on this machine.
    cuda_target = matrix.load().default_target(cuda_available=True)
    cuda = cuda or str(cuda_target.cuda)
    if cuda != found:
        raise BuildError(
            f"CUDA {cuda} was asked for, but {nvcc} is CUDA {found}",
            fix=f"point CUDACXX at a CUDA {cuda} nvcc, or pass --cuda {found}",
        )
    profile = profile or cuda_target.kernel_profile or "ci"
    plan = kernelprofile.plan(group=group, profile=profile, cuda=cuda, data=data)
    return build(plan, nvcc=nvcc, jobs=jobs, offline=offline)
