"""FlashAttention-4 in the kernel libraries (buildsys.kernels.fa4, fa4_export, dsl_env):
the variants a profile generates, their cache keys, the export cache, the CMake inputs,
the tool environment's lock, and -- with the CuTe DSL environment -- real exports.

The real ones: a variant exported twice from empty caches is byte-identical, and its
object carries sm_90a SASS with wgmma and no torch, Python or TVM-FFI symbol; an arch
group of only fa4 builds, verifies, and built again in a fresh tree exports nothing (every
variant a cache hit, no tool environment at all). They create the environment in the
user's tool cache the first time (seconds from uv's cache, a few minutes cold) and are
skipped, saying why, where it cannot be created (no CPython 3.11, or no CPU torch:
INFERCORE_TORCH_FIND_LINKS).
"""

import copy
import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from buildsys import config
from buildsys.config import ConfigError
from buildsys.errors import BuildError, ToolMissing
from buildsys.host import nvcc as nvcc_tool
from buildsys.kernels import build as kernels
from buildsys.kernels import dsl_env, fa4, fa4_export
from buildsys.kernels import verify as kernelverify
from buildsys.util.paths import ROOT, Paths

DATA = config.read_toml(ROOT / "build-matrix.toml")
CFG = config.load(ROOT)
MATRIX, LOCK = CFG.matrix, CFG.lock
NVCC = nvcc_tool.find()
EXPORTER = Path(fa4_export.__file__)


def plans(*groups, profile="ci", matrix=MATRIX):
    return kernels.plans_for(matrix, list(groups), profile=profile, cuda="13.0")


def fa4_only_matrix():
    data = copy.deepcopy(DATA)
    data["kernel-archs"]["fa4only"] = {
        "description": "FlashAttention-4 for Hopper, nothing else",
        "archs": ["90"],
        "families": ["fa4"],
    }
    return config.parse_matrix(data)


# -- the variants a profile generates -----------------------------------------------------


def test_ci_exports_bf16_hdim128_causal_and_not_per_arch():
    sm90, sm100 = plans("sm90", "sm100")
    for p, arch in ((sm90, "sm_90a"), (sm100, "sm_100a")):
        vs = fa4.variants(p)
        assert [(v.arch, v.dtype, v.headdim, v.causal, v.heads_ratio) for v in vs] == [
            (arch, "bf16", 128, False, 1),
            (arch, "bf16", 128, True, 1),
        ]
    assert fa4.variants(plans("sm80")[0]) == []  # no fa4 below Hopper


def test_release_exports_what_an_engine_needs():
    (sm90,) = plans("sm90", profile="release")
    vs = fa4.variants(sm90)
    assert len(vs) == 3 * 2 * 2 * 3  # head dims x dtypes x causal x head ratios
    assert {v.headdim for v in vs} == {64, 128, 256}
    assert {v.dtype for v in vs} == {"bf16", "fp16"}
    assert {v.heads_ratio for v in vs} == {1, 4, 8}
    assert {v.selection_sms for v in vs} == {132}
    assert "infercore_sm90_fa4_hdim256_fp16_causal_gqa8_sm90a" in {v.prefix for v in vs}


def test_no_two_variants_of_any_groups_share_a_prefix():
    every = [v for p in plans("sm90", "sm100", profile="release") for v in fa4.variants(p)]
    prefixes = [v.prefix for v in every]
    assert len(set(prefixes)) == len(prefixes) == 72
    assert all(fa4_export.PREFIX.match(p) for p in prefixes)
    assert all(p.startswith(("infercore_sm90_", "infercore_sm100_")) for p in prefixes)


def test_head_ratios_are_checked_when_the_matrix_loads():
    data = copy.deepcopy(DATA)
    data["kernel-profiles"]["ci"]["fa4"]["heads-ratios"] = [0]
    with pytest.raises(ConfigError, match=r"\[kernel-profiles\.ci\.fa4\] heads-ratios\[0\]"):
        config.parse_matrix(data)
    data["kernel-profiles"]["ci"]["fa4"]["headdims"] = [96]
    with pytest.raises(ConfigError, match=r"headdims\[0\]: not allowed; found 96"):
        config.parse_matrix(data)


def test_fa4_needs_the_dsls_cuda_13():
    with pytest.raises(BuildError, match=r"fa4 needs CUDA >= 13\.0"):
        kernels.plans_for(MATRIX, ["sm90"], profile="ci", cuda="12.8")


