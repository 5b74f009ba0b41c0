"""buildsys.doctor: each check against this machine where the outcome is deterministic,
against a checkout whose configuration makes a check fail, and through the command line
(the table, --json, the exit code of the first failed row's error class). The remote
cache checks talk to a real redis-server and a real HTTP server on 127.0.0.1."""

import contextlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest
from buildsys import cli, config, doctor
from buildsys.ccache import redis_server
from buildsys.container import engine as engines
from buildsys.container import imagelock
from buildsys.cuda import archs
from buildsys.doctor import compiler_cache, resources, sources, toolchain
from buildsys.errors import ConfigError, SourceError, ToolMissing, UsageError
from buildsys.host import nvcc as nvcc_tool
from buildsys.host import system
from buildsys.sources import cache
from buildsys.util.paths import ROOT, Paths

MATRIX_TEXT = (ROOT / "build-matrix.toml").read_text()
LOCK_TEXT = (ROOT / "sources.lock.toml").read_text()
REAL = config.load(ROOT)


def checkout(
    tmp_path: Path,
    matrix: str = MATRIX_TEXT,
    lock: str = LOCK_TEXT,
    images_lock: str | None = None,
) -> Paths:
    """A checkout of its own (only the two TOML files, and docker/images.lock if given),
    with an empty build tree and sources cache."""
    root = tmp_path / "checkout"
    root.mkdir(parents=True)
    (root / "build-matrix.toml").write_text(matrix)
    (root / "sources.lock.toml").write_text(lock)
    if images_lock is not None:
        (root / "docker").mkdir()
        (root / "docker" / "images.lock").write_text(images_lock)
    return Paths(root=root, build=tmp_path / "build", source_cache=tmp_path / "cache")


def run_json(capsys, paths: Paths, *args: str) -> tuple[int, dict, str]:
    code = cli.run(["doctor", "--json", *args], paths)
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def row(report: dict, name: str) -> dict:
    rows = [c for c in report["checks"] if c["name"] == name]
    assert len(rows) == 1, [c["name"] for c in report["checks"]]
    return rows[0]


def context(paths: Paths, **options) -> doctor.Context:
    cfg = config.load(paths.root)
    return doctor.Context(paths=paths, matrix=cfg.matrix, lock=cfg.lock, env=os.environ, **options)


# -- the whole run: --json, the table, exit codes -------------------------------------


def test_json_on_this_machine_has_one_row_per_check_and_a_consistent_exit(capsys, tmp_paths):
    code, report, err = run_json(capsys, tmp_paths)
    assert report["schema"] == 1
    assert set(report) == {
        "schema",
        "target",
        "profile",
        "toolchain",
        "network",
        "offline",
        "checks",
        "counts",
        "ok",
        "exit_code",
        "seconds",
        "timings",
    }
    assert report["target"] in REAL.matrix.targets
    assert report["toolchain"] in ("host", "pinned")
    assert report["network"] is False and report["offline"] is False
    assert list(report["timings"]) == [key for key, _ in doctor.CHECKS]
    names = [c["name"] for c in report["checks"]]
    assert len(names) == len(set(names))
    for check in report["checks"]:
        assert set(check) == {"name", "verdict", "detail", "fix", "exit_code"}
        assert check["verdict"] in ("ok", "warn", "fail", "skip")
        assert check["detail"]
        if check["verdict"] in ("warn", "fail"):
            assert check["fix"], check  # every problem says what to do
        assert (check["exit_code"] is not None) == (check["verdict"] == "fail")
    counts = report["counts"]
    assert sum(counts.values()) == len(names)
    assert report["ok"] == (counts["fail"] == 0)
    assert code == report["exit_code"]
    first_fail = next((c for c in report["checks"] if c["verdict"] == "fail"), None)
    assert code == (first_fail["exit_code"] if first_fail else 0)
    assert ("doctor:" in err) == (code != 0)
    for name in ("container engine", "nvcc", "GPU driver", "memory", "disk", "pythons"):
        assert name in names
    assert {f"release {c}" for c in REAL.matrix.release} <= set(names)


