# /// script
# dependencies = ["nox==2026.10.20", "pydantic==2.14.4", "rich==15.0.0"]
# ///
"""infercore's build, one nox session per step (`nox -l` lists them, `nox -s NAME`).

Sessions stay a few lines each: the logic lives in scripts/buildsys, which is
importable and unit-tested. Pinned tool versions live in pyproject.toml's
[dependency-groups]; what gets built lives in build-matrix.toml, read here through
the same typed models (buildsys.config) as everywhere else. The script block above
makes nox run this file with pydantic and rich at hand (`nox` creates that environment
once): the sessions that build or test decide here, before installing anything, whether
they re-run themselves in their image (`-- --container auto|always|never`).

Tags say which sessions CI runs (`nox -s ci-matrix`, docs/CI.md): "ci" (a cell each, per
target or arch group where build-matrix.toml fans them out), "gpu" (on the GPU runner),
"release" (one cell per built [release] cell, release.yml). `nox -l -t ci` lists them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox

sys.path.insert(0, str(Path(__file__).parent / "scripts"))
from buildsys import config
from buildsys.container import session as container
from buildsys.errors import BuildError
from buildsys.util.paths import Paths

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
# Reused session venvs keep a repeated `nox -s wheels` fast; pins still apply.
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "tests"]

PYPROJECT = nox.project.load_toml("pyproject.toml")
BUILDSYS = nox.project.dependency_groups(PYPROJECT, "buildsys")
TEST = nox.project.dependency_groups(PYPROJECT, "test")
LINT = nox.project.dependency_groups(PYPROJECT, "lint")
KERNEL_TOOLS = nox.project.dependency_groups(PYPROJECT, "kernels")
CONAN = nox.project.dependency_groups(PYPROJECT, "conan")
RELEASE = nox.project.dependency_groups(PYPROJECT, "release")
CONFIG = config.load(Path(__file__).parent)
MATRIX = CONFIG.matrix
BUILDSYS_ENV = {"PYTHONPATH": "scripts"}
GPU = nox.project.dependency_groups(PYPROJECT, "gpu")
# The CI tags (buildsys.ci.matrix reads them through `nox -l --json -t ...`).
CI, ON_GPU, RELEASE_CELLS = "ci", "gpu", "release"


def _host_args(session: nox.Session) -> list[str] | None:
    """The session's arguments when it runs here; None when it ran in its image.

    `--container auto` (the default, or INFERCORE_CONTAINER) re-runs the session in the
    image build-matrix.toml [images.sessions] names when an engine and the image are
    there; `always` insists, `never` stays on the host (docker/README.md)."""
    try:
        choice = container.resolve(
            Paths.from_env(), MATRIX, CONFIG.lock, session.name, session.posargs
        )
    except BuildError as err:
        session.error(f"{err.kind}: {err}")
    if choice.engine is None:
        return choice.args
    session.run(
        sys.executable,
        "-m",
        "buildsys",
        "container-run",
        session.name,
        "--",
        *session.posargs,
        env=BUILDSYS_ENV,
        external=True,
        interrupt_timeout=30,
        terminate_timeout=10,
    )
    return None


def _buildsys(session: nox.Session, *args: str) -> None:
    # buildsys forwards Ctrl-C to its children and waits for them: give it the time to
    # (nox's default sends SIGTERM 0.3 s after SIGINT, then SIGKILL).
    session.run(
        "python",
        "-m",
        "buildsys",
        *args,
        env=BUILDSYS_ENV,
        interrupt_timeout=30,
        terminate_timeout=10,
    )


def _install_wheel(session: nox.Session, wheel_dir: str) -> None:
    # --force-reinstall: the same version rebuilt (pip and uv both spell it so).
    session.install("--no-deps", "--force-reinstall", "--find-links", wheel_dir, "infercore")


@nox.session(tags=[RELEASE_CELLS])
def wheels(session: nox.Session) -> None:
    """Tested manylinux wheels for CPython 3.10-3.12 into dist/.

    With a container engine: cibuildwheel in the [release] cell's image, the core and
    kernels once, then per Python the binding, auditwheel repair and the engine tests;
    without one, the same steps on this host (`-- --via host|cibuildwheel`, `--cell NAME`,
    `--python 3.11`, `--target cpu-x86_64`, `--profile release`, `--jobs N`, `--dist DIR`).
    """
    session.install(*BUILDSYS, *KERNEL_TOOLS, *CONAN, *RELEASE)
    _buildsys(session, "wheels", *session.posargs)


@nox.session(tags=[CI])
def plan(session: nox.Session) -> None:
    """Validate everything and print what a build would do, compiling nothing.

    Targets, CUDA versions, kernel archs and translation units, Pythons, wheel policy and
    image, sources and their cache state (`-- --target NAME`, `--profile NAME`, `--json`).
    """
    if (args := _host_args(session)) is None:
        return
    session.install(*BUILDSYS)
    _buildsys(session, "plan", *args)


def _kernels_session(group: str, description: str) -> None:
    @nox.session(name=f"kernels-{group}", tags=[CI])
    def kernels(session: nox.Session) -> None:
        if (args := _host_args(session)) is None:
            return
        session.install(*BUILDSYS, *KERNEL_TOOLS)
        _buildsys(session, "kernels", group, *args)

    kernels.__doc__ = (
        f"The {group} fast-kernel library, built and verified.\n\n{description}; compiled in "
        "a memory-sized pool, with a per-TU report (`-- --profile release`, `--cuda 13.0`, "
        "`--jobs N`, `--offline`, `--toolchain pinned`, `--fa4-exports-only`)."
    )


for _name, _group in MATRIX.kernel_archs.items():
    _kernels_session(_name, _group.description)


@nox.session(name="kernels")
def kernels_all(session: nox.Session) -> None:
    """Every arch group the CUDA target links, in one memory-sized pool.

    What a CUDA wheel build compiles (`-- sm80 sm90` to choose, `--profile release`,
    `--jobs N`); the report prints the schedule's lower bound and efficiency.
    """
    if (args := _host_args(session)) is None:
        return
    session.install(*BUILDSYS, *KERNEL_TOOLS)
    _buildsys(session, "kernels", *args)


@nox.session(tags=[CI])
def tests(session: nox.Session) -> None:
    """The pytest suites against a freshly built wheel.

    buildsys unit and property tests, the engine tests, and integration tests of the real
    pipeline (interrupts publish nothing, clean builds are byte-identical).
    """
    if (args := _host_args(session)) is None:
        return
    session.install(*BUILDSYS, *KERNEL_TOOLS, *TEST)
    # Optional: a PyTorch requirement or wheel path, for the torch-in/torch-out engine tests.
    if torch := os.environ.get("INFERCORE_TEST_TORCH"):
        session.install(torch)
    wheel_dir = session.create_tmp()
    _buildsys(session, "wheel", "--out", wheel_dir)
    _install_wheel(session, wheel_dir)
    suites = args or ["tests/buildsys", "tests/engine", "tests/integration"]
    session.run("pytest", *suites, env=BUILDSYS_ENV, interrupt_timeout=30)


@nox.session(name="gpu-tests", tags=[CI, ON_GPU])
def gpu_tests(session: nox.Session) -> None:
    """The CUDA tests (tests/gpu) against a freshly built CUDA wheel, on a GPU.

    Reference and fast kernels against PyTorch on the device, nothing skipped for a
    CPU-only build (INFERCORE_REQUIRE_CUDA=1); PyTorch from the `gpu` dependency group, or
    INFERCORE_TEST_TORCH (`-- tests/gpu/test_fast_kernels.py` to choose).
    """
    if (args := _host_args(session)) is None:
        return
    session.install(*BUILDSYS, *KERNEL_TOOLS, *TEST)
    session.install(os.environ.get("INFERCORE_TEST_TORCH") or GPU[0], *GPU[1:])
    wheel_dir = session.create_tmp()
    _buildsys(
        session,
        "wheel",
        "--target",
        MATRIX.default_target(cuda_available=True).name,
        "--out",
        wheel_dir,
    )
    _install_wheel(session, wheel_dir)
    session.run(
        "pytest",
        *(args or ["tests/gpu"]),
        env={**BUILDSYS_ENV, "INFERCORE_REQUIRE_CUDA": "1"},
        interrupt_timeout=30,
    )


@nox.session(tags=[CI])
def lint(session: nox.Session) -> None:
    """Style and common bugs: ruff lint and format check."""
    session.install(*LINT)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmark figures for docs/BENCHMARKS.md.

    Wheel and kernel build times (with the kernel schedule's efficiency), CPU-op
    throughput, image builds with the per-session container overhead, cibuildwheel
    against the host pipeline, the shared compiler cache from a second checkout, and the
    doctor's run time (`-- wheels kernels cpu-ops containers release cache doctor`;
    containers and release need an engine and the images, cache a redis-server: none of
    them is in the default set, nor doctor).
    """
    session.install(*BUILDSYS, *KERNEL_TOOLS, *TEST, *RELEASE)
    what = session.posargs or ["wheels", "kernels", "cpu-ops"]
    if "wheels" in what:
        _buildsys(session, "bench", "wheels")
    if "kernels" in what:
        _buildsys(session, "bench", "kernels")
    if "cpu-ops" in what:
        wheel_dir = session.create_tmp()
        _buildsys(session, "wheel", "--out", wheel_dir)
        _install_wheel(session, wheel_dir)
        _buildsys(session, "bench", "cpu-ops")
    if "containers" in what:
        _buildsys(session, "bench", "containers", "--with-tests")
    if "release" in what:
        _buildsys(session, "bench", "release")
    if "cache" in what:
        _buildsys(session, "bench", "cache", "--groups", "sm90")
    if "doctor" in what:
        _buildsys(session, "bench", "doctor")


