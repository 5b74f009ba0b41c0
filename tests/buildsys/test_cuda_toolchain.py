"""buildsys.cuda.toolchain and toolchain_unpack: the pinned CUDA toolchain, from fake wheels.

The wheels here are small zips shaped like NVIDIA's (files under nvidia/cu13, 0744
executables, METADATA with Requires-Dist, a license); their nvcc is a shell script that
prints the version line. The real wheels are assembled and used by
tests/integration/test_pinned_toolchain.py.
"""

import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from buildsys import cli, config
from buildsys.cuda import toolchain
from buildsys.cuda import toolchain_unpack as unpack
from buildsys.errors import Interrupted, SourceError, UsageError
from buildsys.host import nvcc as nvcc_tool
from buildsys.util.paths import Paths
from buildsys.wheels import pipeline

ROOT = Path(__file__).resolve().parents[2]
MATRIX = config.load(ROOT).matrix
NVCC_SCRIPT = b'#!/bin/sh\necho "Cuda compilation tools, release 13.0, V13.0.88"\n'
SHARED_H = b"/* shipped by two wheels, byte for byte */\n"


def make_wheel(directory, name, version, files, *, requires=(), links=None, filename=None):
    """A wheel like NVIDIA's: `files` {path under nvidia/cu13: (bytes, mode)}, `links`
    {path: target}, a METADATA and a license."""
    dist = f"{name.replace('-', '_')}-{version}"
    path = directory / (filename or f"{dist}-py3-none-manylinux_2_17_x86_64.whl")
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:

        def add(arcname, data, mode):
            info = zipfile.ZipInfo(arcname, date_time=(2025, 8, 20, 13, 58, 59))
            info.external_attr = mode << 16
            info.create_system = 3
            zf.writestr(info, data)

        for rel, (data, mode) in files.items():
            add(f"nvidia/cu13/{rel}", data, stat.S_IFREG | mode)
        for rel, target in (links or {}).items():
            add(f"nvidia/cu13/{rel}", target.encode(), stat.S_IFLNK | 0o777)
        add(f"{dist}.dist-info/METADATA", meta, stat.S_IFREG | 0o644)
        add(f"{dist}.dist-info/licenses/License.txt", "NVIDIA license\n", stat.S_IFREG | 0o644)
    return path


def fake_wheels(directory, *, nvcc_script=NVCC_SCRIPT, cicc_mode=0o744):
    directory.mkdir(parents=True, exist_ok=True)
    return [
        make_wheel(
            directory,
            "nvidia-cuda-nvcc",
            "13.0.88",
            {
                "bin/nvcc": (nvcc_script, 0o744),
                "bin/nvcc.profile": (b"TOP = $(_HERE_)/..\n", 0o644),
                "include/fatbinary_section.h": (b"/* fatbin */\n", 0o644),
            },
            requires=["nvidia-nvvm", "nvidia-cuda-runtime", "nvidia-cuda-crt"],
        ),
        make_wheel(
            directory, "nvidia-cuda-crt", "13.0.88", {"include/crt/host_defines.h": (b"", 0o644)}
        ),
        make_wheel(
            directory,
            "nvidia-nvvm",
            "13.0.88",
            {"nvvm/bin/cicc": (b"\x7fELF cicc", cicc_mode), "lib/libnvvm.so.4": (b"nvvm", 0o644)},
        ),
        make_wheel(
            directory,
            "nvidia-cuda-runtime",
            "13.0.96",
            {
                "include/cuda_runtime.h": (b"/* runtime */\n", 0o644),
                "include/shared.h": (SHARED_H, 0o644),
                "lib/libcudart.so.13": (b"cudart", 0o644),
                "lib/libcudart_static.a": (b"!<arch>\n", 0o644),
            },
        ),
        make_wheel(
            directory,
            "nvidia-cuda-cccl",
            "13.0.85",
            {
                "include/cccl/cuda/std/atomic": (b"// atomic\n", 0o644),
                "include/shared.h": (SHARED_H, 0o644),
            },
            links={"include/cccl/libcudacxx": "cuda"},
        ),
    ]


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lock_for(wheels, **extra):
    """A SourcesLock pinning `wheels` as the cuda-13.0 toolchain (fetched from a mirror)."""
    entries = []
    for w in wheels:
        with zipfile.ZipFile(w) as zf:
            meta = next(n for n in zf.namelist() if n.endswith("METADATA"))
            lines = dict(
                line.split(": ", 1) for line in zf.read(meta).decode().splitlines() if ": " in line
            )
        entries.append(
            {
                "name": lines["Name"],
                "version": lines["Version"],
                "kind": "wheel",
                "filename": w.name,
                "sha256": sha(w),
                "urls": [f"https://files.example.org/{w.name}"],
                "root": "nvidia/cu13",
                "toolchain": "cuda-13.0",
                **extra,
            }
        )
    return config.parse_lock({"source": entries})