def test_the_table_names_every_check_and_ends_with_the_summary(capsys, tmp_paths):
    code = cli.run(["doctor"], tmp_paths)
    out = capsys.readouterr().out
    for name in ("container engine", "nvcc", "GPU driver", "memory", "disk", "sources"):
        assert name in out
    last = out.strip().splitlines()[-1]
    assert last.startswith("doctor: ") and " ok, " in last and " skip in " in last
    assert ("the build cannot succeed" in last) == (code != 0)


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--target", "cuda-x86_65"], "did you mean 'cuda-x86_64'"),
        (["--profile", "relase"], "did you mean 'release'"),
        (["--toolchain", "pined"], "did you mean 'pinned'"),
    ],
)
def test_a_misspelt_option_is_a_usage_error_not_a_table(capsys, tmp_paths, argv, says):
    code = cli.run(["doctor", *argv], tmp_paths)
    out, err = capsys.readouterr()
    assert code == UsageError.exit_code
    assert says in err and "check" not in out


def test_an_impossible_arch_fails_the_nvcc_check_with_the_resolvers_fix(capsys, tmp_path):
    # sm_70 is a valid group of its own, but CUDA 13.0 dropped it: the resolver says so.
    matrix = MATRIX_TEXT.replace(
        'kernel-archs = ["sm80", "sm90"]', 'kernel-archs = ["sm70", "sm80", "sm90"]'
    ).replace(
        "[kernel-archs.sm80]",
        '[kernel-archs.sm70]\ndescription = "Volta"\narchs = ["70"]\nfamilies = ["fa2"]\n\n'
        "[kernel-archs.sm80]",
    )
    paths = checkout(tmp_path, matrix=matrix)
    cfg = config.load(paths.root)
    with pytest.raises(ConfigError) as resolver:
        archs.resolve(
            cuda="13.0",
            archs=["70"],
            ptx=[],
            families=["fa2"],
            toolkits=cfg.matrix.toolkits,
            family_table=cfg.matrix.families,
        )
    code, report, err = run_json(capsys, paths, "--target", "cuda-x86_64")
    nvcc = row(report, "nvcc")
    assert nvcc["verdict"] == "fail"
    assert nvcc["detail"].startswith(resolver.value.what)  # sm_70 is not a target of CUDA 13.0
    assert nvcc["fix"] == resolver.value.fix
    assert code == ConfigError.exit_code == nvcc["exit_code"]
    assert "config error: doctor: 1 check(s) failed (nvcc)" in err
    assert row(report, "memory")["verdict"] == "skip"  # no plan to size: the nvcc row says why


@pytest.mark.skipif(
    (found := nvcc_tool.find()) is None or nvcc_tool.version(found) != "13.0",
    reason="needs this machine's nvcc 13.0",
)
def test_an_nvcc_of_another_cuda_version_fails_with_exit_4(capsys, tmp_path):
    # The target on CUDA 12.8, which its kernels allow once FA4 (CUDA 13 only) is out.
    matrix = MATRIX_TEXT.replace('cuda = "13.0"\n# SASS', 'cuda = "12.8"\n# SASS').replace(
        'families = ["fa2", "cutlass-sm90", "fa4"]', 'families = ["fa2", "cutlass-sm90"]'
    )
    assert matrix.count('"12.8"') > MATRIX_TEXT.count('"12.8"') and '"fa4"]' in MATRIX_TEXT
    code, report, _ = run_json(capsys, checkout(tmp_path, matrix=matrix), "--target", "cuda-x86_64")
    nvcc = row(report, "nvcc")
    assert nvcc["verdict"] == "fail"
    assert "CUDA 12.8 was asked for" in nvcc["detail"] and "is CUDA 13.0" in nvcc["detail"]
    assert "point CUDACXX at a CUDA 12.8 nvcc" in nvcc["fix"]
    assert nvcc["exit_code"] == ToolMissing.exit_code
    first = next(c for c in report["checks"] if c["verdict"] == "fail")
    assert code == first["exit_code"]


@pytest.mark.skipif(
    (found := nvcc_tool.find()) is None or nvcc_tool.version(found) != "13.0",
    reason="needs this machine's nvcc 13.0",
)
def test_a_table_claiming_more_than_nvcc_compiles_fails(capsys, tmp_path):
    # [cuda-toolkits."13.0"] made to claim sm_70 (which CUDA 13.0 dropped), and the
    # target to ask for it: the file loads, and only nvcc itself can say no.
    matrix = MATRIX_TEXT.replace(
        'sass = ["75", "80", "86"', 'sass = ["70", "75", "80", "86"'
    ).replace('sass-archs = ["80", "90"]', 'sass-archs = ["70", "80", "90"]')
    assert matrix.count('"70"') == MATRIX_TEXT.count('"70"') + 2
    code, report, _ = run_json(capsys, checkout(tmp_path, matrix=matrix), "--target", "cuda-x86_64")
    nvcc = row(report, "nvcc")
    assert nvcc["verdict"] == "fail" and "does not compile sm_70" in nvcc["detail"]
    assert "`nvcc --list-gpu-code` lists sm_75" in nvcc["detail"]
    assert nvcc["fix"].startswith('make [cuda-toolkits."13.0"] sass what this nvcc lists')
    assert code == ConfigError.exit_code