@nox.session
def sources(session: nox.Session) -> None:
    """Fetch and verify the pinned sources into the cache.

    sources.lock.toml's inputs, by sha256; a corrupt cache entry is quarantined and fetched
    again (`-- --offline`, `--mirror DIR`, `--fill-mirror DIR`, `--verify` to hash every
    cached file in full).
    """
    if (args := _host_args(session)) is None:
        return
    session.install(*BUILDSYS)
    _buildsys(session, "sources", *args)


@nox.session
def images(session: nox.Session) -> None:
    """Build the images from docker/Dockerfile and record them in docker/images.lock.

    One stage per role (dev, test, release) and platform, from build-matrix.toml's
    [images]; rebuilt only when their inputs changed (`-- --role test`, `--platform x86`,
    `--engine podman`, `--base bookworm`, `--python 3.11`, `--rebuild`).
    """
    session.install(*BUILDSYS)
    _buildsys(session, "images", *session.posargs)


@nox.session
def reproducible(session: nox.Session) -> None:
    """Build one wheel twice from scratch in different trees and compare the sha256.

    On this host, or in the release image (`-- --via cibuildwheel`; `--python 3.11`,
    `--target cpu-x86_64`).
    """
    session.install(*BUILDSYS, *KERNEL_TOOLS, *CONAN, *RELEASE)
    _buildsys(session, "reproducible", *session.posargs)


