"""`nox -s cpp-tests`: the C++ tests (tests/cpp), built through the Conan toolchain, run by ctest.

The core is configured exactly as the wheels configure it (core.cmake_defines), plus
INFERCORE_BUILD_TESTS=ON and the target's Conan toolchain, in a build tree of its own.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from .. import ccache
from ..config import BuildMatrix, SourcesLock, Target
from ..cuda.toolchain import Compiler
from ..deps import conan
from ..errors import BuildError
from ..host import memory
from ..util import cmake, console, runner
from ..util.fs import locked
from ..util.paths import Paths
from . import core

CPU = "cpu"
AUTO = "auto"


def choose_target(matrix: BuildMatrix, name: str, compiler: Compiler | None = None) -> Target:
    """`cpu` (the default: the tests need no GPU) is this machine's CPU target; `auto` the
    CUDA one when the --toolchain choice has a CUDA compiler."""
    if name == CPU:
        return matrix.default_target(cuda_available=False)
    if name == AUTO:
        return matrix.default_target(cuda_available=(compiler or Compiler()).available())
    return matrix.target(name)


def run(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    target_name: str = CPU,
    *,
    jobs: int | None = None,
    offline: bool = False,
    mirrors: Sequence[Path] = (),
    compiler: Compiler | None = None,
) -> None:
    compiler = compiler or Compiler()
    target = choose_target(matrix, target_name, compiler)
    jobs = jobs or memory.cpus()
    nvcc = compiler.nvcc(str(target.cuda)) if target.is_cuda else None
    core.check_cuda(matrix, target, nvcc)
    c = conan.Conan(paths=paths, matrix=matrix, lock=lock)
    deps = conan.install(c, target.name, jobs=jobs, offline=offline, mirrors=mirrors)
    console.say("tests", f"C++ dependencies of {target.name}: {deps.toolchain}")

    build_dir = paths.tree("cpp-tests", target.name)
    log = paths.logs / f"cpp-tests-{target.name}.log"
    cache = ccache.prepare(paths, matrix, lock, offline=offline)
    defines = core.cmake_defines(paths, target, nvcc=nvcc) | ccache.cmake_defines(cache)
    defines["INFERCORE_BUILD_TESTS"] = "ON"
    if nvcc is not None:
        built = core.build_kernels(paths, matrix, lock, target, nvcc=nvcc, jobs=jobs, profile=None)
        defines |= core.kernel_defines(built)
    configure = ["cmake", "-S", paths.root, "-B", build_dir, "-G", "Ninja", *deps.cmake_args]
    configure += cmake.define_args(defines)
    with locked(
        build_dir.parent / f".{target.name}.lock",
        label="tests",
        what=f"building the {target.name} C++ tests",
    ):
        cmake.configure(configure, build_dir, what="configuring the C++ tests (cmake)", log=log)
        console.say("tests", f"building the core and tests/cpp ({jobs} jobs; log: {log})")
        runner.call(
            ["cmake", "--build", build_dir, "--parallel", str(jobs)],
            what="building the C++ tests",
            log=log,
            env=ccache.build_env(cache, build_dir),
        )
        ccache.report("tests", ccache.summary(cache, build_dir))
        runner.debug_pause("cpp-tests-built")  # the container interrupt test's moment
        # ctest's own output is the result: kept in the log, its summary shown.
        cmd = ["ctest", "--test-dir", build_dir, "--output-on-failure", "--timeout", "300"]
        cmd += ["--parallel", str(jobs), "--output-junit", build_dir / "ctest-junit.xml"]
        result = runner.call(cmd, what="ctest", log=log, capture=True, check=False)
    console.print(_summary(result.output), markup=False, highlight=False)
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