def test_an_fa4_arch_without_a_selection_sm_count_is_refused():
    data = copy.deepcopy(DATA)
    data["kernel-families"]["fa4"]["archs"] = ["90", "100", "103"]
    data["kernel-archs"]["sm103"] = {"description": "B300", "archs": ["103"], "families": ["fa4"]}
    (p,) = plans("sm103", matrix=config.parse_matrix(data))
    with pytest.raises(BuildError, match="fa4 for sm_103a has no SM count"):
        fa4.variants(p)


# -- the export cache ------------------------------------------------------------------------

VARIANT = fa4_export.Variant(
    arch="sm_90a",
    dtype="bf16",
    headdim=128,
    causal=False,
    heads_ratio=1,
    prefix="infercore_test_fa4_hdim128_bf16_sm90a",
    selection_sms=132,
)


def test_the_cache_key_covers_every_input():
    base = fa4_export.cache_key(VARIANT, fa4_sha256="a" * 64, env_sha256="b" * 64)
    assert base == fa4_export.cache_key(VARIANT, fa4_sha256="a" * 64, env_sha256="b" * 64)
    changed = {
        fa4_export.cache_key(VARIANT, fa4_sha256="c" * 64, env_sha256="b" * 64),
        fa4_export.cache_key(VARIANT, fa4_sha256="a" * 64, env_sha256="c" * 64),
    }
    for field, value in [
        ("arch", "sm_100a"),
        ("dtype", "fp16"),
        ("headdim", 64),
        ("causal", True),
        ("heads_ratio", 4),
        ("prefix", "infercore_other"),
        ("selection_sms", 148),
    ]:
        other = fa4_export.Variant(**{**VARIANT.__dict__, field: value})
        changed.add(fa4_export.cache_key(other, fa4_sha256="a" * 64, env_sha256="b" * 64))
    assert base not in changed and len(changed) == 9


def export_args(out: Path, cache: Path, python: Path, variant=VARIANT, source: Path = ROOT):
    args = [str(EXPORTER), "--python", str(python), "--source", str(source)]
    args += ["--fa4-sha256", "a" * 64, "--env-sha256", "b" * 64, "--cache", str(cache)]
    args += ["--arch", variant.arch, "--dtype", variant.dtype, "--headdim", str(variant.headdim)]
    args += ["--heads-ratio", str(variant.heads_ratio)]
    args += ["--selection-sms", str(variant.selection_sms), "-o", str(out)]
    return args + (["--causal"] if variant.causal else [])


def test_a_cache_hit_is_a_copy_and_says_hit(tmp_path):
    """The export stage on a cached variant copies it out without a tool environment, and
    tells the TU monitor through ccache's stats-log format."""
    cache = tmp_path / "cache"
    entry = cache / fa4_export.cache_key(VARIANT, fa4_sha256="a" * 64, env_sha256="b" * 64)
    entry.mkdir(parents=True)
    for ext, data in ((".o", b"\x7fELF object"), (".h", b"// header\n"), (".json", b"{}\n")):
        (entry / f"{VARIANT.prefix}{ext}").write_bytes(data)
    stats = tmp_path / "stats.log"
    out = tmp_path / "out" / f"{VARIANT.prefix}.o"
    env = {**os.environ, "CCACHE_STATSLOG": str(stats)}
    done = subprocess.run(
        export_args(out, cache, tmp_path / "no-such-python"), env=env, capture_output=True
    )
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == b"\x7fELF object"
    assert out.with_suffix(".h").read_text() == "// header\n"
    assert stats.read_text() == "direct_cache_hit\n"