@nox.session(name="conan-profiles", tags=[CI])
def conan_profiles(session: nox.Session) -> None:
    """Render and check a Conan profile per target.

    One per build-matrix.toml target, into build/conan/profiles/, each loaded by Conan.
    """
    if (args := _host_args(session)) is None:
        return
    session.install(*BUILDSYS, *CONAN)
    _buildsys(session, "conan-profiles", *args)


@nox.session
def deps(session: nox.Session) -> None:
    """Install the engine's C++ dependencies with Conan.

    glog, pybind11, GoogleTest for a target: lockfile, packages built from source, CMake
    toolchain (`-- --target NAME`, `--offline`, `--mirror DIR`, `--update-lock`,
    `--jobs N`).
    """
    if (args := _host_args(session)) is None:
        return
    session.install(*BUILDSYS, *CONAN)
    _buildsys(session, "deps", *args)


@nox.session(name="cpp-tests", tags=[CI])
def cpp_tests(session: nox.Session) -> None:
    """Build and run the C++ tests with ctest.

    tests/cpp (GoogleTest) through the Conan toolchain (`-- --target NAME`, default this
    machine's CPU target).
    """
    if (args := _host_args(session)) is None:
        return
    session.install(*BUILDSYS, *CONAN)
    _buildsys(session, "cpp-tests", *args)


# venv_backend="none": the checks need only what nox's own environment has (pydantic,
# rich, filelock), and a session venv with the buildsys group would cost more than the
# checks themselves (the "< 5 s" of docs/BENCHMARKS.md).
@nox.session(venv_backend="none")
def doctor(session: nox.Session) -> None:
    """Check, before a long build, everything that would make it fail late.

    Container engine and images (against docker/images.lock), nvcc against the target's
    archs and kernel profile, the GPU driver, glibc and gcc per release cell, free memory
    and disk, the Pythons, the pinned sources and the ccache binary and remote: a verdict
    and a fix per row, non-zero exit when the build cannot succeed (`-- --target NAME`,
    `--profile NAME`, `--toolchain pinned`, `--network`, `--offline`, `--json`).
    """
    session.run(
        sys.executable,
        "-m",
        "buildsys",
        "doctor",
        *session.posargs,
        env=BUILDSYS_ENV,
        external=True,
        silent=False,
    )


@nox.session(name="ci-matrix", venv_backend="none")
def ci_matrix(session: nox.Session) -> None:
    """The CI matrix as JSON, derived from the sessions' tags and build-matrix.toml.

    One cell per CI-tagged session and target or arch group, with its runner labels (the
    GPU runner for "gpu" sessions), image, timeout and cache key; the release cells; the
    images (`-- --json`, `--only build|release|images`). .github/workflows read it.
    """
    session.run(
        sys.executable,
        "-m",
        "buildsys",
        "ci-matrix",
        *session.posargs,
        env=BUILDSYS_ENV,
        external=True,
        silent=False,
    )
