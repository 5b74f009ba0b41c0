import pytest
from buildsys import matrix
from buildsys.errors import BuildError
from buildsys.project import load_toml, pyproject

GOOD = {
    "python": {"versions": ["3.10", "3.11"]},
    "wheels": {"dist-dir": "dist", "size-budget-mib": {"cpu": 5}},
    "targets": {
        "cpu-x86_64": {"platform": "x86", "arch": "x86_64"},
        "cuda-x86_64": {
            "platform": "cuda",
            "arch": "x86_64",
            "cuda": "13.0",
            "sass-archs": ["80", "90"],
            "ptx-archs": ["90"],
        },
    },
}


def test_repository_matrix_loads_and_has_cpu_and_cuda_targets():
    bm = matrix.load()
    assert bm.python_versions == ("3.10", "3.11", "3.12")
    assert bm.default_target(cuda_available=False).platform == "x86"
    cuda = bm.default_target(cuda_available=True)
    assert cuda.is_cuda and cuda.sass_archs and cuda.cuda


def test_auto_target_follows_nvcc():
    bm = matrix.parse(GOOD)
    assert bm.default_target(cuda_available=True).name == "cuda-x86_64"
    assert bm.default_target(cuda_available=False).name == "cpu-x86_64"


def test_unknown_target_names_the_known_ones():
    bm = matrix.parse(GOOD)
    with pytest.raises(BuildError, match="unknown build target 'sm75'") as info:
        bm.target("sm75")
    assert "cpu-x86_64, cuda-x86_64" in str(info.value)


def test_cuda_target_without_archs_is_rejected():
    bad = {"targets": {"gpu": {"platform": "cuda", "arch": "x86_64", "cuda": "13.0"}}}
    with pytest.raises(BuildError, match=r"\[targets.gpu\] is a CUDA target without"):
        matrix.parse(bad)


def test_bad_platform_and_missing_keys_are_rejected():
    with pytest.raises(BuildError, match="platform is 'riscv'"):
        matrix.parse({"targets": {"t": {"platform": "riscv", "arch": "x86_64"}}})
    with pytest.raises(BuildError, match="has no 'arch'"):
        matrix.parse({"targets": {"t": {"platform": "x86"}}})


def test_list_fields_must_be_lists_of_strings():
    with pytest.raises(BuildError, match="must be a list of strings"):
        matrix.parse({"python": {"versions": "3.11"}})


def test_cibuildwheel_image_pin_matches_the_matrix():
    """pyproject.toml must carry the image pinned in build-matrix.toml, digest and all."""
    pinned = matrix.load().images["manylinux2014-x86_64"]
    assert "@sha256:" in pinned
    assert pyproject()["tool"]["cibuildwheel"]["manylinux-x86_64-image"] == pinned


def test_cibuildwheel_builds_the_matrix_pythons_and_excludes_the_driver():
    cibw = pyproject()["tool"]["cibuildwheel"]
    tags = {f"cp{v.replace('.', '')}-*" for v in matrix.load().python_versions}
    assert set(cibw["build"]) == tags
    for soname in matrix.load().repair_exclude:
        assert f"--exclude {soname}" in cibw["linux"]["repair-wheel-command"]


def test_matrix_file_is_plain_toml(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('[python]\nversions = ["3.12"]\n')
    assert matrix.parse(load_toml(path)).python_versions == ("3.12",)
