"""Every arch group's kernel project configures and compiles its dispatch table.

The real CMake project (csrc/kernels) with the configure arguments `nox -s kernels-<group>`
uses, for the ci profile of each group in build-matrix.toml; then only registry.cu, which
carries the group's generated kernel lists and its arch text, is compiled (seconds, not the
minutes of an FA2 translation unit). A group whose arch list holds PTX once broke here: the
';' of "100-real;100-virtual" split a compile definition.
"""

import subprocess
from pathlib import Path

import pytest
from buildsys import kernelprofile, kernels
from buildsys.errors import BuildError
from buildsys.project import ROOT, load_toml
from buildsys.toolchain import find_nvcc

NVCC = find_nvcc()
MATRIX = load_toml(ROOT / "build-matrix.toml")
GROUPS = sorted(MATRIX["kernel-archs"])


def pinned_sources() -> dict[str, Path] | None:
    try:
        return kernels.source_dirs(offline=True)
    except BuildError:
        return None


@pytest.mark.skipif(NVCC is None, reason="needs nvcc")
@pytest.mark.parametrize("group", GROUPS)
def test_group_configures_and_compiles_its_registry(group, tmp_path):
    srcs = pinned_sources()
    if srcs is None:
        pytest.skip("the pinned sources are not in the cache (nox -s sources fetches them)")
    plan = kernelprofile.plan(group=group, profile="ci", cuda="13.0", data=MATRIX)
    configure = kernels._configure_args(
        plan,
        nvcc=kernels.real_nvcc(NVCC),
        build_dir=tmp_path / "build",
        prefix=tmp_path / "install",
        srcs=srcs,
        pools={"light": 1, "fa2": 1, "fmha": 1},
        report=tmp_path / "tu-report.jsonl",
    )
    subprocess.run(configure, check=True, capture_output=True, text=True)
    targets = subprocess.run(
        ["ninja", "-C", str(tmp_path / "build"), "-t", "targets", "all"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    registry = next(
        line.split(":")[0]
        for line in targets.splitlines()
        if line.startswith("CMakeFiles/") and line.split(":")[0].endswith("registry.cu.o")
    )
    built = subprocess.run(
        ["ninja", "-C", str(tmp_path / "build"), registry], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stdout[-3000:]
