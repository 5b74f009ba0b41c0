"""buildsys.config: the typed models of build-matrix.toml and sources.lock.toml."""

import copy
import os
import re
from pathlib import Path

import pytest
from buildsys import config
from buildsys import errors as build_errors
from buildsys.config import ConfigError, schema
from buildsys.errors import BuildError

ROOT = Path(__file__).resolve().parents[2]
MATRIX = config.read_toml(ROOT / "build-matrix.toml")
LOCK = config.read_toml(ROOT / "sources.lock.toml")


def matrix(**changes):
    """The repository's build-matrix.toml data, with `changes` applied at dotted paths
    (a value of DELETE removes the key)."""
    data = copy.deepcopy(MATRIX)
    for dotted, value in changes.items():
        *parents, key = dotted.split("/")
        node = data
        for p in parents:
            node = node[p]
        if value is DELETE:
            del node[key]
        else:
            node[key] = value
    return data


DELETE = object()


def problems(data, parse=config.parse_matrix):
    with pytest.raises(ConfigError) as info:
        parse(data)
    return info.value


def one_problem(data, parse=config.parse_matrix):
    err = problems(data, parse)
    assert len(err.problems) == 1, str(err)
    return str(err.problems[0]), err


# -- the repository's own files -----------------------------------------------------------


def test_repository_files_load():
    cfg = config.load(ROOT)
    bm, lock = cfg.matrix, cfg.lock
    assert bm.python_versions == ("3.10", "3.11", "3.12")
    cuda = bm.default_target(cuda_available=True)
    assert cuda.name == "cuda-x86_64" and cuda.is_cuda
    assert cuda.sass_archs == ("80", "90") and cuda.ptx_archs == ("90",)
    assert cuda.release_policy == "manylinux_2_28"  # CUDA 13 needs glibc 2.28
    cpu = bm.default_target(cuda_available=False)
    assert cpu.name == "cpu-x86_64" and cpu.release_policy == bm.manylinux == "manylinux2014"
    assert bm.target("cpu-aarch64").cross_prefix == "aarch64-linux-gnu-"
    assert bm.target("cpu-aarch64-armclang").compiler == "armclang"
    assert bm.toolkits["13.0"].max_gcc == 15 and bm.toolkits["13.0"].version == "13.0"
    assert bm.families["cutlass-sm90"].arch_specific
    assert bm.families["fa2"].runs_on("90") and not bm.families["fa2"].runs_on("75")
    assert bm.group("sm90").families == ("fa2", "cutlass-sm90", "fa4")
    assert bm.families["fa4"].archs == ("90", "100") and bm.families["fa4"].arch_specific
    assert bm.kernel_memory == {"fa2": 4.5, "cutlass-sm90": 4.5, "fa4": 1.0, "core": 1.0}
    assert bm.size_budget_mib == {"cpu": 5.0, "cuda": 100.0}
    assert bm.dist_path(ROOT) == ROOT / "dist"
    for name in ("manylinux2014-x86_64", "manylinux_2_28-x86_64"):
        image = bm.images.bases[name].image
        assert image and re.fullmatch(r"quay\.io/pypa/\S+@sha256:[0-9a-f]{64}", image)
    assert bm.images.bases["bookworm"].debootstrap == "bookworm"
    assert bm.images.roles["release"].base_for("cuda") == "manylinux_2_28-x86_64"
    assert bm.images.roles["release"].base_for("x86") == "manylinux2014-x86_64"
    assert bm.images.sessions["cpp-tests"] == "test-x86"
    assert list(lock)[:5] == ["cutlass", "flash-attention", "gtest", "glog", "pybind11"]
    assert lock["tini-amd64"].kind == "deb"
    toolchain = [
        "nvidia-cuda-nvcc",
        "nvidia-cuda-crt",
        "nvidia-nvvm",
        "nvidia-cuda-runtime",
        "nvidia-cuda-cccl",
    ]
    assert [s.name for s in lock.toolchains["13.0"]] == toolchain
    assert all(lock[n].root == "nvidia/cu13" and lock[n].kind == "wheel" for n in toolchain)
    assert lock["gtest"].conan_recipe == "gtest" and lock["cutlass"].conan_recipe is None
    assert lock["flash-attention"].root == "flash_attn-2.8.3"
    assert lock["flash-attn-4"].kind == "wheel" and lock["flash-attn-4"].root == "flash_attn/cute"
    assert len(lock) == len(lock.source) and "glog" in lock and lock.get("nope") is None
    assert [s.name for s in lock.values()] == list(lock.keys())
    assert dict(lock.items()) == lock.sources


