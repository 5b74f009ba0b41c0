"""`nox -s cpp-tests`: the C++ tests (tests/cpp), built through the Conan toolchain, run by ctest.

The core is configured exactly as the wheels configure it (core.cmake_defines), plus
INFERCORE_BUILD_TESTS=ON and the target's Conan toolchain, in a build tree of its own.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from . import conan, core, matrix, proc
from .errors import BuildError
from .project import BUILD_DIR, ROOT
from .toolchain import find_nvcc

CPU = "cpu"


def choose_target(name: str) -> matrix.Target:
    """`cpu` (the default: the tests need no GPU) is this machine's CPU target."""
    bm = matrix.load()
    if name == CPU:
        return bm.default_target(cuda_available=False)
    if name == matrix.AUTO:
        return bm.default_target(cuda_available=find_nvcc() is not None)
    return bm.target(name)


def run(
    target_name: str = CPU,
    *,
    jobs: int | None = None,
    offline: bool = False,
    mirrors: Sequence[Path] = (),
) -> None:
    target = choose_target(target_name)
    jobs = jobs or os.cpu_count() or 1
    log_dir = BUILD_DIR / "logs"
    nvcc = find_nvcc() if target.is_cuda else None
    core.check_cuda(target, nvcc)
    deps = conan.install(target.name, jobs=jobs, offline=offline, mirrors=mirrors)
    proc.say("tests", f"C++ dependencies of {target.name}: {deps.toolchain}")

    build_dir = BUILD_DIR / "cpp-tests" / target.name
    log = log_dir / f"cpp-tests-{target.name}.log"
    defines = core.cmake_defines(target, nvcc=nvcc)
    defines["INFERCORE_BUILD_TESTS"] = "ON"
    if nvcc is not None:
        built = core.build_kernels(target, nvcc=nvcc, jobs=jobs, profile=None)
        defines["INFERCORE_KERNEL_GROUPS"] = ";".join(k.plan.group.name for k in built)
        defines["INFERCORE_KERNEL_PREFIXES"] = ";".join(str(k.prefix) for k in built)
    configure = ["cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja", *deps.cmake_args]
    configure += [f"-D{key}={value}" for key, value in defines.items()]
    stamp = build_dir / "infercore-configure.txt"
    if not (
        stamp.exists()
        and stamp.read_text() == str(configure)
        and (build_dir / "build.ninja").exists()
    ):
        stamp.unlink(missing_ok=True)
        (build_dir / "CMakeCache.txt").unlink(missing_ok=True)  # re-read the toolchain file
        proc.run(configure, log=log, what="configuring the C++ tests (cmake)")
        stamp.write_text(str(configure))
    proc.say("tests", f"building the core and tests/cpp ({jobs} jobs; log: {log})")
    proc.run(
        ["cmake", "--build", build_dir, "--parallel", str(jobs)],
        log=log,
        what="building the C++ tests",
    )
    # ctest's own output is the result: shown as it comes, and kept in the log.
    cmd = ["ctest", "--test-dir", str(build_dir), "--output-on-failure", "--timeout", "300"]
    cmd += ["--parallel", str(jobs), "--output-junit", str(build_dir / "ctest-junit.xml")]
    proc.say("tests", " ".join(cmd))
    with log.open("a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        f.write(result.stdout)
    print(_summary(result.stdout), flush=True)
    if result.returncode != 0:
        raise BuildError(
            f"C++ tests failed for target {target.name} (ctest exit {result.returncode})",
            why="ctest's summary is above",
            fix=f"the whole output: {log}; one test: {build_dir}/tests/cpp/infercore_cpp_tests "
            "--gtest_filter=NAME",
        )


def _summary(output: str) -> str:
    """ctest's report without the progress lines of the tests that passed."""
    progress = re.compile(r"^\s*(Start\s+\d+:|\d+/\d+ Test\s+#\d+: .*\bPassed\b)")
    return "\n".join(line for line in output.splitlines() if not progress.match(line)).strip()