def test_a_miss_without_the_tool_environment_says_how_to_get_it(tmp_path):
    out = tmp_path / "out" / f"{VARIANT.prefix}.o"
    done = subprocess.run(
        export_args(out, tmp_path / "cache", tmp_path / "no-such-python"),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "not in the export cache" in done.stderr and "buildsys kernels" in done.stderr
    assert not out.exists()


def test_the_prefix_must_be_a_c_identifier(tmp_path):
    done = subprocess.run(
        export_args(tmp_path / "bad-name.o", tmp_path / "cache", tmp_path / "py"),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "C identifier" in done.stderr


def test_prepare_needs_no_environment_when_every_export_is_cached(tmp_paths):
    (p,) = plans("sm90")
    sha = LOCK[fa4.SOURCE].sha256
    for v in fa4.variants(p):
        entry = tmp_paths.export_cache / fa4_export.cache_key(
            v, fa4_sha256=sha, env_sha256=dsl_env.lock_sha256()
        )
        entry.mkdir(parents=True)
        for ext in fa4_export.OUTPUTS:
            (entry / f"{v.prefix}{ext}").write_text("cached\n")
    runtime = dsl_env.runtime_copy(tmp_paths)
    runtime.parent.mkdir(parents=True)
    runtime.write_bytes(b"!<arch>\n")
    srcs = {fa4.SOURCE: tmp_paths.build / "src" / "flash_attn" / "cute"}
    log = tmp_paths.logs / "k.log"
    inputs = fa4.prepare(tmp_paths, LOCK, [p], [p], srcs=srcs, offline=True, log=log)
    assert inputs is not None and not tmp_paths.tool_cache.exists()  # nothing created
    assert inputs.env.runtime == runtime and inputs.source == tmp_paths.build / "src"
    assert fa4.uncached(tmp_paths, [p], fa4_sha256=sha) == []
    # A tree without fa4 gets no FA4 inputs at all.
    (sm80,) = plans("sm80")
    assert fa4.prepare(tmp_paths, LOCK, [sm80], [sm80], srcs=srcs, offline=True, log=log) is None


# -- CMake inputs ----------------------------------------------------------------------------


def test_cmake_inputs_carry_each_groups_variants_and_the_tools():
    configured = kernels.configured_plans(MATRIX, plans("sm90"))
    env = dsl_env.DslEnv(python=Path("/t/py"), runtime=Path("/t/rt.a"), sha256="e" * 64)
    inputs = fa4.Fa4Inputs(source=Path("/s"), fa4_sha256="f" * 64, env=env, cache=Path("/c"))
    d = fa4.cmake_inputs(inputs, configured, report=Path("/b/tu-report.jsonl"))
    assert d["INFERCORE_FA4_PYTHON"] == "/t/py"
    assert d["INFERCORE_FA4_RUNTIME_LIBRARY"] == "/t/rt.a"
    assert d["INFERCORE_FA4_LAUNCHER"].endswith("tu_monitor.py;/b/tu-report.jsonl")
    assert d["INFERCORE_FA4_ENV_SHA256"] == "e" * 64 and d["INFERCORE_FA4_SHA256"] == "f" * 64
    assert d["INFERCORE_sm90_FA4_VARIANTS"] == (
        "infercore_sm90_fa4_hdim128_bf16_sm90a,sm_90a,bf16,128,0,1,132;"
        "infercore_sm90_fa4_hdim128_bf16_causal_sm90a,sm_90a,bf16,128,1,1,132"
    )
    assert "INFERCORE_sm100_FA4_VARIANTS" in d and "INFERCORE_sm80_FA4_VARIANTS" not in d
    # The group-level definitions every family gets, fa4's archs among them.
    full = kernels.cmake_inputs(
        configured,
        nvcc=Path("/cuda/bin/nvcc"),
        srcs={"flash-attention": Path("/fa"), "cutlass": Path("/cutlass")},
        pools={"light": 1, "heavy": 1},
        report=Path("/b/tu-report.jsonl"),
        launcher=[],
        fa4_inputs=inputs,
    )
    assert full["INFERCORE_sm90_FAMILIES"] == "fa2;cutlass-sm90;fa4"
    assert full["INFERCORE_sm90_FA4_ARCHITECTURES"] == "90a-real"
    assert full["INFERCORE_sm100_FA4_ARCHITECTURES"] == "100a-real"  # never PTX
    assert full["INFERCORE_sm100_FA4_CC_RANGE"] == "100;100"


def test_exports_share_the_heavy_pool():
    pools = kernels.job_pools(
        ["fa4"], memory_gib=dict(MATRIX.kernel_memory), budget_gib=23.0, cpus=2
    )
    assert pools == {"light": 2, "heavy": 2}
    assert MATRIX.kernel_memory["fa4"] >= 0.75  # measured 0.70 GiB per export


def test_export_records_belong_to_their_group():
    obj = "/b/CMakeFiles/infercore_fa4_sm100.dir/infercore_sm100_fa4_hdim128_bf16_sm100a.o"
    assert kernels._group_of(obj, ["sm90", "sm100"]) == "sm100"


# -- the tool environment's lock ---------------------------------------------------------


def lock_pins() -> dict[str, str]:
    text = dsl_env.LOCK.read_text()
    return dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==(\S+) \\$", text, re.M))


def test_the_lock_holds_the_groups_pins_and_nothing_excluded():
    """cute-dsl.lock.txt is generated from pyproject's cute-dsl group: regenerate it
    (`python -m buildsys kernels --update-dsl-lock`) when a pin there changes."""
    group = config.read_toml(ROOT / "pyproject.toml")["dependency-groups"][dsl_env.GROUP]
    pins = lock_pins()
    for requirement in group:
        name, version = requirement.split("==")
        assert pins.get(name) == version, f"{requirement} is not what cute-dsl.lock.txt pins"
    for name in dsl_env.EXCLUDED:
        assert name not in pins
    assert pins["torch"].endswith("+cpu")  # never PyPI's CUDA build
    assert "--find-links" not in dsl_env.LOCK.read_text()  # no machine's paths
    assert f"for CPython {dsl_env.PYTHON}" in dsl_env.LOCK.read_text()
    # Every pin carries its sha256, for uv's --require-hashes.
    blocks = dsl_env.LOCK.read_text().split(" \\\n    --hash=sha256:")
    assert len(blocks) > len(pins)


def test_the_cpu_torch_comes_from_where_the_user_says_else_pytorchs_index():
    assert dsl_env.torch_links({}) == list(dsl_env.TORCH_LINKS_DEFAULT)
    assert "download.pytorch.org/whl/cpu" in dsl_env.TORCH_LINKS_DEFAULT[0]
    links = {dsl_env.TORCH_LINKS_ENV: "/opt/wheels  https://mirror/torch/"}
    assert dsl_env.torch_links(links) == ["/opt/wheels", "https://mirror/torch/"]


def test_without_cpython_311_the_environment_is_refused_with_the_fix(tmp_paths, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_paths.build))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_paths.build / "no-pyenv"))
    if Path("/opt/python/cp311-cp311/bin/python").exists():
        pytest.skip("a manylinux CPython 3.11 is installed here")
    with pytest.raises(ToolMissing, match=r"needs CPython 3\.11") as info:
        dsl_env.ensure(tmp_paths, offline=True)
    assert "leave fa4 out of the kernel profile" in info.value.fix


