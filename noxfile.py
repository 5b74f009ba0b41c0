"""infercore's build, one nox session per step (`nox -l` lists them, `nox -s NAME`).

Sessions stay a few lines each: the logic lives in scripts/buildsys, which is
importable and unit-tested. Pinned tool versions live in pyproject.toml's
[dependency-groups]; what gets built lives in build-matrix.toml.
"""

from __future__ import annotations

import os

import nox

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
# One kernels-<group> session per arch group in build-matrix.toml (kernels-sm90 ...).
KERNEL_ARCHS = nox.project.load_toml("build-matrix.toml")["kernel-archs"]
BUILDSYS_ENV = {"PYTHONPATH": "scripts"}


def _buildsys(session: nox.Session, *args: str) -> None:
    session.run("python", "-m", "buildsys", *args, env=BUILDSYS_ENV)


@nox.session
def wheels(session: nox.Session) -> None:
    """Build, repair and test wheels for CPython 3.10-3.12 into dist/ (host fallback)."""
    session.install(*BUILDSYS, *KERNEL_TOOLS, *CONAN)
    _buildsys(session, "wheels", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """Run the pytest suites: buildsys unit, engine (on a built wheel), pipeline integration."""
    session.install(*BUILDSYS, *KERNEL_TOOLS, *TEST)
    # Optional: a PyTorch requirement or wheel path, for the torch-in/torch-out engine tests.
    if torch := os.environ.get("INFERCORE_TEST_TORCH"):
        session.install(torch)
    wheel_dir = session.create_tmp()
    _buildsys(session, "wheel", "--out", wheel_dir)
    session.install("--no-deps", "--reinstall", "--find-links", wheel_dir, "infercore")
    suites = session.posargs or ["tests/buildsys", "tests/engine", "tests/integration"]
    session.run("pytest", *suites, env=BUILDSYS_ENV)


def _kernels_session(group: str, description: str) -> None:
    @nox.session(name=f"kernels-{group}")
    def kernels(session: nox.Session) -> None:
        session.install(*BUILDSYS, *KERNEL_TOOLS)
        _buildsys(session, "kernels", group, *session.posargs)

    kernels.__doc__ = (
        f"Kernel library for {group}, built and verified ({description}); --profile, --cuda."
    )


for _group, _table in KERNEL_ARCHS.items():
    _kernels_session(_group, _table.get("description", ""))


@nox.session
def lint(session: nox.Session) -> None:
    """Check style and common bugs with ruff (lint and format)."""
    session.install(*LINT)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Measure wheel and kernel build times, CPU op throughput (figures for docs/BENCHMARKS.md)."""
    session.install(*BUILDSYS, *KERNEL_TOOLS, *TEST, "nox==2026.10.20")
    what = session.posargs or ["wheels", "kernels", "cpu-ops"]
    if "wheels" in what:
        _buildsys(session, "bench", "wheels")
    if "kernels" in what:
        _buildsys(session, "bench", "kernels")
    if "cpu-ops" in what:
        wheel_dir = session.create_tmp()
        _buildsys(session, "wheel", "--out", wheel_dir)
        session.install("--no-deps", "--reinstall", "--find-links", wheel_dir, "infercore")
        _buildsys(session, "bench", "cpu-ops")


@nox.session
def sources(session: nox.Session) -> None:
    """Fetch and verify pinned sources into the cache (--offline, --mirror, --fill-mirror)."""
    session.install(*BUILDSYS)
    _buildsys(session, "sources", *session.posargs)


@nox.session
def reproducible(session: nox.Session) -> None:
    """Build one wheel twice from scratch in different trees and check the sha256 match."""
    session.install(*BUILDSYS, *KERNEL_TOOLS, *CONAN)
    _buildsys(session, "reproducible", *session.posargs)


# The engine's C++ dependencies through Conan 2 (scripts/buildsys/conan.py).


@nox.session(name="conan-profiles")
def conan_profiles(session: nox.Session) -> None:
    """Render a Conan profile per build-matrix.toml target and check each with Conan."""
    session.install(*BUILDSYS, *CONAN)
    _buildsys(session, "conan-profiles", *session.posargs)


@nox.session
def deps(session: nox.Session) -> None:
    """Install the C++ dependencies for a target with Conan (--target, --offline, --update-lock)."""
    session.install(*BUILDSYS, *CONAN)
    _buildsys(session, "deps", *session.posargs)


@nox.session(name="cpp-tests")
def cpp_tests(session: nox.Session) -> None:
    """Build the C++ tests (tests/cpp) with the Conan toolchain and run them with ctest."""
    session.install(*BUILDSYS, *CONAN)
    _buildsys(session, "cpp-tests", *session.posargs)