@pytest.mark.skipif(nvcc_tool.find() is None, reason="needs an nvcc")
def test_the_nvcc_check_names_the_plan_it_checked(tmp_paths):
    ctx = context(tmp_paths, target_name="cuda-x86_64", profile_name="release")
    result = toolchain.nvcc(ctx)
    assert result.verdict == "ok", result
    units = sum(len(u) for p in ctx.kernel_plans for u in p.units.values())
    groups = "; ".join(
        f"{p.group.name}: "
        + ", ".join(f"{f} {'/'.join(a)}" for f, a in p.arch_plan.families.items() if f in p.units)
        for p in ctx.kernel_plans
    )
    assert "sm90: fa2 90, cutlass-sm90 90a" in groups
    assert f"profile release: {groups}; {units} kernel TUs" in result.detail


def test_a_cpu_target_needs_no_nvcc(tmp_paths):
    result = toolchain.nvcc(context(tmp_paths, target_name="cpu-x86_64"))
    assert result.verdict == "skip" and "CPU-only" in result.detail


def test_the_pinned_toolchain_is_checked_without_assembling_it(tmp_paths):
    # An empty sources cache: nothing assembled, no wheel cached. Online that is a warning
    # (the first build fetches them); offline it is the failure the build would meet.
    pinned = {"target_name": "cuda-x86_64", "toolchain_choice": "pinned"}
    online = toolchain.nvcc(context(tmp_paths, **pinned))
    assert online.verdict == "warn" and "not assembled yet" in online.detail
    assert "nvidia-cuda-nvcc" in online.detail and "buildsys toolchain" in online.fix
    offline = toolchain.nvcc(context(tmp_paths, **pinned, offline=True))
    assert offline.verdict == "fail" and offline.error is SourceError
    assert not (tmp_paths.source_cache / "toolchains").exists()  # nothing was assembled


# -- GPU driver ----------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="a GPU machine")
def test_no_gpu_is_a_skipped_row_not_a_failure(tmp_paths):
    result = toolchain.driver(context(tmp_paths))
    assert result.verdict == "skip" and "nvidia-smi not found" in result.detail


def test_the_driver_version_and_the_gpus_are_read_from_nvidia_smi():
    banner = (
        "| NVIDIA-SMI 580.65.06              Driver Version: 580.65.06      CUDA Version: 13.0"
        "     |"
    )
    assert toolchain.driver_cuda(banner) == "13.0"
    assert toolchain.driver_cuda("NVIDIA-SMI has failed because it couldn't communicate") is None
    assert toolchain.gpus("NVIDIA H200, 9.0\nNVIDIA B200, 10.0\n") == [
        ("NVIDIA H200", 90),
        ("NVIDIA B200", 100),
    ]
    assert toolchain.gpus("No devices were found") == []


# -- memory and disk, with the machine's figures given as parameters -----------------


def test_memory_against_the_kernel_pool(tmp_paths, monkeypatch):
    # A fixed budget and 2 jobs: 2 heavy TUs at 4.5 GiB plus a core TU, 10 GiB at the peak.
    monkeypatch.setenv("INFERCORE_BUILD_MEMORY_GIB", "100")
    ctx = context(tmp_paths, target_name="cuda-x86_64", jobs=2)
    ok = resources.memory(ctx, available_gib=64.0)
    assert ok.verdict == "ok" and "= 10.0 GiB" in ok.detail
    tight = resources.memory(ctx, available_gib=8.0)
    assert tight.verdict == "warn"
    assert "INFERCORE_BUILD_MEMORY_GIB=8 (then 1 heavy TU(s) at once)" in tight.fix
    none = resources.memory(ctx, available_gib=2.0)
    assert none.verdict == "fail" and "5.5 GiB needed" in none.detail


