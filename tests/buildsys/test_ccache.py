"""buildsys.ccache: the settings, the generated configuration, the pinned binary, the
stats summaries, and the two spellings ccache needs to share nvcc entries between
checkouts (checked with the real ccache and nvcc; a real Redis where installed).

The whole builds from two checkouts against a real redis-server, the sharded kernel
build and the faults: tests/integration/test_compiler_cache.py.
"""

import subprocess
from pathlib import Path

import pytest
from buildsys import ccache, config
from buildsys.ccache import redis_server, remote, stats, tool
from buildsys.ccache.config import render
from buildsys.errors import ToolMissing, UsageError
from buildsys.host import nvcc as nvcc_tool
from buildsys.util.paths import ROOT, Paths

CFG = config.load(ROOT)
MATRIX, LOCK = CFG.matrix, CFG.lock
NVCC = nvcc_tool.find()


def matrix_with(**table):
    data = config.read_toml(ROOT / "build-matrix.toml")
    data["ccache"] = {**data.get("ccache", {}), **table}
    return config.parse_matrix(data)


# -- settings ---------------------------------------------------------------------------


def test_the_table_gives_the_defaults_and_the_environment_wins():
    m = matrix_with(**{"remote-storage": "redis://cache:6379"})
    s = ccache.resolve(m, {})
    assert s.enabled and s.remote == "redis://cache:6379" and "build-matrix" in s.remote_from
    s = ccache.resolve(m, {"INFERCORE_CCACHE_REMOTE": "http://other:8080/cc"})
    assert s.remote == "http://other:8080/cc" and s.remote_from == "$INFERCORE_CCACHE_REMOTE"
    assert ccache.resolve(m, {"INFERCORE_CCACHE_REMOTE": ""}).remote == ""  # local only
    assert not ccache.resolve(m, {"INFERCORE_CCACHE": "off"}).enabled
    assert ccache.resolve(matrix_with(enabled=False), {"INFERCORE_CCACHE": "on"}).enabled


@pytest.mark.parametrize("bad", ["ftp://x", "redis://a b", "cache:6379", "redis://"])
def test_a_bad_remote_in_the_environment_says_what_ccache_takes(bad):
    with pytest.raises(UsageError) as err:
        ccache.resolve(MATRIX, {"INFERCORE_CCACHE_REMOTE": bad})
    assert "redis://HOST" in err.value.why and "INFERCORE_CCACHE_REMOTE=" in err.value.fix


def test_a_bad_remote_in_the_table_is_refused_when_it_loads():
    with pytest.raises(config.ConfigError) as err:
        matrix_with(**{"remote-storage": "memcached://x:11211"})
    assert "[ccache] remote-storage" in str(err.value) and "redis://HOST:PORT" in str(err.value)


def test_a_bad_switch_is_refused():
    with pytest.raises(UsageError, match="neither on nor off"):
        ccache.resolve(MATRIX, {"INFERCORE_CCACHE": "maybe"})


def test_the_remote_gets_the_timeouts_and_hides_its_password():
    s = ccache.resolve(MATRIX, {"INFERCORE_CCACHE_REMOTE": "redis://:s3cret@cache:6379|x=1"})
    assert s.remote_storage == (
        "redis://:s3cret@cache:6379|connect-timeout=200|operation-timeout=10000|x=1"
    )
    assert s.remote_display == "redis://***@cache:6379"


def test_the_generated_configuration(tmp_path):
    s = ccache.resolve(MATRIX, {"INFERCORE_CCACHE_REMOTE": "redis://127.0.0.1:6379"})
    text = render(s, base_dir=tmp_path)
    lines = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    assert lines["base_dir"] == str(tmp_path) and lines["hash_dir"] == "false"
    assert lines["ignore_options"] == "-Xcompiler=-ffile-prefix-map=*"
    assert lines["remote_storage"].startswith("redis://127.0.0.1:6379|connect-timeout=200")
    assert "remote_storage" not in render(ccache.resolve(MATRIX, {}), base_dir=tmp_path)


# -- the pinned binary and its configuration file ------------------------------------------


@pytest.fixture(scope="module")
def cache_paths(tmp_path_factory):
    """A build tree of the test's own, the user's sources cache (the pinned ccache)."""
    return Paths(
        root=ROOT,
        build=tmp_path_factory.mktemp("build"),
        source_cache=Paths.from_env().source_cache,
    )


@pytest.fixture(scope="module")
def pinned(cache_paths):
    return ccache.prepare(cache_paths, MATRIX, LOCK, env={})


def test_prepare_writes_the_config_and_finds_the_pinned_ccache(pinned, cache_paths):
    assert pinned.config_file == cache_paths.build / "ccache" / "ccache.conf"
    assert f"base_dir = {ROOT}" in pinned.config_file.read_text()
    out = subprocess.run([pinned.binary, "--version"], capture_output=True, text=True).stdout
    assert out.startswith(f"ccache version {LOCK[tool.source_name()].version}")
    assert "redis-storage" in out and "http-storage" in out
    # ccache itself reads the generated file through the launcher's variable.
    shown = subprocess.run(
        [*pinned.launcher(), "--get-config", "base_dir"], capture_output=True, text=True
    )
    assert shown.stdout.strip() == str(ROOT)


def test_turned_off_there_is_no_launcher_and_cmake_is_told(cache_paths):
    assert ccache.prepare(cache_paths, MATRIX, LOCK, env={"INFERCORE_CCACHE": "off"}) is None
    assert ccache.cmake_defines(None) == {
        "CMAKE_CXX_COMPILER_LAUNCHER": "",
        "CMAKE_CUDA_COMPILER_LAUNCHER": "",
        "INFERCORE_CCACHE": "OFF",
    }
    assert ccache.build_env(None, cache_paths.build) == {}


