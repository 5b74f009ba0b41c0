"""The sources cache never serves or spreads a corrupt file, cleans up after dead
processes, keeps its files readable by others, and unpacks safely under concurrency.

Cache hits are trusted by the size and mtime recorded when the bytes were verified; a
changed one is hashed in full, and `--verify` (verify=True) hashes every hit. A corrupt
entry is quarantined (moved aside, never used) and fetched again, or offline reported
with the fix. Archives are hashed before they are unpacked.
"""

import hashlib
import io
import os
import subprocess
import sys
import time
import zipfile

import pytest
from buildsys import config
from buildsys.errors import SourceError
from buildsys.sources import cache as sources
from buildsys.util import fs
from buildsys.util.paths import ROOT, Paths
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _wheel_bytes(files: int = 20) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(files):
            zf.writestr(f"pkg/file{i}.txt", f"content {i} " * 200)
    return buf.getvalue()


PAYLOAD = _wheel_bytes()
SHA = hashlib.sha256(PAYLOAD).hexdigest()


def _source(name: str = "pkg") -> config.Source:
    return config.Source(
        name=name,
        version="1.0",
        kind="wheel",
        filename=f"{name}-1.0-py3-none-any.whl",
        sha256=SHA,
        urls=("https://unreachable.invalid/pkg.whl",),
        root="pkg",
    )


@pytest.fixture
def mirror(tmp_path):
    m = tmp_path / "mirror"
    m.mkdir()
    (m / _source().filename).write_bytes(PAYLOAD)
    return m


def _paths(tmp_path) -> Paths:
    return Paths(root=ROOT, build=tmp_path / "build", source_cache=tmp_path / "cache")


def _cached(tmp_path, mirror) -> tuple[Paths, config.Source, "os.PathLike"]:
    paths, src = _paths(tmp_path), _source()
    return paths, src, sources.fetch(paths, src, offline=True, mirrors=[mirror])


def _flip(path, offset: int, mask: int, *, keep_mtime: bool) -> None:
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= mask
    path.write_bytes(bytes(data))
    if keep_mtime:
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(
    offset=st.integers(min_value=0, max_value=len(PAYLOAD) - 1),
    mask=st.integers(min_value=1, max_value=255),
)
def test_a_changed_cache_entry_is_quarantined_and_refetched(tmp_path_factory, offset, mask):
    tmp = tmp_path_factory.mktemp("flip")
    mirror = tmp / "mirror"
    mirror.mkdir()
    (mirror / _source().filename).write_bytes(PAYLOAD)
    paths, src, cached = _cached(tmp, mirror)
    time.sleep(0.002)  # a new mtime, as an edit or a bad write gives
    _flip(cached, offset, mask, keep_mtime=False)
    again = sources.fetch(paths, src, offline=True, mirrors=[mirror])
    assert fs.sha256_file(again) == SHA
    assert len(list((paths.source_cache / "quarantine").iterdir())) == 1


@FUZZ
@given(
    offset=st.integers(min_value=0, max_value=len(PAYLOAD) - 1),
    mask=st.integers(min_value=1, max_value=255),
)
def test_bit_rot_is_caught_by_verify_and_never_unpacked(tmp_path_factory, offset, mask):
    tmp = tmp_path_factory.mktemp("rot")
    mirror = tmp / "mirror"
    mirror.mkdir()
    (mirror / _source().filename).write_bytes(PAYLOAD)
    paths, src, cached = _cached(tmp, mirror)
    _flip(cached, offset, mask, keep_mtime=True)  # same size, same mtime: bit rot
    with pytest.raises(SourceError, match="nothing was unpacked"):
        sources.unpack(paths, src, cached)
    assert not list(paths.unpacked_sources.glob("pkg-*/.infercore-unpacked"))
    good = sources.fetch(paths, src, offline=True, mirrors=[mirror], verify=True)
    assert fs.sha256_file(good) == SHA
    root = sources.unpack(paths, src, good)
    assert len(list(root.iterdir())) == 20


def test_offline_a_corrupt_entry_is_an_error_with_the_fix(tmp_path, mirror):
    paths, src, cached = _cached(tmp_path, mirror)
    _flip(cached, 10, 1, keep_mtime=False)
    with pytest.raises(SourceError) as info:
        sources.fetch(paths, src, offline=True)
    assert "fix:" in str(info.value) and not cached.exists()


def test_a_mirror_is_never_filled_from_a_corrupt_entry(tmp_path, mirror):
    paths, src, cached = _cached(tmp_path, mirror)
    _flip(cached, 10, 1, keep_mtime=True)  # undetectable by size and mtime
    lock = config.SourcesLock(source=(src,))
    out = tmp_path / "out"
    # fill_mirror hashes in full, quarantines, and (here offline-only URLs) cannot refetch.
    with pytest.raises(SourceError):
        sources.fill_mirror(paths, lock, out)
    assert not (out / src.filename).exists()


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path, mirror):
    paths, src, cached = _cached(tmp_path, mirror)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    ).stdout.strip()
    host = fs._host()
    stale_file = cached.parent / f".{SHA[:12]}.{host}.{dead}.abc123"
    stale_file.write_bytes(b"half a download")
    mine = cached.parent / f".{SHA[:12]}.{host}.{os.getpid()}.def456"
    mine.write_bytes(b"in progress")
    other_host = cached.parent / f".{SHA[:12]}.otherhost.{dead}.ghi789"
    other_host.write_bytes(b"someone else's")
    stale_dir = paths.unpacked_sources / f".pkg-1.0.{host}.{dead}.xyz"
    stale_dir.mkdir(parents=True)
    (stale_dir / "partial").write_text("x")
    sources.fetch(paths, src, offline=True)
    sources.unpack(paths, src, cached)
    assert not stale_file.exists() and not stale_dir.exists()
    assert mine.exists() and other_host.exists()


def test_cache_files_and_trees_follow_the_umask(tmp_path, mirror):
    old = os.umask(0o022)
    try:
        paths, src, cached = _cached(tmp_path, mirror)
        root = sources.unpack(paths, src, cached)
    finally:
        os.umask(old)
    assert cached.stat().st_mode & 0o777 == 0o644
    assert root.parent.stat().st_mode & 0o777 == 0o755


def test_concurrent_runs_in_one_checkout_unpack_once(tmp_path, mirror):
    """Four `sources --offline` processes at once in one build tree: all succeed."""
    paths = _paths(tmp_path)
    script = (
        "import sys; from pathlib import Path\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from buildsys import config\n"
        "from buildsys.sources import cache\n"
        "from buildsys.util.paths import Paths\n"
        "paths = Paths(root=Path(sys.argv[2]), build=Path(sys.argv[3]),"
        " source_cache=Path(sys.argv[4]))\n"
        "src = config.Source(name='pkg', version='1.0', kind='wheel',"
        f" filename='pkg-1.0-py3-none-any.whl', sha256='{SHA}',"
        " urls=('https://unreachable.invalid/pkg.whl',), root='pkg')\n"
        "archive = cache.fetch(paths, src, offline=True, mirrors=[Path(sys.argv[5])])\n"
        "print(len(list(cache.unpack(paths, src, archive).iterdir())))\n"
    )
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                script,
                str(ROOT / "scripts"),
                str(ROOT),
                str(paths.build),
                str(paths.source_cache),
                str(mirror),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    assert all(o.strip().endswith("20") for o in outs), outs
    assert len(list(paths.unpacked_sources.glob("pkg-1.0-*"))) == 1
    leftovers = [p for p in paths.unpacked_sources.glob(".pkg*") if p.suffix != ".lock"]
    assert not leftovers, "temporaries left behind"
