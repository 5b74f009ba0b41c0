"""cibuildwheel's configuration for one release cell, generated from the data.

Nothing here is copied by hand: the Python list comes from [python], the image from
docker/images.lock, the repair policy from the cell (or what a stand-in base reaches),
the excluded libraries from [wheels] repair-exclude. It is written as a cibuildwheel
config file (`cibuildwheel --config-file`), one per run, next to its log.

Inside the container the core and the kernels are built once, by before-all
(release/prepare.py); each Python then compiles only its binding against them, from the
static configuration prepare.py wrote (an initial CMake cache and one SBOM per Python).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..config import BuildMatrix

# Where things are inside the container. /project is cibuildwheel's copy of the export.
PROJECT = PurePosixPath("/project")
BUILD = PurePosixPath("/infercore/build")  # mounted: the cell's persistent build tree
SOURCES = PurePosixPath("/infercore/sources")  # mounted: the pinned sources cache
RESULTS = PurePosixPath("/infercore/results")  # mounted: this run's junit files
PIP_CACHE = PurePosixPath("/infercore/pip-cache")
UV_CACHE = PurePosixPath("/infercore/uv-cache")
# mounted: FA4's content-addressed exports, made on the host before cibuildwheel starts
# (release/run.py), so the image needs no CuTe DSL environment of its own.
EXPORTS = PurePosixPath("/infercore/exports")
CCACHE = PurePosixPath("/infercore/ccache")  # used by the kernel builds where ccache is
CA = PurePosixPath("/etc/infercore/ca.pem")
# The release image's tool venv (docker/scripts/install-tools.sh): buildsys runs with it.
TOOLS_PYTHON = "/opt/infercore/tools/bin/python"
# What prepare.py writes under the build tree, read by every Python's build.
CORE_CACHE = "release/core.cmake"
SBOM_DIR = "release/sboms"
LABEL = "infercore.release"


def in_build(rel: str) -> PurePosixPath:
    return BUILD / rel


@dataclass(frozen=True)
class Mount:
    host: Path
    container: PurePosixPath
    mode: str = "rw"

    def arg(self) -> str:
        return f"--volume={self.host}:{self.container}:{self.mode}"


def python_tag(version: str) -> str:
    """'3.10' -> 'cp310': cibuildwheel's identifiers, the wheels' tags, the SBOM names."""
    return "cp" + version.replace(".", "")


def build_selectors(versions: Sequence[str]) -> list[str]:
    """['3.10', '3.12'] -> ['cp310-*', 'cp312-*']."""
    return [f"{python_tag(v)}-*" for v in versions]


def before_all(cell: str, versions: Sequence[str], *, jobs: int, profile: str | None) -> str:
    cmd = [
        f"PYTHONPATH={PROJECT}/scripts",
        TOOLS_PYTHON,
        "-m",
        "buildsys",
        "release-prepare",
        "--cell",
        cell,
        *(a for v in versions for a in ("--python", v)),
        "--jobs",
        str(jobs),
    ]
    if profile:
        cmd += ["--profile", profile]
    return f"cd {PROJECT} && " + " ".join(cmd)


def table(
    matrix: BuildMatrix,
    *,
    cell: str,
    arch: str,
    versions: Sequence[str],
    image_ref: str,
    engine: str,
    plat: str,
    mounts: Sequence[Mount],
    environment: Mapping[str, str],
    label: str,
    jobs: int,
    profile: str | None,
) -> dict[str, object]:
    """The [tool.cibuildwheel] table of one run."""
    excludes = " ".join(f"--exclude {soname}" for soname in matrix.repair_exclude)
    return {
        "build": build_selectors(versions),
        "skip": ["*-musllinux_*"],
        "archs": [arch],
        # uv makes each Python's isolated build env and test venv (the release image's
        # tool venv carries the pinned uv): seconds instead of pip's tens of seconds.
        "build-frontend": "build[uv]",
        f"manylinux-{arch}-image": image_ref,
        "container-engine": {
            "name": engine,
            "create-args": [*(m.arg() for m in mounts), f"--label={LABEL}={label}"],
        },
        "environment": dict(environment),
        "before-all": before_all(cell, versions, jobs=jobs, profile=profile),
        "config-settings": {
            "cmake.args": f"-C{in_build(CORE_CACHE)}",
            # scikit-build-core fills in {wheel_tag}: a persistent tree per Python.
            "build-dir": str(in_build("release/wheel/{wheel_tag}")),
        },
        "repair-wheel-command": f"auditwheel repair --plat {plat} {excludes} "
        "-w {dest_dir} {wheel}",
        "test-extras": ["test"],
        # From cibuildwheel's scratch directory, against the installed wheel only; one
        # junit file per wheel, read back on the host for the summary.
        "test-command": f"python -m pytest {PROJECT}/tests/engine -q -p no:cacheprovider "
        f"--junitxml={RESULTS}/$(basename {{wheel}} .whl).xml",
    }


def _toml(value: object) -> str:
    # JSON strings are TOML basic strings; arrays and inline tables are spelled alike.
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML spelling for {value!r}")


def render(cibw: Mapping[str, object]) -> str:
    lines = [
        "# Written by `nox -s wheels` (buildsys/release/cibw.py) for one run: do not edit.",
        "[tool.cibuildwheel]",
    ]
    lines += [f"{key} = {_toml(value)}" for key, value in cibw.items()]
    return "\n".join(lines) + "\n"