def test_profiles_keep_their_translation_units():
    bm = config.load(ROOT).matrix
    release = bm.profile("release")
    assert set(release.specs()) == {"fa2", "cutlass-sm90", "fa4"}
    fa2 = release.specs()["fa2"].units()
    assert len(fa2) == 24 and "flash_fwd_split_hdim128_bf16_sm80" in fa2
    assert "flash_fwd_hdim256_fp16_causal_sm80" in fa2
    cs = release.cutlass_sm90.units()
    assert "gemm_sm90_bf16" in cs and "fmha_sm90_hdim128_fp16_causal" in cs
    assert bm.profile("ci").fa2.units() == [
        "flash_fwd_hdim128_bf16_sm80",
        "flash_fwd_hdim128_bf16_causal_sm80",
    ]
    assert bm.profile("ci").fa4.units() == ["fa4_hdim128_bf16", "fa4_hdim128_bf16_causal"]
    assert len(release.fa4.units()) == 36 and "fa4_hdim64_fp16_causal_gqa8" in release.fa4.units()


def test_load_reads_each_file_once_and_again_when_it_changes(tmp_path):
    for name in ("build-matrix.toml", "sources.lock.toml"):
        (tmp_path / name).write_bytes((ROOT / name).read_bytes())
    first = config.load(tmp_path)
    assert config.load(tmp_path).matrix is first.matrix
    assert config.load(tmp_path).lock is first.lock
    path = tmp_path / "build-matrix.toml"
    path.write_text(path.read_text().replace("cpu = 5\n", "cpu = 6\n"))
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    again = config.load(tmp_path)
    assert again.matrix is not first.matrix and again.matrix.size_budget_mib["cpu"] == 6.0
    assert again.lock is first.lock


def test_lookups_name_the_known_ones_and_a_close_match():
    bm = config.load(ROOT).matrix
    with pytest.raises(BuildError, match="unknown build target 'cuda-x86'") as info:
        bm.target("cuda-x86")
    assert "did you mean 'cuda-x86_64'?" in str(info.value)
    assert "cpu-x86_64, cuda-x86_64" in str(info.value)
    with pytest.raises(BuildError, match=r"unknown kernel profile 'releas'.*'release'"):
        bm.profile("releas")
    with pytest.raises(BuildError, match="unknown kernel arch group 'sm75'"):
        bm.group("sm75")
    with pytest.raises(BuildError, match=r"CUDA 11\.8 is not in"):
        bm.toolkit("11.8")
    lock = config.load(ROOT).lock
    with pytest.raises(KeyError):
        lock["cutless"]
    with pytest.raises(BuildError, match="did you mean 'cutlass'"):
        lock["cutless"]


def test_default_target_needs_an_x86_64_target():
    data = matrix(targets={"cpu": MATRIX["targets"]["cpu-aarch64"]}, release={}, ci={})
    bm = config.parse_matrix(data)
    with pytest.raises(BuildError, match="no x86_64 target for platform 'x86'"):
        bm.default_target(cuda_available=False)


def test_config_error_is_a_build_error_with_the_config_exit_code():
    err = problems(matrix(python=DELETE))
    assert isinstance(err, BuildError)
    if hasattr(build_errors, "ConfigError"):
        assert isinstance(err, build_errors.ConfigError)
    assert "fix:" in str(err)


