"""Conan profiles rendered from a build matrix (conanprofiles.py), loaded by the real conan."""

import copy
import json
import re
import shutil

import pytest
from buildsys import conan, conanprofiles, matrix
from buildsys.errors import BuildError
from conan_helpers import conan_home, needs_conan

__all__ = ["conan_home"]  # a fixture, used by name

MATRIX = {
    "python": {"versions": ["3.11"]},
    "targets": {
        "cpu-x86_64": {"platform": "x86", "arch": "x86_64"},
        "cuda-x86_64": {
            "platform": "cuda",
            "arch": "x86_64",
            "cuda": "13.0",
            "sass-archs": ["80", "90"],
            "ptx-archs": ["90"],
        },
        "cpu-aarch64": {
            "platform": "arm",
            "arch": "aarch64",
            "compiler-version": "12",
            "cross-prefix": "aarch64-linux-gnu-",
        },
        "arm-server": {
            "platform": "arm",
            "arch": "aarch64",
            "compiler": "armclang",
            "compiler-version": "19",
        },
    },
    "cuda-toolkits": {
        "13.0": {"sass": ["80", "90"], "arch-specific": ["90"], "min-glibc": "2.28", "max-gcc": 15}
    },
}


def show(name, profiles, tmp_path):
    return conan.check_profile(name, profiles, log=tmp_path / "conan.log")


@needs_conan
def test_every_target_gets_a_profile_that_conan_loads(tmp_path, conan_home):
    conan.setup_home(log=tmp_path / "conan.log", with_remotes=False)
    profiles = conanprofiles.write_profiles(tmp_path / "profiles", data=MATRIX)
    assert set(profiles) == {*MATRIX["targets"], "build"}
    assert (tmp_path / "profiles" / "templates" / "base.jinja").is_file()

    cpu = show("cpu-x86_64", profiles, tmp_path)
    assert cpu["settings"]["arch"] == "x86_64"
    assert cpu["settings"]["compiler"] == "gcc"
    assert re.fullmatch(r"\d+", cpu["settings"]["compiler.version"])  # detected by Conan
    assert cpu["settings"]["compiler.cppstd"] == "17"
    assert "cuda" not in cpu["settings"]
    assert cpu["conf"]["user.infercore:target"] == "cpu-x86_64"

    cuda = show("cuda-x86_64", profiles, tmp_path)
    assert cuda["settings"]["cuda"] == "13.0"
    assert cuda["conf"]["user.infercore:cuda_archs"] == ["80", "90"]
    assert cuda["conf"]["user.infercore:cuda_ptx_archs"] == ["90"]

    cross = show("cpu-aarch64", profiles, tmp_path)
    assert cross["settings"]["arch"] == "armv8"
    assert cross["settings"]["compiler.version"] == "12"
    assert cross["conf"]["tools.build:compiler_executables"] == {
        "c": "aarch64-linux-gnu-gcc",
        "cpp": "aarch64-linux-gnu-g++",
    }

    armclang = show("arm-server", profiles, tmp_path)
    assert armclang["settings"]["compiler"] == "clang"
    assert armclang["settings"]["compiler.version"] == "19"
    assert armclang["conf"]["tools.build:compiler_executables"]["cpp"] == "armclang++"


def test_a_profile_is_the_matrix_data_and_an_include(tmp_path):
    profiles = conanprofiles.write_profiles(tmp_path, data=MATRIX)
    text = profiles["cuda-x86_64"].read_text()
    assert '{%- include "templates/linux-gcc.jinja" %}' in text
    data = json.loads(re.search(r"set target = (\{.*\}) %", text).group(1))
    assert data["sass_archs"] == ["80", "90"] and data["cuda"] == "13.0"
    assert "templates/linux-gcc-cross.jinja" in profiles["cpu-aarch64"].read_text()
    assert "templates/linux-armclang.jinja" in profiles["arm-server"].read_text()

    # Nothing is copied by hand: a change in the matrix is a change in the profile.
    changed = copy.deepcopy(MATRIX)
    changed["targets"]["cuda-x86_64"]["sass-archs"] = ["90"]
    del changed["targets"]["arm-server"]
    again = conanprofiles.write_profiles(tmp_path, data=changed)
    assert '"sass_archs": ["90"]' in again["cuda-x86_64"].read_text()
    assert not (tmp_path / "arm-server").exists()  # removed targets lose their profile


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"compiler": "icc"}, "compiler 'icc' has no Conan profile template"),
        ({"arch": "riscv64"}, "arch 'riscv64' has no Conan arch"),
        ({"cross-prefix": "aarch64-linux-gnu-"}, "needs compiler-version"),
    ],
)
def test_targets_without_a_profile_are_rejected(tmp_path, change, message):
    data = copy.deepcopy(MATRIX)
    data["targets"]["cpu-x86_64"].update(change)
    with pytest.raises(BuildError, match=message) as info:
        conanprofiles.write_profiles(tmp_path, data=data)
    assert "[targets.cpu-x86_64]" in str(info.value)


@needs_conan
def test_a_template_that_does_not_render_names_the_target_and_the_fix(tmp_path, conan_home):
    conan.setup_home(log=tmp_path / "conan.log", with_remotes=False)
    templates = tmp_path / "templates-src"
    shutil.copytree(conanprofiles.TEMPLATES, templates)
    gcc = templates / "linux-gcc.jinja"
    gcc.write_text(gcc.read_text().replace("templates/base.jinja", "templates/typo.jinja"))
    profiles = conanprofiles.write_profiles(tmp_path / "p", data=MATRIX, templates_dir=templates)
    with pytest.raises(BuildError, match="profile of target cpu-x86_64 does not render") as info:
        show("cpu-x86_64", profiles, tmp_path)
    assert "typo.jinja" in info.value.why
    assert "build-matrix.toml" in info.value.fix and "conan-profiles" in info.value.fix


@needs_conan
def test_a_cuda_version_outside_the_toolkit_table_does_not_load(tmp_path, conan_home):
    conan.setup_home(log=tmp_path / "conan.log", with_remotes=False)  # settings_user.yml
    data = copy.deepcopy(MATRIX)
    data["targets"]["cuda-x86_64"]["cuda"] = "14.0"
    profiles = conanprofiles.write_profiles(tmp_path, data=data)
    with pytest.raises(BuildError, match="cuda-x86_64 does not render") as info:
        show("cuda-x86_64", profiles, tmp_path)
    assert "'14.0' is not a valid 'settings.cuda' value" in info.value.why


def test_settings_user_lists_the_matrix_toolkits():
    text = conanprofiles.settings_user_yml(matrix.parse(MATRIX))
    assert 'cuda: [null, "13.0"]' in text
    repo = conanprofiles.settings_user_yml(matrix.load())
    assert all(f'"{v}"' in repo for v in matrix.load().toolkits)


@needs_conan
def test_the_repository_matrix_renders_for_every_target(tmp_path, conan_home):
    conan.setup_home(log=tmp_path / "conan.log", with_remotes=False)
    profiles = conanprofiles.write_profiles(tmp_path)
    assert set(matrix.load().targets) <= set(profiles)
    for name in matrix.load().targets:
        settings = show(name, profiles, tmp_path)["settings"]
        assert settings["arch"] == conanprofiles.CONAN_ARCH[matrix.load().targets[name].arch]