# -- verification ----------------------------------------------------------------------------


def test_fatbin_checks_name_what_is_wrong():
    good = {"sass": ["sm_90a"], "ptx": [], "mma": {"sm_90a": 32}}
    assert kernelverify.check_fatbins({"m#0": good}, ["sm_90a"], mma=fa4.MMA) == []
    problems = kernelverify.check_fatbins(
        {
            "m#0": {"sass": ["sm_90"], "ptx": [], "mma": {}},
            "m#1": {"sass": ["sm_100a"], "ptx": ["sm_100a"], "mma": {"sm_100a": 0}},
        },
        ["sm_90a", "sm_100a", "sm_100a"],
        mma=fa4.MMA,
    )
    text = "\n".join(problems)
    assert "2 embedded fatbin(s) for 3 exported variant(s)" in text
    assert "m#0: SASS for sm_90, expected sm_90a only" in text
    assert "m#1: carries PTX (sm_100a)" in text
    assert "m#1: no UTCHMMA instruction in its sm_100a code" in text


def test_torch_python_and_tvm_ffi_symbols_are_refused():
    v = kernelverify.Verification(
        undefined=["PyObject_Call", "TVMFFIFunctionCall", "_cudaLaunchKernelEx", "cudaGetDevice"]
    )
    problems = kernelverify.check(v, expect_sass={}, expect_ptx={}, hopper_objects=[])
    assert problems == [
        "undefined symbol from PyTorch: PyObject_Call",
        "undefined symbol from PyTorch: TVMFFIFunctionCall",
    ]


# -- with the CuTe DSL environment: real exports -------------------------------------------


@pytest.fixture(scope="module")
def dsl(tmp_path_factory):
    """The tool environment in the user's tool cache (created once, shared with builds)."""
    paths = Paths.from_env()
    try:
        env = dsl_env.ensure(paths, log=tmp_path_factory.mktemp("dsl") / "env.log")
    except ToolMissing as err:
        pytest.skip(f"no CuTe DSL environment here: {err}")
    src = kernels.source_dirs(
        Paths(root=ROOT, build=paths.build, source_cache=paths.source_cache), LOCK
    )
    return env, fa4.source_dir(src[fa4.SOURCE])