@pytest.fixture
def wheels(tmp_path):
    return fake_wheels(tmp_path / "mirror")


def lstat_tree(top):
    """path -> (type and mode, mtime, link target or bytes) of every entry under top."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in sorted([*dirnames, *filenames]):
            p = Path(dirpath, name)
            st = p.lstat()
            data = os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else ""
            out[p.relative_to(top).as_posix()] = (st.st_mode, st.st_mtime, data)
    return out


# -- toolchain_unpack: the tree ------------------------------------------------------------


def test_the_tree_is_a_cuda_home(wheels, tmp_path):
    dest = tmp_path / "prefix"
    dest.mkdir()
    manifest = unpack.assemble_into(dest, wheels)
    assert (dest / "bin" / "nvcc").read_bytes() == NVCC_SCRIPT
    for rel in ("include/cuda_runtime.h", "include/crt/host_defines.h", "nvvm/bin/cicc"):
        assert (dest / rel).is_file(), rel
    assert (dest / "lib" / "libcudart_static.a").is_file()
    # The links a CUDA installer lays out: nvcc.profile links from lib64, CMake wants .so.
    assert os.readlink(dest / "lib64") == "lib"
    assert os.readlink(dest / "lib" / "libcudart.so") == "libcudart.so.13"
    assert os.readlink(dest / "lib" / "libnvvm.so") == "libnvvm.so.4"
    assert manifest["added_links"] == {
        "lib/libcudart.so": "libcudart.so.13",
        "lib/libnvvm.so": "libnvvm.so.4",
        "lib64": "lib",
    }
    # A link inside a wheel stays a link; each wheel's license travels with the tree.
    assert os.readlink(dest / "include" / "cccl" / "libcudacxx") == "cuda"
    assert (dest / "licenses" / "nvidia-cuda-nvcc" / "License.txt").is_file()
    assert not list(dest.glob("*.dist-info"))
    assert [w["name"] for w in manifest["wheels"]] == [
        "nvidia-cuda-cccl",
        "nvidia-cuda-crt",
        "nvidia-cuda-nvcc",
        "nvidia-cuda-runtime",
        "nvidia-nvvm",
    ]
    nvcc = next(w for w in manifest["wheels"] if w["name"] == "nvidia-cuda-nvcc")
    assert nvcc["sha256"] == sha(wheels[0]) and nvcc["version"] == "13.0.88"
    assert unpack.read_manifest(dest) == manifest
    assert unpack.tree_digest(dest) == manifest["tree_sha256"]


def test_modes_come_from_the_wheel_not_the_umask(tmp_path):
    # zipfile.extractall would leave every file 0644 (minus the umask): nvcc would not run.
    wheels = fake_wheels(tmp_path / "w", cicc_mode=0o700)
    dest = tmp_path / "prefix"
    dest.mkdir()
    old = os.umask(0o077)
    try:
        unpack.assemble_into(dest, wheels)
    finally:
        os.umask(old)

    def mode(rel):
        return stat.S_IMODE((dest / rel).lstat().st_mode)

    assert mode("bin/nvcc") == 0o755  # 0744 in the wheel: every user of a shared cache runs it
    assert mode("nvvm/bin/cicc") == 0o755
    assert mode("bin/nvcc.profile") == 0o644
    assert mode("include/cuda_runtime.h") == 0o644
    assert mode("bin") == mode("nvvm/bin") == 0o755
    assert stat.S_IMODE(dest.stat().st_mode) == 0o755
    assert subprocess.run([dest / "bin" / "nvcc", "--version"], capture_output=True).returncode == 0


def test_reassembly_is_identical_whatever_the_order_and_file_names(wheels, tmp_path):
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    others = []
    for w in reversed(wheels):  # other order, and named by sha256 as the cache names them
        others.append(renamed / sha(w))
        shutil.copyfile(w, others[-1])
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    ma = unpack.assemble_into(a, wheels)
    time.sleep(0.01)
    mb = unpack.assemble_into(b, others)
    assert ma == mb
    assert (a / unpack.MARKER).read_bytes() == (b / unpack.MARKER).read_bytes()
    tree = lstat_tree(a)
    assert tree == lstat_tree(b)
    assert {mtime for _, mtime, _ in tree.values()} == {unpack.FIXED_MTIME}
    assert a.stat().st_mtime == unpack.FIXED_MTIME


def test_a_different_wheel_gives_a_different_digest(wheels, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    changed = fake_wheels(tmp_path / "other", nvcc_script=NVCC_SCRIPT + b"# changed\n")
    assert (
        unpack.assemble_into(a, wheels)["tree_sha256"]
        != (unpack.assemble_into(b, changed)["tree_sha256"])
    )
    (a / "include" / "cuda_runtime.h").write_text("edited")
    assert unpack.tree_digest(a) != unpack.read_manifest(a)["tree_sha256"]


def test_two_wheels_may_share_a_path_only_with_the_same_bytes(wheels, tmp_path):
    clash = make_wheel(
        tmp_path,
        "nvidia-cuda-cccl",
        "13.0.85",
        {"include/shared.h": (b"/* other bytes */\n", 0o644)},
    )
    dest = tmp_path / "prefix"
    dest.mkdir()
    with pytest.raises(unpack.WheelError, match=r"include/shared\.h is in nvidia-cuda-"):
        unpack.assemble_into(dest, [*wheels[:4], clash])
    assert not list(dest.iterdir())  # refused before anything was written


def test_a_missing_required_wheel_is_named(wheels, tmp_path):
    dest = tmp_path / "prefix"
    dest.mkdir()
    without_nvvm = [w for w in wheels if "nvvm" not in w.name]
    with pytest.raises(unpack.WheelError) as info:
        unpack.assemble_into(dest, without_nvvm)
    assert "nvidia-nvvm (required by nvidia-cuda-nvcc)" in str(info.value)
    assert "fix: pin them in sources.lock.toml" in str(info.value)
    with pytest.raises(unpack.WheelError, match="more than one wheel of nvidia-nvvm"):
        unpack.assemble_into(dest, [*wheels, wheels[2]])


@pytest.mark.parametrize(
    ("files", "links", "message"),
    [
        ({"../escape": (b"x", 0o644)}, {}, "would land outside the prefix"),
        ({"bin//nvcc2": (b"x", 0o755)}, {}, "would land outside the prefix"),
        ({}, {"include/evil": "../../../etc"}, "points outside the prefix"),
        ({}, {"include/abs": "/usr/include"}, "points outside the prefix"),
    ],
)
def test_nothing_lands_outside_the_prefix(wheels, tmp_path, files, links, message):
    bad = make_wheel(tmp_path, "nvidia-cuda-cccl", "13.0.85", files, links=links)
    dest = tmp_path / "prefix"
    dest.mkdir()
    with pytest.raises(unpack.WheelError, match=message):
        unpack.assemble_into(dest, [*wheels[:4], bad])
    assert not list(dest.iterdir())


def test_a_wheel_with_nothing_under_the_root_is_refused(wheels, tmp_path):
    dest = tmp_path / "prefix"
    dest.mkdir()
    with pytest.raises(unpack.WheelError, match="has nothing under nvidia/cu12/"):
        unpack.assemble_into(dest, wheels, root="nvidia/cu12")


def test_expected_hashes_are_checked_before_anything_is_written(wheels, tmp_path):
    dest = tmp_path / "prefix"
    dest.mkdir()
    expect = {w.name: sha(w) for w in wheels}
    expect[wheels[1].name] = "0" * 64
    with pytest.raises(unpack.WheelError, match="is not the pinned file: sha256"):
        unpack.assemble_into(dest, wheels, expect=expect)
    del expect[wheels[1].name]
    with pytest.raises(unpack.WheelError, match="is not listed in SHA256SUMS"):
        unpack.assemble_into(dest, wheels, expect=expect)
    assert not list(dest.iterdir())


# -- toolchain_unpack: atomic, and usable on its own -------------------------------------------


@pytest.mark.parametrize("stop", [RuntimeError("check failed"), KeyboardInterrupt()])
def test_assemble_publishes_all_or_nothing(wheels, tmp_path, stop):
    prefix = tmp_path / "opt" / "cuda-13.0"

    def check(tree):
        assert (tree / "bin" / "nvcc").is_file() and (tree / unpack.MARKER).is_file()
        raise stop

    with pytest.raises(type(stop)):
        unpack.assemble(prefix, wheels, check=check)
    assert not prefix.exists()
    assert os.listdir(prefix.parent) == []  # the temporary tree is gone too
    manifest = unpack.assemble(prefix, wheels)
    assert unpack.read_manifest(prefix) == manifest
    assert os.listdir(prefix.parent) == ["cuda-13.0"]
    with pytest.raises(unpack.UnpackError, match="already exists"):
        unpack.assemble(prefix, wheels)


def _run_alone(script, *args):
    """The unpacker as the image build runs it: the file alone, python3 -I (no buildsys,
    no PYTHONPATH, no site packages)."""
    return subprocess.run(
        [sys.executable, "-I", "-S", script, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=script.parent,
    )


def test_the_staged_unpacker_alone_gives_the_same_tree_as_buildsys(wheels, tmp_path):
    """What the image build does: toolchain.stage() into a context, then the script alone."""
    paths = Paths(root=ROOT, build=tmp_path / "build", source_cache=tmp_path / "cache")
    lock = lock_for(wheels)
    tc = toolchain.ensure(paths, lock, "13.0", offline=True, mirrors=[wheels[0].parent])
    context = tmp_path / "context"
    staged = toolchain.stage(paths, lock, "13.0", context, offline=True)
    assert sorted(p.name for p in context.iterdir()) == sorted(
        [*(w.name for w in wheels), toolchain.SHA256SUMS, "toolchain_unpack.py"]
    )
    assert [p.name for p in staged] == [s.filename for s in tc.sources]
    assert (context / "toolchain_unpack.py").read_bytes() == toolchain.UNPACK_SCRIPT.read_bytes()
    cmd = toolchain.unpack_command(
        str(tmp_path / "image" / "cuda-13.0"), [p.name for p in staged], python=sys.executable
    )
    assert cmd[1:7] == [
        "toolchain_unpack.py",
        "--prefix",
        str(tmp_path / "image" / "cuda-13.0"),
        "--root",
        "nvidia/cu13",
        "--sha256sums",
    ]
    result = _run_alone(context / cmd[1], *cmd[2:])
    assert result.returncode == 0, result.stderr
    assert tc.manifest()["tree_sha256"] in result.stdout
    assert lstat_tree(tmp_path / "image" / "cuda-13.0") == lstat_tree(tc.prefix)


def test_the_unpacker_alone_refuses_a_wheel_that_is_not_pinned(wheels, tmp_path):
    script = tmp_path / "ctx" / "toolchain_unpack.py"
    script.parent.mkdir()
    shutil.copyfile(toolchain.UNPACK_SCRIPT, script)
    sums = tmp_path / "SHA256SUMS"
    sums.write_text("".join(f"{sha(w)}  {w.name}\n" for w in wheels[1:]) + f"{'0' * 64}  x\n")
    result = _run_alone(script, "--prefix", tmp_path / "p", "--sha256sums", sums, *wheels)
    assert result.returncode == 5
    assert "is not listed in SHA256SUMS" in result.stderr and "fix:" in result.stderr
    assert not (tmp_path / "p").exists()
    result = _run_alone(script, "--prefix", tmp_path / "p", *wheels[1:])
    assert result.returncode == 5 and "has nvidia/cu13/bin/nvcc" in result.stderr
    result = _run_alone(script, "--prefix", tmp_path / "p")
    assert result.returncode == 2  # argparse: no wheels


# -- toolchain: the cache ----------------------------------------------------------------------


@pytest.fixture
def cache_paths(tmp_path):
    return Paths(root=ROOT, build=tmp_path / "build", source_cache=tmp_path / "cache")


def test_ensure_assembles_once_into_a_content_addressed_prefix(wheels, cache_paths):
    lock = lock_for(wheels)
    mirror = [wheels[0].parent]
    tc = toolchain.ensure(cache_paths, lock, "13.0", offline=True, mirrors=mirror)
    assert tc.prefix.parent == cache_paths.source_cache / "toolchains"
    assert tc.prefix.name == f"cuda-13.0-{toolchain.key(lock.toolchains['13.0'])}"
    assert len(tc.prefix.name) == len("cuda-13.0-") + 12
    assert tc.assembled and tc.nvcc == tc.prefix / "bin" / "nvcc"
    assert nvcc_tool.version(tc.nvcc) == "13.0"
    inode = tc.prefix.stat().st_ino
    again = toolchain.ensure(cache_paths, lock, "13.0", offline=True)  # no mirror needed now
    assert again == tc and tc.prefix.stat().st_ino == inode
    assert sorted(os.listdir(tc.prefix.parent)) == [tc.prefix.name]  # no temporaries left


def test_the_prefix_name_changes_with_any_pin(wheels, tmp_path):
    sources = lock_for(wheels).toolchains["13.0"]
    other = fake_wheels(tmp_path / "other", nvcc_script=NVCC_SCRIPT + b"#\n")
    assert toolchain.key(sources) != toolchain.key(lock_for(other).toolchains["13.0"])
    assert toolchain.key(sources) == toolchain.key(tuple(reversed(sources)))


def test_a_mirror_file_with_a_bad_hash_is_never_unpacked(wheels, cache_paths, tmp_path):
    lock = lock_for(wheels)
    bad = tmp_path / "bad-mirror"
    shutil.copytree(wheels[0].parent, bad)
    (bad / wheels[2].name).write_bytes(b"not the pinned bytes")
    with pytest.raises(SourceError, match="not available offline"):
        toolchain.ensure(cache_paths, lock, "13.0", offline=True, mirrors=[bad])
    tc = toolchain.pinned(cache_paths, lock, "13.0")
    assert not tc.prefix.exists() and not tc.assembled


def test_a_cache_entry_that_changed_after_it_was_verified_is_refused(wheels, cache_paths):
    lock = lock_for(wheels)
    files = toolchain.wheel_files(
        cache_paths, lock, "13.0", offline=True, mirrors=[wheels[0].parent]
    )
    _, cached = files[1]
    st = cached.stat()
    data = bytearray(cached.read_bytes())
    data[-1] ^= 0xFF  # same size, same mtime: the cache's cheap check still trusts it
    cached.write_bytes(bytes(data))
    os.utime(cached, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(SourceError, match="is not the pinned file: sha256"):
        toolchain.ensure(cache_paths, lock, "13.0", offline=True)
    assert not toolchain.pinned(cache_paths, lock, "13.0").prefix.exists()


def test_an_nvcc_of_another_version_is_a_clear_error(tmp_path, cache_paths):
    wheels = fake_wheels(tmp_path / "w", nvcc_script=NVCC_SCRIPT.replace(b"13.0.88", b"13.0.48"))
    lock = lock_for(wheels)
    with pytest.raises(SourceError) as info:
        toolchain.ensure(cache_paths, lock, "13.0", offline=True, mirrors=[wheels[0].parent])
    text = str(info.value)
    assert "the assembled cuda-13.0 nvcc is not nvidia-cuda-nvcc 13.0.88" in text
    assert "V13.0.48" in text and "fix: pin the version of nvidia-cuda-nvcc" in text
    tc = toolchain.pinned(cache_paths, lock, "13.0")
    assert not tc.prefix.exists() and os.listdir(tc.prefix.parent) == []


def test_an_nvcc_that_does_not_run_is_a_clear_error(tmp_path, cache_paths):
    wheels = fake_wheels(tmp_path / "w", nvcc_script=b"#!/bin/sh\nexit 3\n")
    with pytest.raises(SourceError, match=r"`nvcc --version` \(exit 3\) says: nothing"):
        toolchain.ensure(
            cache_paths, lock_for(wheels), "13.0", offline=True, mirrors=[wheels[0].parent]
        )


def test_verify_reassembles_a_changed_tree_and_keeps_it_aside(wheels, cache_paths):
    lock = lock_for(wheels)
    tc = toolchain.ensure(cache_paths, lock, "13.0", offline=True, mirrors=[wheels[0].parent])
    header = tc.prefix / "include" / "cuda_runtime.h"
    header.write_text("edited by hand")
    assert toolchain.ensure(cache_paths, lock, "13.0", offline=True).prefix == tc.prefix
    assert header.read_text() == "edited by hand"  # without --verify: the manifest is trusted
    toolchain.ensure(cache_paths, lock, "13.0", offline=True, verify=True)
    assert header.read_bytes() == b"/* runtime */\n"
    (aside,) = (cache_paths.source_cache / "quarantine").iterdir()
    assert aside.name.startswith(tc.prefix.name)


def test_a_prefix_without_its_manifest_is_not_taken_for_a_toolchain(wheels, cache_paths):
    lock = lock_for(wheels)
    tc = toolchain.pinned(cache_paths, lock, "13.0")
    (tc.prefix / "bin").mkdir(parents=True)
    (tc.prefix / "bin" / "nvcc").write_text("half of something")
    assert not tc.assembled
    toolchain.ensure(cache_paths, lock, "13.0", offline=True, mirrors=[wheels[0].parent])
    assert tc.assembled and (tc.prefix / "bin" / "nvcc").read_bytes() == NVCC_SCRIPT


def test_an_interrupt_while_assembling_leaves_nothing(wheels, cache_paths, monkeypatch):
    lock = lock_for(wheels)

    def interrupted(point):
        if point == "toolchain-assembled":
            raise Interrupted(signal.SIGINT)

    monkeypatch.setattr(toolchain.runner, "debug_pause", interrupted)
    with pytest.raises(Interrupted):
        toolchain.ensure(cache_paths, lock, "13.0", offline=True, mirrors=[wheels[0].parent])
    tc = toolchain.pinned(cache_paths, lock, "13.0")
    assert not tc.prefix.exists() and os.listdir(tc.prefix.parent) == []


def test_pinned_names_the_toolchains_there_are(wheels, cache_paths):
    with pytest.raises(UsageError) as info:
        toolchain.pinned(cache_paths, lock_for(wheels), "12.8")
    assert "pins no CUDA 12.8 toolchain" in str(info.value)
    assert "pinned toolchains: cuda-13.0" in str(info.value)


def test_the_repository_pins_a_complete_toolchain_for_the_cuda_target():
    lock = config.load(ROOT).lock
    cuda = str(MATRIX.default_target(cuda_available=True).cuda)
    tc = toolchain.pinned(Paths.from_env(), lock, cuda)
    names = {s.name for s in tc.sources}
    assert {"nvidia-cuda-nvcc", "nvidia-cuda-crt", "nvidia-nvvm"} <= names
    assert {"nvidia-cuda-runtime", "nvidia-cuda-cccl"} <= names
    assert tc.nvcc_version.startswith(cuda + ".")
    assert all(s.version.startswith(cuda + ".") for s in tc.sources)


# -- the --toolchain choice ----------------------------------------------------------------


def test_default_choice_comes_from_the_environment():
    assert toolchain.default_choice({}) == "host"
    assert toolchain.default_choice({"INFERCORE_TOOLCHAIN": "pinned"}) == "pinned"
    for bad in ("", "Pinned", "system"):
        with pytest.raises(UsageError) as info:
            toolchain.default_choice({"INFERCORE_TOOLCHAIN": bad})
        assert f"INFERCORE_TOOLCHAIN={bad!r} is not a toolchain" in str(info.value)
        assert info.value.exit_code == 2


def test_the_cli_choices_are_the_modules():
    args = cli.parser().parse_args(["wheels", "--toolchain", "pinned"])
    assert args.toolchain == "pinned"
    for command in ("wheel", "kernels", "reproducible", "cpp-tests", "plan"):
        action = next(
            a
            for a in cli.parser()._subparsers._group_actions[0].choices[command]._actions
            if a.dest == "toolchain"
        )
        assert tuple(action.choices) == toolchain.CHOICES, command


def test_a_pinned_compiler_makes_auto_a_cuda_target(wheels, cache_paths, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("CUDACXX", raising=False)
    monkeypatch.setattr(nvcc_tool, "DEFAULT", cache_paths.build / "no-cuda" / "nvcc")
    host = toolchain.Compiler()
    assert not host.available()
    assert pipeline.target_and_nvcc(MATRIX, "auto", host) == (MATRIX.target("cpu-x86_64"), None)
    compiler = toolchain.Compiler(
        toolchain.PINNED, cache_paths, lock_for(wheels), offline=True, mirrors=(wheels[0].parent,)
    )
    target, nvcc = pipeline.target_and_nvcc(MATRIX, "auto", compiler)
    assert target.name == "cuda-x86_64"
    assert nvcc == toolchain.pinned(cache_paths, compiler.lock, "13.0").nvcc
    # A CPU target never fetches or assembles anything.
    assert pipeline.target_and_nvcc(MATRIX, "cpu-x86_64", compiler)[1] is None


def test_the_host_compiler_is_today_s_behaviour(tmp_path, monkeypatch):
    fake = tmp_path / "nvcc"
    fake.write_bytes(NVCC_SCRIPT)
    fake.chmod(0o755)
    monkeypatch.setenv("CUDACXX", str(fake))
    compiler = toolchain.Compiler()
    assert compiler.available() and compiler.nvcc("13.0") == fake
    assert "CUDACXX" in compiler.where()


def _cli(capsys, paths, *argv):
    code = cli.run(list(argv), paths)
    out, err = capsys.readouterr()
    return code, out, err


def test_a_bad_toolchain_setting_is_a_usage_error(capsys, cache_paths, monkeypatch):
    monkeypatch.setenv("INFERCORE_TOOLCHAIN", "cuda")
    code, _, err = _cli(capsys, cache_paths, "plan")
    assert code == 2 and "INFERCORE_TOOLCHAIN='cuda' is not a toolchain" in err
    code, _, err = _cli(capsys, cache_paths, "plan", "--toolchain", "pinnd")
    assert code == 2 and "did you mean 'pinned'?" in err


def test_plan_shows_the_pinned_nvcc_and_whether_it_is_assembled(capsys, cache_paths):
    code, out, err = _cli(capsys, cache_paths, "plan", "--json", "--toolchain", "pinned")
    assert code == 0, err
    plan = json.loads(out)
    tc = toolchain.pinned(cache_paths, config.load(ROOT).lock, "13.0")
    assert plan["toolchain"] == "pinned" and plan["default_target"] == "cuda-x86_64"
    assert plan["nvcc"] == {
        "path": str(tc.nvcc),
        "version": "13.0",
        "toolchain": "pinned",
        "assembled": False,
    }
    (entry,) = plan["pinned_toolchains"]
    assert entry["name"] == "cuda-13.0" and entry["prefix"] == str(tc.prefix)
    assert "nvidia-cuda-nvcc 13.0.88" in entry["wheels"] and entry["assembled"] is False
    used = {s["name"]: s["used_by"] for s in plan["sources"]}
    assert used["nvidia-nvvm"] == ["toolchain cuda-13.0"]
    assert not (cache_paths.source_cache / "toolchains").exists()  # plan assembles nothing
    code, out, _ = _cli(capsys, cache_paths, "plan", "--toolchain", "pinned")
    text = " ".join(out.split())  # rich folds long lines
    assert code == 0 and "assembled on first use" in text and "pinned toolchain cuda-13.0" in text


def test_the_toolchain_command_checks_its_cuda_version(capsys, cache_paths):
    code, _, err = _cli(capsys, cache_paths, "toolchain", "--cuda", "12.8", "--offline")
    assert code == 2 and "pins no CUDA 12.8 toolchain" in err
    code, _, err = _cli(capsys, cache_paths, "toolchain", "--cuda", "9.9")
    assert code == 2 and "CUDA 9.9 is not in build-matrix.toml's [cuda-toolkits]" in err


def test_the_toolchain_command_offline_lists_what_is_missing(capsys, cache_paths):
    code, _, err = _cli(capsys, cache_paths, "toolchain", "--offline")
    assert code == 5, err
    assert "offline, and 5 pinned source(s) are neither in the cache" in err
    assert "nvidia-cuda-nvcc 13.0.88" in err


def test_the_toolchain_command_prints_the_prefix_alone(wheels, tmp_path):
    """--print-prefix through the real CLI, on a checkout whose lock pins the fake wheels."""
    tree = tmp_path / "checkout"
    tree.mkdir()
    shutil.copyfile(ROOT / "build-matrix.toml", tree / "build-matrix.toml")
    lines = []
    for src in lock_for(wheels).source:
        lines += [
            "[[source]]",
            *(
                f"{k} = {json.dumps(v)}"
                for k, v in src.model_dump(exclude_none=True).items()
                if k != "conan_recipe"
            ),
            "",
        ]
    (tree / "sources.lock.toml").write_text("\n".join(lines))
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]);"
        "from buildsys import cli; from buildsys.util import runner;"
        "from buildsys.util.paths import Paths; runner.install_signal_handlers();"
        "p = Paths(root=Path(sys.argv[2]), build=Path(sys.argv[3]),"
        " source_cache=Path(sys.argv[4]));"
        "sys.exit(cli.run(sys.argv[5:], p))"
    )
    base = [sys.executable, "-c", script, ROOT / "scripts", tree, tmp_path / "b", tmp_path / "c"]
    cmd = [
        *map(str, base),
        "toolchain",
        "--print-prefix",
        "--offline",
        "--mirror",
        str(wheels[0].parent),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    prefix = Path(done.stdout.strip())
    assert done.stdout == f"{prefix}\n" and (prefix / "bin" / "nvcc").is_file()
    assert "assembling the cuda-13.0 toolchain" in done.stderr

    # SIGINT while the tree is complete but not yet in place: exit 130, nothing left.
    shutil.rmtree(prefix)
    env = {**os.environ, "INFERCORE_DEBUG_PAUSE": "toolchain-assembled", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "paused at toolchain-assembled" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "interrupted" in out
    assert os.listdir(prefix.parent) == []