def test_a_measured_need_beyond_this_machine_fails_the_memory_check(capsys, tmp_path):
    huge = MATRIX_TEXT.replace("fa2 = 4.5\ncutlass-sm90 = 4.5", "fa2 = 4096\ncutlass-sm90 = 4096")
    assert huge != MATRIX_TEXT
    _, report, _ = run_json(capsys, checkout(tmp_path, matrix=huge), "--target", "cuda-x86_64")
    memory = row(report, "memory")
    assert memory["verdict"] == "fail" and "not even one TU at a time fits" in memory["detail"]


def test_disk_against_the_build_trees_estimate(tmp_paths):
    ctx = context(tmp_paths, target_name="cuda-x86_64", profile_name="release")
    units = sum(len(u) for p in ctx.kernel_plans for u in p.units.values())
    need = resources.disk_need_gib(units)
    assert resources.disk(ctx, free_gib=need * 10).verdict == "ok"
    assert resources.disk(ctx, free_gib=need * 1.5).verdict == "warn"
    small = resources.disk(ctx, free_gib=need / 2)
    assert small.verdict == "fail" and "INFERCORE_BUILD_DIR" in small.fix
    assert f"{units} kernel TUs" in small.detail
    # Measured where the tree will be: the nearest directory of it that exists yet.
    assert not tmp_paths.build.exists()
    assert f"free at {tmp_paths.build.parent}" in resources.disk(ctx).detail


# -- the container engine and the images --------------------------------------------


def _usable_image() -> tuple[str, imagelock.Entry] | None:
    """An image docker/images.lock records that the engine here holds with that id."""
    engine = engines.find()
    if engine is None:
        return None
    for name, entry in imagelock.read(ROOT).items():
        if engine.image_id(entry.ref) == entry.id:
            return name, entry
    return None


@pytest.mark.skipif(_usable_image() is None, reason="needs an engine holding a locked image")
def test_an_image_whose_id_differs_from_the_lock_fails(capsys, tmp_path, monkeypatch):
    # The images are checked in the default mode, whatever the caller's (.ci/run sets
    # INFERCORE_CONTAINER=never, which skips them).
    monkeypatch.delenv("INFERCORE_CONTAINER", raising=False)
    monkeypatch.delenv("INFERCORE_IN_CONTAINER", raising=False)
    name, entry = _usable_image()
    text = imagelock.render({name: entry})
    tampered = text.replace(entry.id, "sha256:" + "0" * 64)
    gone = text.replace(entry.ref, entry.ref + "-gone")
    code, report, _ = run_json(
        capsys, checkout(tmp_path, images_lock=tampered), "--target", "cpu-x86_64"
    )
    image = row(report, f"image {name}")
    assert image["verdict"] == "fail" and "records sha256:00000000000" in image["detail"]
    assert image["fix"].startswith("rebuild and record it: nox -s images -- --role")
    assert image["exit_code"] == ConfigError.exit_code == code
    _, report, _ = run_json(
        capsys, checkout(tmp_path / "2", images_lock=gone), "--target", "cpu-x86_64"
    )
    image = row(report, f"image {name}")
    assert image["verdict"] == "warn" and "-gone" in image["detail"]
    assert image["fix"].startswith("build it: nox -s images -- --role")


def test_the_container_mode_decides_what_a_missing_image_means(capsys, tmp_path, monkeypatch):
    # No docker/images.lock in this checkout: every image the sessions name is missing.
    paths = checkout(tmp_path)
    monkeypatch.setenv("INFERCORE_CONTAINER", "never")
    _, report, _ = run_json(capsys, paths, "--target", "cpu-x86_64")
    assert row(report, "container engine")["verdict"] == "skip"
    assert row(report, "images")["verdict"] == "skip"
    monkeypatch.delenv("INFERCORE_CONTAINER")
    monkeypatch.setenv("INFERCORE_IN_CONTAINER", "test-x86")  # a session never nests one
    _, report, _ = run_json(capsys, paths, "--target", "cpu-x86_64")
    assert "inside the test-x86 container" in row(report, "container engine")["detail"]
    assert "on this host" in row(report, "release cpu-x86_64")["detail"]
    monkeypatch.delenv("INFERCORE_IN_CONTAINER")
    if engines.find() is None:
        return
    monkeypatch.setenv("INFERCORE_CONTAINER", "auto")
    _, report, _ = run_json(capsys, paths, "--target", "cpu-x86_64")
    image = row(report, "image test-x86")
    assert image["verdict"] == "warn" and "records no test-x86 image" in image["detail"]
    monkeypatch.setenv("INFERCORE_CONTAINER", "always")
    code, report, _ = run_json(capsys, paths, "--target", "cpu-x86_64")
    assert row(report, "image test-x86")["verdict"] == "fail"
    assert code == UsageError.exit_code  # what `--container always` itself ends with