# -- the known defects of the old parsers are now clear errors ---------------------------


def write(tmp_path, text, name="build-matrix.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_typo_in_a_target_key_suggests_the_real_one(tmp_path):
    text = (ROOT / "build-matrix.toml").read_text()
    text = text.replace('kernel-profile = "ci"', 'kernel-profle = "ci"')
    with pytest.raises(ConfigError) as info:
        config.load_matrix(write(tmp_path, text))
    line = str(info.value.problems[0])
    assert line.startswith("build-matrix.toml: [targets.cuda-x86_64] kernel-profle: unknown key")
    assert "did you mean 'kernel-profile'?" in line


def test_toolkit_without_max_gcc_names_the_key(tmp_path):
    text = (ROOT / "build-matrix.toml").read_text().replace("max-gcc = 15\n", "")
    with pytest.raises(ConfigError) as info:
        config.load_matrix(write(tmp_path, text))
    line = str(info.value.problems[0])
    assert line.startswith('build-matrix.toml: [cuda-toolkits."13.0"] max-gcc: missing')
    assert "allowed: an integer" in line and "fix: add max-gcc = 15" in line


def test_size_budget_that_is_not_a_number(tmp_path):
    text = (ROOT / "build-matrix.toml").read_text().replace("cpu = 5\n", 'cpu = "five"\n')
    with pytest.raises(ConfigError) as info:
        config.load_matrix(write(tmp_path, text))
    line = str(info.value.problems[0])
    assert line.startswith("build-matrix.toml: [wheels.size-budget-mib] cpu: wrong type")
    assert 'found "five" (a string)' in line and "allowed: a number > 0" in line


def test_all_problems_of_a_file_in_one_error_one_per_line():
    data = matrix(**{"wheels/size-budget-mib/cpu": "five", "python/versions": ["3.10", "2.7"]})
    data["targets"]["cuda-x86_64"]["kernel-profle"] = "ci"
    err = problems(data)
    assert len(err.problems) == 3
    lines = str(err).splitlines()
    assert lines[0] == "build-matrix.toml is not valid (3 problems):"
    assert all(line.startswith("  build-matrix.toml: [") for line in lines[1:4])
    assert "[python] versions[1]" in str(err)


def test_syntax_error_names_line_and_column(tmp_path):
    with pytest.raises(ConfigError) as info:
        config.load_matrix(write(tmp_path, '[python]\nversions = ["3.12"]\nx = \n'))
    assert "build-matrix.toml: line 3, column 5: TOML syntax error: Invalid value" in str(
        info.value
    )
    with pytest.raises(ConfigError, match="end of file: TOML syntax error: Unclosed array"):
        config.load_matrix(write(tmp_path, '[python]\nversions = ["3.12"\n'))


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(ConfigError, match=r"sources\.lock\.toml: cannot read"):
        config.load_lock(tmp_path / "sources.lock.toml")
    (tmp_path / "build-matrix.toml").mkdir()
    with pytest.raises(ConfigError, match=r"build-matrix\.toml: cannot read"):
        config.load_matrix(tmp_path / "build-matrix.toml")
    (tmp_path / "sources.lock.toml").write_bytes(b'[[source]]\nname = "\xff"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        config.load_lock(tmp_path / "sources.lock.toml")


def test_strict_types_are_not_coerced():
    line, _ = one_problem(matrix(**{"cuda-toolkits/13.0/max-gcc": "15"}))
    assert 'max-gcc: wrong type; found "15" (a string); allowed: an integer' in line
    line, _ = one_problem(matrix(**{"cuda-toolkits/13.0/max-gcc": 15.0}))
    assert "found 15.0 (a number)" in line
    line, _ = one_problem(matrix(**{"kernel-families/fa4/arch-specific": "yes"}))
    assert "allowed: true or false" in line
    line, _ = one_problem(matrix(**{"targets/cuda-x86_64/cuda": 13.0}))
    assert 'allowed: a version like "13.0"' in line
    data = matrix()
    data["kernel-profiles"]["ci"]["fa2"]["headdims"] = [128.0]
    line, _ = one_problem(data)
    assert "headdims[0]: wrong type" in line and "one of 32, 64" in line
    # An integer is fine where a number is expected.
    assert config.parse_matrix(matrix(**{"kernel-memory/fa2": 5})).kernel_memory["fa2"] == 5.0


def test_the_old_checks_still_hold():
    def fa2(**kw):
        data = matrix()
        data["kernel-profiles"]["ci"]["fa2"].update(kw)
        return one_problem(data)[0]

    assert "split-KV kernels complement the plain ones" in fa2(split=[True])
    assert "headdims[0]: not allowed; found 48" in fa2(headdims=[48])
    assert "one of 'bf16' or 'fp16'" in fa2(dtypes=["fp32"])
    data = matrix()
    data["kernel-profiles"]["ci"]["cutlass-sm90"]["gemm-dtypes"] = ["fp16"]
    assert "gemm-dtypes[0]: not allowed" in one_problem(data)[0]
    data["kernel-profiles"]["ci"]["cutlass-sm90"]["gemm-dtypes"] = ["bf16"]
    data["kernel-profiles"]["ci"]["cutlass-sm90"]["fmha-headdims"] = [96]
    assert "one of 64, 128 or 256" in one_problem(data)[0]
    assert "empty" in fa2(causal=[])
    assert "listed twice" in fa2(headdims=[128, 128])
    bad = {"platform": "cuda", "arch": "x86_64", "description": "", "cuda": "13.0"}
    line, _ = one_problem(matrix(targets={"gpu": bad}))
    assert "[targets.gpu]: a CUDA target needs a CUDA version and SASS archs" in line
    line, _ = one_problem(matrix(**{"targets/cpu-x86_64/platform": "riscv"}))
    assert 'platform: not allowed; found "riscv"' in line and "'x86', 'arm' or 'cuda'" in line
    line, _ = one_problem(matrix(**{"targets/cpu-x86_64/arch": DELETE}))
    assert "[targets.cpu-x86_64] arch: missing" in line
    line, _ = one_problem(matrix(**{"python/versions": "3.11"}))
    assert "versions: wrong type" in line and "a non-empty list" in line
    line, _ = one_problem(matrix(**{"kernel-families/fa2/min-cuda": DELETE}))
    assert "[kernel-families.fa2] min-cuda: missing" in line
    line, _ = one_problem(matrix(**{"kernel-families/fa2/archs": ["80"]}))
    assert "exactly one of min-arch and archs" in line
    line, _ = one_problem(matrix(**{"targets/cpu-aarch64/compiler-version": DELETE}))
    assert "[targets.cpu-aarch64] compiler-version" in line and "fix: add compiler-version" in line


# -- cross-checks between tables --------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "where", "message"),
    [
        (
            {"kernel-families/cutlass-sm90": DELETE, "kernel-archs/sm90/families": ["fa2"]},
            "[kernel-profiles.ci.cutlass-sm90]",
            "kernel family 'cutlass-sm90' is not in [kernel-families]",
        ),
        (
            {"kernel-archs/sm80/families": ["fa3", "fa22"]},
            "[kernel-archs.sm80] families",
            "kernel family 'fa22' is not in [kernel-families]; did you mean 'fa2'?",
        ),
        (
            {"targets/cuda-x86_64/kernel-archs": ["sm80", "sm89"]},
            "[targets.cuda-x86_64] kernel-archs",
            "arch group 'sm89' is not in [kernel-archs]",
        ),
        (
            {"targets/cuda-x86_64/kernel-profile": "cii"},
            "[targets.cuda-x86_64] kernel-profile",
            "kernel profile 'cii' is not in [kernel-profiles]; did you mean 'ci'?",
        ),
        (
            {"targets/cuda-x86_64/cuda": "12.6"},
            "[targets.cuda-x86_64] cuda",
            "CUDA '12.6' is not in [cuda-toolkits]",
        ),
        (
            {"targets/cuda-x86_64/ptx-archs": ["100"]},
            "[targets.cuda-x86_64] ptx-archs",
            "PTX for sm_100 was asked for, but sm_100 is not in sass-archs",
        ),
        (
            {"targets/cuda-x86_64/sass-archs": ["70", "90"], "targets/cuda-x86_64/ptx-archs": []},
            "[targets.cuda-x86_64] sass-archs",
            "sm_70 is not a target of CUDA 13.0",
        ),
        (
            {"targets/cuda-x86_64/manylinux": DELETE},
            "[targets.cuda-x86_64] manylinux",
            "CUDA 13.0's compiler needs glibc >= 2.28, and manylinux2014 has glibc 2.17",
        ),
        (
            {"targets/cuda-x86_64/manylinux": "manylinux_2_17"},
            "[targets.cuda-x86_64] manylinux",
            "CUDA 13.0's compiler needs glibc >= 2.28, and manylinux_2_17 has glibc 2.17",
        ),
        (
            {"kernel-memory/fa5": 3.0},
            "[kernel-memory] fa5",
            "kernel family 'fa5' is not in [kernel-families]",
        ),
        (
            {"kernel-archs/sm80/ptx": ["90"]},
            "[kernel-archs.sm80] ptx",
            "PTX for sm_90 was asked for, but sm_90 is not built",
        ),
        (
            {"cuda-toolkits/12.4/arch-specific": ["90", "100"]},
            '[cuda-toolkits."12.4"] arch-specific',
            "sm_100a is listed, but sm_100 is not in sass",
        ),
        (
            {"targets/cpu-x86_64/cuda": "13.0"},
            "[targets.cpu-x86_64] cuda",
            "cuda is for CUDA targets",
        ),
        (
            {"targets/cpu-x86_64/arch": "aarch64"},
            "[targets.cpu-x86_64] arch",
            "platform 'x86' builds for x86_64, not aarch64",
        ),
    ],
)
def test_cross_checks(changes, where, message):
    err = problems(matrix(**changes))
    text = str(err)
    assert f"build-matrix.toml: {where}: {message}" in text, text
    assert all("fix:" in str(p) for p in err.problems), text


def test_cross_checks_report_every_problem_at_once():
    err = problems(
        matrix(**{"targets/cuda-x86_64/kernel-profile": "nope", "targets/cuda-x86_64/cuda": "9.0"})
    )
    assert len(err.problems) == 2


def test_glibc_helpers_for_the_cuda_code():
    assert config.policy_glibc("manylinux2014") == "2.17"
    assert config.policy_glibc("manylinux_2_28") == "2.28"
    with pytest.raises(BuildError, match="not a manylinux policy"):
        config.policy_glibc("musllinux_1_2")
    tk = config.load(ROOT).matrix.toolkits["13.0"]
    with pytest.raises(
        BuildError, match=r"needs glibc >= 2\.28, and manylinux2014 has glibc 2\.17"
    ):
        config.check_glibc(tk, "manylinux2014")
    config.check_glibc(tk, "manylinux_2_28")
    config.check_glibc(tk, "manylinux_2_34")
    assert config.version_tuple("12.10") > config.version_tuple("12.9")


# -- names that become file or directory names ------------------------------------------

UNSAFE = ["../x", "/abs", "a/b", "", "..", "a\x00b", "a..b", ".hidden", "x" * 129, "a\n"]


@pytest.mark.parametrize("name", UNSAFE)
def test_unsafe_table_names_are_refused(name):
    data = matrix()
    data["targets"][name] = data["targets"].pop("cpu-x86_64")
    line, _ = one_problem(data)
    assert line.startswith("build-matrix.toml: [targets")
    assert "cannot be used" in line and "safe path component" in line


@pytest.mark.parametrize("name", UNSAFE)
@pytest.mark.parametrize("key", ["name", "filename", "conan-recipe"])
def test_unsafe_source_names_are_refused(name, key):
    data = copy.deepcopy(LOCK)
    data["source"][1][key] = name
    line, _ = one_problem(data, config.parse_lock)
    assert line.startswith("sources.lock.toml: [[source]] #2 (")
    assert f" {key}: " in line


@pytest.mark.parametrize("table", ["kernel-families", "kernel-archs", "kernel-profiles"])
def test_unsafe_names_in_every_named_table(table):
    data = matrix()
    data[table]["../evil"] = next(iter(data[table].values()))
    err = problems(data)
    assert f'[{table}."../evil"]: the name "../evil" cannot be used' in str(err)


def test_unsafe_toolkit_version_and_image_key():
    data = matrix()
    data["cuda-toolkits"]["13.0/../x"] = data["cuda-toolkits"]["13.0"]
    data["images"]["bases"]["a/b"] = MATRIX["images"]["bases"]["manylinux2014-x86_64"]
    err = problems(data)
    assert 'a version like "13.0"' in str(err) and '"a/b"' in str(err)


def test_relative_paths_stay_inside():
    line, _ = one_problem(matrix(**{"wheels/dist-dir": "/tmp/dist"}))
    assert "[wheels] dist-dir: not allowed" in line
    line, _ = one_problem(matrix(**{"wheels/dist-dir": "../dist"}))
    assert "'..' is not allowed" in line
    data = copy.deepcopy(LOCK)
    data["source"][0]["root"] = "a/../../b"
    assert "'..' is not allowed" in one_problem(data, config.parse_lock)[0]


# -- sources.lock.toml ------------------------------------------------------------------


def test_duplicate_source_filename_and_name_are_refused():
    data = copy.deepcopy(LOCK)
    data["source"][3]["filename"] = data["source"][2]["filename"]
    line, _ = one_problem(data, config.parse_lock)
    assert line.startswith('sources.lock.toml: [[source]] #4 ("glog") filename: filename')
    assert "is pinned twice (also [[source]] #3)" in line
    data = copy.deepcopy(LOCK)
    data["source"][4]["name"] = "cutlass"
    line, _ = one_problem(data, config.parse_lock)
    assert "name 'cutlass' is pinned twice (also [[source]] #1)" in line


def test_source_fields_are_checked():
    def lock_line(**kw):
        data = copy.deepcopy(LOCK)
        data["source"][0].update(kw)
        return one_problem(data, config.parse_lock)[0]

    assert "64 lowercase hex digits" in lock_line(sha256="F" * 64)
    assert "64 lowercase hex digits" in lock_line(sha256="abc")
    assert "one of 'wheel', 'sdist', 'tarball' or 'deb'" in lock_line(kind="zip")
    assert "urls: empty" in lock_line(urls=[])
    assert "urls: wrong type" in lock_line(urls="https://example.org/a.whl")  # not a list
    assert "http:// or https:// URL" in lock_line(urls=["ftp://example.org/a"])
    assert "did you mean 'conan-recipe'?" in lock_line(conan_recipe="x")
    data = copy.deepcopy(LOCK)
    del data["source"][0]["sha256"]
    assert '#1 ("cutlass") sha256: missing' in one_problem(data, config.parse_lock)[0]


def _toolchain_entries(data):
    return [i for i, s in enumerate(data["source"]) if s.get("toolchain")]


def test_toolchain_key_is_a_cuda_version_name():
    data = copy.deepcopy(LOCK)
    data["source"][_toolchain_entries(data)[0]]["toolchain"] = "13.0"
    line, _ = one_problem(data, config.parse_lock)
    assert '("nvidia-cuda-nvcc") toolchain: not allowed; found "13.0"' in line
    assert 'like "cuda-13.0"' in line


def test_toolchain_entries_are_wheels_with_one_root_and_a_compiler():
    data = copy.deepcopy(LOCK)
    first, second, *_ = _toolchain_entries(data)
    data["source"][second]["kind"] = "tarball"
    line, _ = one_problem(data, config.parse_lock)
    assert "(\"nvidia-cuda-crt\") kind: toolchain 'cuda-13.0' is assembled from wheels only" in line
    data = copy.deepcopy(LOCK)
    data["source"][second]["root"] = "nvidia/cu12"
    line, _ = one_problem(data, config.parse_lock)
    assert "must share one root ([[source]] #6 has 'nvidia/cu13')" in line
    data = copy.deepcopy(LOCK)
    data["source"][second]["root"] = ""
    line, _ = one_problem(data, config.parse_lock)
    assert "a toolchain wheel needs the directory that becomes the prefix" in line
    data = copy.deepcopy(LOCK)
    del data["source"][first]
    line, _ = one_problem(data, config.parse_lock)
    assert "toolchain 'cuda-13.0' has no nvidia-cuda-nvcc wheel (its nvcc)" in line
    assert line.startswith('sources.lock.toml: [[source]] #6 ("nvidia-cuda-crt") toolchain:')


def test_a_toolchain_cuda_version_must_be_a_known_toolkit():
    """The cross-check of the two files: the error names the lock entry's TOML path."""
    data = copy.deepcopy(LOCK)
    for i in _toolchain_entries(data):
        data["source"][i]["toolchain"] = "cuda-13.1"
    bm, lock = config.parse_matrix(MATRIX), config.parse_lock(data)
    with pytest.raises(ConfigError) as info:
        config.cross_check(bm, lock)
    err = info.value
    assert err.exit_code == 3 and len(err.problems) == 5
    line = str(err.problems[0])
    assert line.startswith('sources.lock.toml: [[source]] #6 ("nvidia-cuda-nvcc") toolchain:')
    assert "CUDA 13.1 (toolchain cuda-13.1) is not in build-matrix.toml's [cuda-toolkits]" in line
    assert "allowed: cuda-X.Y for a CUDA version in [cuda-toolkits]: 12.4, 12.8, 12.9, 13.0" in line
    assert "did you mean '13.0'?" in line and 'add [cuda-toolkits."13.1"]' in line
    config.cross_check(bm, config.parse_lock(LOCK))  # the repository's files agree


def test_load_cross_checks_the_two_files(tmp_path):
    (tmp_path / "build-matrix.toml").write_bytes((ROOT / "build-matrix.toml").read_bytes())
    text = (ROOT / "sources.lock.toml").read_text()
    (tmp_path / "sources.lock.toml").write_text(text.replace('"cuda-13.0"', '"cuda-11.8"'))
    with pytest.raises(ConfigError, match=r"CUDA 11\.8 \(toolchain cuda-11\.8\) is not in"):
        config.load(tmp_path)


def test_models_build_from_python_by_their_attribute_names():
    src = config.Source(
        name="pkg",
        version="1.0",
        kind="wheel",
        filename="pkg-1.0.whl",
        sha256="0" * 64,
        urls=("https://example.org/pkg-1.0.whl",),
        conan_recipe="pkg",
    )
    assert src.conan_recipe == "pkg" and src.root == ""
    # ...but a file must spell the keys the TOML way.
    data = copy.deepcopy(LOCK)
    data["source"][0]["conan_recipe"] = data["source"][0].pop("conan-recipe", "x")
    problems(data, config.parse_lock)


def test_not_a_table_at_all():
    with pytest.raises(ConfigError, match="not a TOML document"):
        config.parse_matrix(["targets"])  # type: ignore[arg-type]


# -- JSON Schema --------------------------------------------------------------------------


def test_schema_files_match_the_models():
    """docs/schema is generated: regenerate with PYTHONPATH=scripts python -m
    buildsys.config.schema."""
    generated = schema.generate()
    assert set(generated) == {"build-matrix.toml", "sources.lock.toml"}
    for file, js in generated.items():
        path = ROOT / "docs" / "schema" / schema.schema_name(file)
        assert path.read_text(encoding="utf-8") == schema.render(js), f"{path} drifted"
    assert schema.main(["--check"]) == 0


def test_schema_documents_every_key():
    def walk(node, where):
        if isinstance(node, dict):
            for key, prop in node.get("properties", {}).items():
                assert prop.get("description"), f"{where}.{key} has no description"
                assert "null" not in str(prop.get("type")), f"{where}.{key} allows null"
            for key, value in node.items():
                walk(value, f"{where}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, where)

    for file, js in schema.generate().items():
        walk(js, file)
        assert "(name)" not in schema.render(js)


def test_schema_check_names_the_drifted_file(tmp_path, capsys):
    schema.write(tmp_path)
    assert schema.main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "sources.lock.schema.json").write_text("{}\n")
    assert schema.main(["--check", "--out", str(tmp_path)]) == 1
    assert "sources.lock.schema.json is out of date" in capsys.readouterr().err


# -- release cells ------------------------------------------------------------------------


def test_the_release_cells_load():
    bm = config.load(ROOT).matrix
    assert {n: (c.target, c.manylinux, c.image) for n, c in bm.release.items()} == {
        "cpu-x86_64": ("cpu-x86_64", "manylinux2014", "manylinux2014-x86_64"),
        "cuda13-x86_64": ("cuda-x86_64", "manylinux_2_28", "manylinux_2_28-x86_64"),
        "cuda12-x86_64": ("cuda-x86_64", "manylinux2014", "manylinux2014-x86_64"),
    }
    assert not bm.release["cuda12-x86_64"].build and bm.release["cuda13-x86_64"].build


def test_host_interpreters_only_on_a_debootstrap_base():
    bm = config.parse_matrix(matrix())
    standin = bm.images.bases["standin-bookworm"]
    assert standin.interpreters == "host" and standin.debootstrap == "bookworm"
    assert bm.images.bases["bookworm"].interpreters is None
    # A registry image brings its own interpreters: refused, with the fix.
    data = matrix()
    data["images"]["bases"]["almalinux8"]["interpreters"] = "host"
    line, err = one_problem(data)
    assert "only a debootstrap base takes the host's interpreters" in line
    assert "remove `interpreters`, or build the base with `debootstrap`" in str(err)
    # "host" is the one value.
    data = matrix()
    data["images"]["bases"]["bookworm"]["interpreters"] = "pyenv"
    line, _ = one_problem(data)
    assert "interpreters" in line and "host" in line


def test_an_impossible_release_cell_is_refused_with_the_fix():
    # CUDA 13 on manylinux2014: the policy and the image are below the glibc floor.
    text = str(
        problems(
            matrix(**{"release/cuda13-x86_64/manylinux": "manylinux2014",
                      "release/cuda13-x86_64/image": "manylinux2014-x86_64"})
        )
    )  # fmt: skip
    assert "[release.cuda13-x86_64] manylinux: CUDA 13.0's compiler needs glibc >= 2.28" in text
    assert "manylinux2014 has 2.17" in text and "manylinux_2_28 or newer" in text
    assert "image 'manylinux2014-x86_64' has 2.17" in text
    # An image whose glibc is not the policy's.
    line, _ = one_problem(matrix(**{"release/cpu-x86_64/image": "manylinux_2_28-x86_64"}))
    assert "has glibc 2.28, and manylinux2014 means glibc 2.17" in line
    # A gcc newer than the toolkit accepts.
    data = matrix()
    data["images"]["bases"]["manylinux_2_28-x86_64"]["gcc"] = 16
    line, _ = one_problem(data)
    assert "compiles with gcc 16, and CUDA 13.0 accepts gcc <= 15" in line
    # CUDA on a CPU target, an unknown image.
    line, _ = one_problem(matrix(**{"release/cpu-x86_64/cuda": "13.0"}))
    assert "CPU-only" in line
    line, _ = one_problem(matrix(**{"release/cpu-x86_64/image": "centos7"}))
    assert "'centos7' is not in [images.bases]" in line