# -- compiles in two checkouts ----------------------------------------------------------------


def checkout(base: Path, name: str) -> Path:
    root = base / name
    (root / "include").mkdir(parents=True)
    (root / "build").mkdir()
    (root / "include" / "k.h").write_text("#define K 2.0f\n")
    (root / "k.cu").write_text(
        '#include "k.h"\n__global__ void k(float* x) { x[threadIdx.x] *= K; }\n'
        "const char* f() { return __FILE__; }\n"
    )
    (root / "c.cc").write_text('#include "k.h"\nfloat g() { return K; }\n')
    return root


def compile_in(pinned, root: Path, remote: str, argv: list[str], tmp: Path) -> set[str]:
    """Compile in `root` through a cache of its own (config, local dir, stats log)."""
    s = ccache.resolve(MATRIX, {"INFERCORE_CCACHE_REMOTE": remote})
    conf = root / "ccache.conf"
    conf.write_text(render(s, base_dir=root))
    log = root / "stats.log"
    log.write_text("")
    env = {"PATH": "/usr/bin:/bin", "CCACHE_DIR": str(root / "local"), "CCACHE_STATSLOG": str(log)}
    cmd = ["/usr/bin/env", f"CCACHE_CONFIGPATH={conf}", str(pinned.binary), *argv]
    done = subprocess.run(cmd, cwd=root / "build", env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (block,) = stats.parse(log.read_text())
    return block


@pytest.fixture
def redis(tmp_path):
    try:
        redis_server.binary()
    except ToolMissing:
        pytest.skip("needs redis-server (Debian's package; .ci/run installs it)")
    with redis_server.running(tmp_path / "redis") as server:
        yield server.url


def nvcc_argv(root: Path, isystem: str) -> list[str]:
    inc = [f"-isystem={root}/include"] if isystem == "=" else ["-isystem", f"{root}/include"]
    return [
        str(NVCC),
        "-arch=sm_80",
        *inc,
        f"-Xcompiler=-ffile-prefix-map={root}=/src/infercore",
        "-objtemp",
        "-MD",
        "-MT",
        "k.o",
        "-MF",
        "k.o.d",
        "-x",
        "cu",
        "-c",
        f"{root}/k.cu",
        "-o",
        "k.o",
    ]


@pytest.mark.skipif(NVCC is None, reason="needs nvcc")
def test_two_checkouts_share_an_nvcc_entry_through_the_remote(pinned, redis, tmp_path):
    a, b = checkout(tmp_path, "a"), checkout(tmp_path, "b-elsewhere")
    first = compile_in(pinned, a, redis, nvcc_argv(a, " "), tmp_path)
    assert "cache_miss" in first and "remote_storage_miss" in first
    second = compile_in(pinned, b, redis, nvcc_argv(b, " "), tmp_path)
    assert "remote_storage_hit" in second and stats.HITS & second
    assert (a / "build" / "k.o").read_bytes() == (b / "build" / "k.o").read_bytes()


@pytest.mark.skipif(NVCC is None, reason="needs nvcc")
def test_cmakes_one_argument_isystem_would_never_share(pinned, redis, tmp_path):
    """Why cmake/ccache.cmake respells CMake's "-isystem=PATH" for nvcc: ccache leaves
    that spelling's absolute path in the hash."""
    a, b = checkout(tmp_path, "a"), checkout(tmp_path, "b")
    compile_in(pinned, a, redis, nvcc_argv(a, "="), tmp_path)
    assert "cache_miss" in compile_in(pinned, b, redis, nvcc_argv(b, "="), tmp_path)


def test_two_checkouts_share_a_cxx_entry_and_the_stats_say_so(pinned, redis, tmp_path):
    a, b = checkout(tmp_path, "a"), checkout(tmp_path, "b")

    def argv(root):
        return ["g++", f"-ffile-prefix-map={root}=/src", "-I", f"{root}/include", "-c",
                f"{root}/c.cc", "-o", "c.o"]  # fmt: skip

    compile_in(pinned, a, redis, argv(a), tmp_path)
    block = compile_in(pinned, b, redis, argv(b), tmp_path)
    s = stats.summarize([block], remote=redis)
    assert (s.compiles, s.hits, s.remote_hits, s.misses, s.remote_faults) == (1, 1, 1, 0, 0)
    assert s.remote_hit_rate == 1.0


def test_an_unreachable_remote_is_a_counted_fault_not_a_failure(pinned, tmp_path):
    closed = f"redis://127.0.0.1:{redis_server.free_port()}"
    a = checkout(tmp_path, "a")
    argv = ["g++", "-I", f"{a}/include", "-c", f"{a}/c.cc", "-o", "c.o"]
    block = compile_in(pinned, a, closed, argv, tmp_path)
    assert (a / "build" / "c.o").is_file()
    s = stats.summarize([block], remote=closed)
    assert s.misses == 1 and s.remote_faults == 1
    assert "cannot be reached" in remote.problem(closed, timeout=0.5)


def test_the_remote_check_answers_for_a_live_redis(redis):
    assert remote.problem(redis) == ""
    assert "scheme" in remote.problem("memcached://127.0.0.1:1")


def test_the_summary_line_and_the_fault_warning(capsys):
    s = stats.Summary(compiles=10, hits=9, remote_hits=8, misses=1, remote_faults=2, remote="r")
    stats.report("core", s)
    out = " ".join(capsys.readouterr().out.split())
    assert "ccache: 10 compile(s), 9 hit(s), 1 miss(es); remote r: 8 hit(s)" in out
    assert "warning: the ccache remote r failed for 2 of 10 compile(s)" in out
    assert "nox -s doctor" in out