# -- release cells and Pythons -------------------------------------------------------


@pytest.mark.skipif(
    (glibc := system.glibc()) is None or config.version_tuple(glibc) <= (2, 17),
    reason="needs a glibc newer than manylinux2014's",
)
def test_a_release_cell_built_on_this_host_reaches_only_the_hosts_policy(capsys, tmp_path):
    # No images.lock: the cells would build on this host, whose glibc is newer than 2.17.
    _, report, _ = run_json(capsys, checkout(tmp_path), "--target", "cpu-x86_64")
    cpu = row(report, "release cpu-x86_64")
    assert cpu["verdict"] == "warn"
    assert f"glibc {system.glibc()}" in cpu["detail"] and "not manylinux2014" in cpu["detail"]
    assert "nox -s images -- --role release --platform x86" in cpu["fix"]
    unbuilt = [n for n, c in REAL.matrix.release.items() if not c.build]
    for name in unbuilt:
        assert row(report, f"release {name}")["verdict"] == "skip"


def test_the_pythons_row_is_what_the_interpreter_search_finds(tmp_paths):
    from buildsys.host import interpreters

    found, missing = interpreters.find_all(list(REAL.matrix.python_versions))
    result = doctor.host.pythons(context(tmp_paths))
    assert result.verdict == ("ok" if not missing else "warn" if found else "fail")
    for interp in found:
        assert interp.full_version in result.detail


# -- sources ---------------------------------------------------------------------------


def test_an_empty_sources_cache_warns_online_and_fails_offline(capsys, tmp_paths):
    ctx = context(tmp_paths, target_name="cpu-x86_64")
    online = sources.sources(ctx)
    assert online.verdict == "warn" and "cutlass" in online.detail and "--network" in online.fix
    code, report, _ = run_json(capsys, tmp_paths, "--target", "cpu-x86_64", "--offline")
    offline = row(report, "sources")
    assert offline["verdict"] == "fail" and offline["exit_code"] == SourceError.exit_code
    assert "nor in a mirror" in offline["detail"] and "--mirror DIR" in offline["fix"]
    assert row(report, "ccache")["verdict"] == "fail"  # the pinned ccache is a source too
    assert code != 0


def test_sources_of_other_machines_are_not_asked_for():
    assert sources.other_machines(REAL.lock, "x86_64") == {"ccache-aarch64", "tini-arm64"}
    assert sources.other_machines(REAL.lock, "aarch64") == {
        "ccache-x86_64",
        "tini-amd64",
        "uv-x86_64",
    }


@pytest.mark.skipif(
    cache.missing_offline(
        Paths.from_env(),
        [s for s in REAL.lock.values() if s.name not in sources.other_machines(REAL.lock)],
        [],
    )
    != [],
    reason="needs this machine's sources cache complete",
)
def test_offline_a_mirror_holding_every_source_is_enough(capsys, tmp_paths):
    mirror = Paths.from_env().source_cache / "sha256"  # files named by their sha256
    _, report, _ = run_json(
        capsys, tmp_paths, "--target", "cpu-x86_64", "--offline", "--mirror", str(mirror)
    )
    assert row(report, "sources")["verdict"] == "ok"
    assert row(report, "ccache")["verdict"] == "ok"