def export(tmp_path: Path, name: str, dsl, variant=VARIANT) -> Path:
    env, source = dsl
    out = tmp_path / name / f"{variant.prefix}.o"
    stats = tmp_path / f"{name}.stats"
    done = subprocess.run(
        export_args(out, tmp_path / f"{name}-cache", env.python, variant, source),
        env={**os.environ, "CCACHE_STATSLOG": str(stats)},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert stats.read_text() == "cache_miss\n"
    return out


def test_a_reexport_is_byte_identical_and_is_a_hopper_kernel(tmp_path, dsl):
    first = export(tmp_path, "first", dsl)
    second = export(tmp_path, "second", dsl)
    assert first.read_bytes() == second.read_bytes()
    assert first.with_suffix(".h").read_bytes() == second.with_suffix(".h").read_bytes()
    header = first.with_suffix(".h").read_text()
    assert f"cute_dsl_{VARIANT.prefix}_wrapper(" in header
    assert "float softmax_scale, int32_t num_sms, cudaStream_t stream)" in header
    meta = json.loads(first.with_suffix(".json").read_text())
    assert meta["kernel_class"] == "FlashAttentionForwardSm90"
    assert meta["fa4_config"]["tile_m"] == 128 and not meta["uses_num_sms"]
    # One fatbin: sm_90a SASS with wgmma, no PTX.
    (blob,) = kernelverify.dsl_fatbins(first)
    fatbin = tmp_path / "x.fatbin"
    fatbin.write_bytes(blob)
    cuobjdump = str(kernelverify.nvidia_tool("cuobjdump"))
    listing = subprocess.run([cuobjdump, "--list-elf", str(fatbin)], capture_output=True, text=True)
    assert re.findall(r"\.(sm_\w+)\.cubin", listing.stdout) == ["sm_90a"]
    nvdisasm = kernelverify.nvidia_tool("nvdisasm")
    path = f"{nvdisasm.parent}{os.pathsep}{os.environ['PATH']}"
    sass = subprocess.run(
        [cuobjdump, "-sass", str(fatbin)],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": path},
    ).stdout
    assert "HGMMA.64x128x16.F32.BF16" in sass and "UTMALDG" in sass
    nm = subprocess.run(["nm", "-u", str(first)], capture_output=True, text=True, check=True).stdout
    undefined = {line.split()[-1] for line in nm.splitlines() if line.strip()}
    assert undefined and all(
        s.startswith(("_cuda", "_cu", "_GLOBAL_OFFSET_TABLE_")) for s in undefined
    )


@pytest.mark.skipif(NVCC is None, reason="needs nvcc (the group's registry)")
def test_a_warm_rebuild_exports_nothing(tmp_path, dsl):
    """An arch group of only fa4, built and verified; built again in a fresh tree with an
    empty tool cache: every export a cache hit, no environment created."""
    matrix = fa4_only_matrix()
    user = Paths.from_env()
    cold = Paths(
        root=ROOT,
        build=tmp_path / "cold",
        source_cache=user.source_cache,
        tool_cache_dir=user.tool_cache,
        export_cache_dir=tmp_path / "exports",
    )
    (built,) = kernels.build(cold, matrix, LOCK, plans("fa4only", matrix=matrix), nvcc=NVCC, jobs=2)
    report = json.loads(built.report_file.read_text())
    exports = [r for r in report["tus"] if r["object"].endswith("_sm90a.o")]
    assert [r["cache"] for r in exports] == ["miss", "miss"]
    assert all(r["peak_mib"] > 200 and r["wall_s"] > 1 for r in exports)  # the DSL's process
    assert [f["sass"] for f in report["fa4"].values()] == [["sm_90a"], ["sm_90a"]]
    assert all(f["mma"]["sm_90a"] > 0 and not f["ptx"] for f in report["fa4"].values())
    library = built.library.read_bytes()

    warm = Paths(
        root=ROOT,
        build=tmp_path / "warm",
        source_cache=user.source_cache,
        tool_cache_dir=tmp_path / "no-tools",
        export_cache_dir=tmp_path / "exports",
    )
    (again,) = kernels.build(warm, matrix, LOCK, plans("fa4only", matrix=matrix), nvcc=NVCC, jobs=2)
    report = json.loads(again.report_file.read_text())
    exports = [r for r in report["tus"] if r["object"].endswith("_sm90a.o")]
    assert [r["cache"] for r in exports] == ["hit", "hit"]
    assert not (tmp_path / "no-tools").exists()
    assert again.library.read_bytes() == library  # the same library, from the cache
