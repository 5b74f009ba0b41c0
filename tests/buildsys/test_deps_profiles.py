"""Conan profiles rendered from a build matrix (buildsys.deps.profiles), loaded by the real
conan."""

import copy
import json
import re
import shutil

import pytest
from buildsys import config
from buildsys.config import ConfigError as MatrixError
from buildsys.deps import conan
from buildsys.deps import profiles as conanprofiles
from buildsys.errors import BuildError, ConfigError
from buildsys.util.paths import ROOT
from conan_helpers import context, needs_conan

DATA = {
    "python": {"versions": ["3.11"]},
    "wheels": {"size-budget-mib": {"cpu": 5, "cuda": 100}},
    "targets": {
        "cpu-x86_64": {"description": "cpu", "platform": "x86", "arch": "x86_64"},
        "cuda-x86_64": {
            "description": "cuda",
            "platform": "cuda",
            "arch": "x86_64",
            "cuda": "13.0",
            "sass-archs": ["80", "90"],
            "ptx-archs": ["90"],
            "manylinux": "manylinux_2_28",
        },
        "cpu-aarch64": {
            "description": "cross",
            "platform": "arm",
            "arch": "aarch64",
            "compiler-version": "12",
            "cross-prefix": "aarch64-linux-gnu-",
        },
        "arm-server": {
            "description": "armclang",
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
MATRIX = config.parse_matrix(DATA)


def show(c, name, profiles, tmp_path):
    return conan.check_profile(c, name, profiles, log=tmp_path / "conan.log")


@needs_conan
def test_every_target_gets_a_profile_that_conan_loads(tmp_path):
    c = context(tmp_path, matrix=MATRIX)
    conan.setup_home(c, log=tmp_path / "conan.log", with_remotes=False)
    profiles = conanprofiles.write_profiles(MATRIX, tmp_path / "profiles", ROOT)
    assert set(profiles) == {*DATA["targets"], "build"}
    assert (tmp_path / "profiles" / "templates" / "base.jinja").is_file()

    cpu = show(c, "cpu-x86_64", profiles, tmp_path)
    assert cpu["settings"]["arch"] == "x86_64"
    assert cpu["settings"]["compiler"] == "gcc"
    assert re.fullmatch(r"\d+", cpu["settings"]["compiler.version"])  # detected by Conan
    assert cpu["settings"]["compiler.cppstd"] == "17"
    assert "cuda" not in cpu["settings"]
    assert cpu["conf"]["user.infercore:target"] == "cpu-x86_64"

    cuda = show(c, "cuda-x86_64", profiles, tmp_path)
    assert cuda["settings"]["cuda"] == "13.0"
    assert cuda["conf"]["user.infercore:cuda_archs"] == ["80", "90"]
    assert cuda["conf"]["user.infercore:cuda_ptx_archs"] == ["90"]

    cross = show(c, "cpu-aarch64", profiles, tmp_path)
    assert cross["settings"]["arch"] == "armv8"
    assert cross["settings"]["compiler.version"] == "12"
    assert cross["conf"]["tools.build:compiler_executables"] == {
        "c": "aarch64-linux-gnu-gcc",
        "cpp": "aarch64-linux-gnu-g++",
    }

    armclang = show(c, "arm-server", profiles, tmp_path)
    assert armclang["settings"]["compiler"] == "clang"
    assert armclang["settings"]["compiler.version"] == "19"
    assert armclang["conf"]["tools.build:compiler_executables"]["cpp"] == "armclang++"


def test_a_profile_is_the_matrix_data_and_an_include(tmp_path):
    profiles = conanprofiles.write_profiles(MATRIX, tmp_path, ROOT)
    text = profiles["cuda-x86_64"].read_text()
    assert '{%- include "templates/linux-gcc.jinja" %}' in text
    data = json.loads(re.search(r"set target = (\{.*\}) %", text).group(1))
    assert data["sass_archs"] == ["80", "90"] and data["cuda"] == "13.0"
    assert data["description"] == "cuda" and data["conan_arch"] == "x86_64"
    assert "templates/linux-gcc-cross.jinja" in profiles["cpu-aarch64"].read_text()
    assert "templates/linux-armclang.jinja" in profiles["arm-server"].read_text()

    # Nothing is copied by hand: a change in the matrix is a change in the profile.
    changed = copy.deepcopy(DATA)
    changed["targets"]["cuda-x86_64"]["sass-archs"] = ["90"]
    del changed["targets"]["arm-server"]
    again = conanprofiles.write_profiles(config.parse_matrix(changed), tmp_path, ROOT)
    assert '"sass_archs": ["90"]' in again["cuda-x86_64"].read_text()
    assert not (tmp_path / "arm-server").exists()  # removed targets lose their profile


def test_unchanged_profiles_are_not_rewritten(tmp_path):
    first = conanprofiles.write_profiles(MATRIX, tmp_path, ROOT)
    mtimes = {name: path.stat().st_mtime_ns for name, path in first.items()}
    again = conanprofiles.write_profiles(MATRIX, tmp_path, ROOT)
    assert {name: path.stat().st_mtime_ns for name, path in again.items()} == mtimes


def test_specs_pick_the_template_of_the_compiler():
    specs = conanprofiles.specs(MATRIX)
    assert {n: s.template for n, s in specs.items()} == {
        "cpu-x86_64": "linux-gcc.jinja",
        "cuda-x86_64": "linux-gcc.jinja",
        "cpu-aarch64": "linux-gcc-cross.jinja",
        "arm-server": "linux-armclang.jinja",
    }
    assert specs["cpu-aarch64"].cross and not specs["arm-server"].cross
    assert conanprofiles.templates_dir(ROOT) == ROOT / "conan" / "profiles"


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        ({"compiler": "icc"}, "compiler", "compiler 'icc' has no Conan profile template"),
        ({"arch": "riscv64"}, "arch", "arch 'riscv64' has no Conan arch"),
        ({"cross-prefix": "aarch64-linux-gnu-"}, "compiler-version", "needs compiler-version"),
    ],
)
def test_targets_without_a_profile_are_rejected(change, key, message):
    # The typed matrix refuses these when it loads, naming the target and the key...
    data = copy.deepcopy(DATA)
    data["targets"]["cpu-x86_64"].update(change)
    with pytest.raises(MatrixError) as info:
        config.parse_matrix(data)
    assert f"[targets.cpu-x86_64] {key}" in str(info.value)
    # ...and the profile writer still refuses a target it has no template for.
    target = MATRIX.targets["cpu-x86_64"].model_copy(
        update={k.replace("-", "_"): v for k, v in change.items()}
    )
    with pytest.raises(ConfigError, match=message) as info:
        conanprofiles.spec_for(target)
    assert "[targets.cpu-x86_64]" in str(info.value)


def test_a_target_named_like_the_build_profile_is_refused(tmp_path):
    data = copy.deepcopy(DATA)
    data["targets"]["build"] = data["targets"].pop("cpu-x86_64")
    with pytest.raises(ConfigError, match="names a target 'build'"):
        conanprofiles.write_profiles(config.parse_matrix(data), tmp_path, ROOT)


@needs_conan
def test_a_template_that_does_not_render_names_the_target_and_the_fix(tmp_path):
    c = context(tmp_path, matrix=MATRIX)
    conan.setup_home(c, log=tmp_path / "conan.log", with_remotes=False)
    fake_root = tmp_path / "checkout"
    templates = conanprofiles.templates_dir(fake_root)
    shutil.copytree(conanprofiles.templates_dir(ROOT), templates)
    gcc = templates / "linux-gcc.jinja"
    gcc.write_text(gcc.read_text().replace("templates/base.jinja", "templates/typo.jinja"))
    profiles = conanprofiles.write_profiles(MATRIX, tmp_path / "p", fake_root)
    with pytest.raises(BuildError, match="profile of target cpu-x86_64 does not render") as info:
        show(c, "cpu-x86_64", profiles, tmp_path)
    assert "typo.jinja" in info.value.why
    assert "build-matrix.toml" in info.value.fix and "conan-profiles" in info.value.fix


@needs_conan
def test_a_cuda_version_outside_the_homes_settings_does_not_load(tmp_path):
    # The matrix itself now refuses a CUDA version without a [cuda-toolkits] entry, so
    # this is a Conan home set up from an older matrix: its settings_user.yml lacks 14.0.
    c = context(tmp_path, matrix=MATRIX)
    conan.setup_home(c, log=tmp_path / "conan.log", with_remotes=False)  # settings_user.yml
    data = copy.deepcopy(DATA)
    data["targets"]["cuda-x86_64"]["cuda"] = "14.0"
    data["cuda-toolkits"]["14.0"] = data["cuda-toolkits"]["13.0"]
    profiles = conanprofiles.write_profiles(config.parse_matrix(data), tmp_path, ROOT)
    with pytest.raises(BuildError, match="cuda-x86_64 does not render") as info:
        show(c, "cuda-x86_64", profiles, tmp_path)
    assert "'14.0' is not a valid 'settings.cuda' value" in info.value.why


def test_settings_user_lists_the_matrix_toolkits():
    text = conanprofiles.settings_user_yml(MATRIX)
    assert 'cuda: [null, "13.0"]' in text
    repo = config.load(ROOT).matrix
    listed = conanprofiles.settings_user_yml(repo)
    assert all(f'"{v}"' in listed for v in repo.toolkits)
    assert listed.index('"12.9"') < listed.index('"13.0"')  # by version, not by text


@needs_conan
def test_the_repository_matrix_renders_for_every_target(tmp_path):
    c = context(tmp_path)
    rendered = conan.render_profiles(c, log=tmp_path / "conan.log")
    assert set(rendered) == set(c.matrix.targets)
    for name, (path, host) in rendered.items():
        assert path == c.profiles_dir / name
        arch = conanprofiles.CONAN_ARCH[c.matrix.targets[name].arch]
        assert host["settings"]["arch"] == arch