@contextlib.contextmanager
def http_server(directory: Path):
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(  # noqa: E731
        *a, directory=str(directory), **k
    )
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_network_check_heads_the_urls_of_each_uncached_source_in_order(capsys, tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    gtest = REAL.lock["gtest"]
    assert len(gtest.urls) > 1  # a fallback URL to fall back to
    first_gtest = gtest.urls[0].rsplit("/", 1)[1]
    with http_server(served) as port:
        # Every URL of the lock on the local server; every file there but cutlass's and
        # the file of gtest's first URL (its second one is there).
        files = re.findall(r'"https?://[^"]*/([^"/]+)"', LOCK_TEXT)
        lock = re.sub(r'"https?://[^"]*/([^"/]+)"', rf'"http://127.0.0.1:{port}/\1"', LOCK_TEXT)
        for file in files:
            if not file.startswith("nvidia_cutlass") and file != first_gtest:
                (served / urllib.parse.unquote(file)).write_bytes(b"x")
        paths = checkout(tmp_path, lock=lock)
        code, report, _ = run_json(capsys, paths, "--target", "cpu-x86_64", "--network")
        result = row(report, "sources")
        assert result["verdict"] == "fail" and result["exit_code"] == SourceError.exit_code
        assert "1 pinned source(s) the cache lacks cannot be fetched" in result["detail"]
        assert "cutlass: http://127.0.0.1" in result["detail"] and "HTTP 404" in result["detail"]
        assert "update its urls in sources.lock.toml" in result["fix"]
        assert code != 0
        cutlass = REAL.lock["cutlass"].urls[0].rsplit("/", 1)[1]
        (served / cutlass).write_bytes(b"x")
        _, report, _ = run_json(capsys, paths, "--target", "cpu-x86_64", "--network")
    result = row(report, "sources")
    assert result["verdict"] == "ok"
    second = gtest.urls[1].rsplit("/", 1)[1]
    assert f"gtest from http://127.0.0.1:{port}/{second}" in result["detail"]
    closed = cache.reachable(f"http://127.0.0.1:{redis_server.free_port()}/x.whl", timeout=2)
    assert "refused" in closed.lower()


# -- the compiler cache ---------------------------------------------------------------


def test_no_remote_configured_is_skipped(tmp_paths, monkeypatch):
    monkeypatch.delenv("INFERCORE_CCACHE_REMOTE", raising=False)
    result = compiler_cache.remote_storage(context(tmp_paths))
    assert result.verdict == "skip" and "local cache only" in result.detail


def test_a_remote_on_a_closed_port_warns_with_the_fix(tmp_paths, monkeypatch):
    for url in (
        f"redis://127.0.0.1:{redis_server.free_port()}",
        f"http://127.0.0.1:{redis_server.free_port()}/cache",
    ):
        monkeypatch.setenv("INFERCORE_CCACHE_REMOTE", url)
        result = compiler_cache.remote_storage(context(tmp_paths))
        assert result.verdict == "warn", result
        assert url in result.detail and "cannot be reached" in result.detail
        assert "$INFERCORE_CCACHE_REMOTE" in result.fix


def test_a_bad_remote_setting_fails_as_the_usage_error_it_is(capsys, tmp_paths, monkeypatch):
    monkeypatch.setenv("INFERCORE_CCACHE_REMOTE", "memcached://x")
    code, report, _ = run_json(capsys, tmp_paths, "--target", "cpu-x86_64")
    remote_row = row(report, "ccache remote")
    assert remote_row["verdict"] == "fail" and remote_row["exit_code"] == UsageError.exit_code
    assert code != 0


@pytest.fixture
def redis_url(tmp_path):
    """A real redis-server on a free 127.0.0.1 port (ccache.redis_server), stopped after."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    with redis_server.running(tmp_path / "redis") as server:
        yield server.url


def test_a_running_redis_remote_passes(tmp_paths, monkeypatch, redis_url):
    monkeypatch.setenv("INFERCORE_CCACHE_REMOTE", redis_url)
    result = compiler_cache.remote_storage(context(tmp_paths))
    assert result.verdict == "ok", result
    assert result.detail == f"{redis_url} answers (from $INFERCORE_CCACHE_REMOTE)"


def test_a_running_http_remote_passes(tmp_paths, tmp_path, monkeypatch):
    with http_server(tmp_path) as port:
        monkeypatch.setenv("INFERCORE_CCACHE_REMOTE", f"http://127.0.0.1:{port}/ccache")
        result = compiler_cache.remote_storage(context(tmp_paths))
    assert result.verdict == "ok", result


def test_the_pinned_ccache_binary_is_looked_for_in_the_sources_cache(tmp_paths, monkeypatch):
    monkeypatch.delenv("INFERCORE_CCACHE", raising=False)
    missing = compiler_cache.binary(context(tmp_paths))
    assert missing.verdict == "warn" and "ccache 4.14.2" in missing.detail
    assert "nox -s sources -- ccache-" in missing.fix
    monkeypatch.setenv("INFERCORE_CCACHE", "off")
    assert compiler_cache.binary(context(tmp_paths)).verdict == "skip"


# -- the nox session ------------------------------------------------------------------


def test_nox_s_doctor_prints_the_json_and_exits_with_its_code():
    done = subprocess.run(
        [sys.executable, "-m", "nox", "-s", "doctor", "--", "--json", "--target", "cpu-x86_64"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stdout)
    assert report["target"] == "cpu-x86_64"
    assert (done.returncode == 0) == (report["exit_code"] == 0), done.stderr
