"""buildsys.util.fs: atomic writes, sha256, stamps, paths that must stay inside, file locks."""

import hashlib
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
from buildsys.errors import BuildError
from buildsys.util import fs


@pytest.fixture
def umask():
    old = os.umask(0o022)
    os.umask(old)

    def set_umask(value):
        os.umask(value)

    yield set_umask
    os.umask(old)


def test_sha256_file_streams_in_chunks(tmp_path):
    data = os.urandom(fs.CHUNK * 2 + 123)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert fs.sha256_file(path) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_write_follows_the_umask_not_mkstemps_0600(tmp_path, umask, mask, mode):
    umask(mask)
    path = fs.atomic_write(tmp_path / "sub" / "f.txt", "text")
    assert path == tmp_path / "sub" / "f.txt"
    assert path.stat().st_mode & 0o777 == mode


def test_atomic_write_replaces_whole_files_and_leaves_no_temp_files(tmp_path):
    path = tmp_path / "f.bin"
    fs.atomic_write(path, b"old bytes")
    fs.atomic_write(path, "new text")
    assert path.read_text() == "new text"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_a_failed_atomic_write_keeps_the_old_content(tmp_path):
    path = tmp_path / "f.txt"
    fs.atomic_write(path, "old")
    with pytest.raises(TypeError):
        fs.atomic_write(path, 12345)  # not str or bytes: the write itself fails
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_write_if_changed_leaves_an_identical_file_alone(tmp_path):
    path = tmp_path / "gen.txt"
    assert fs.write_if_changed(path, "a\n") is True
    os.utime(path, ns=(10**9, 10**9))
    assert fs.write_if_changed(path, "a\n") is False
    assert path.stat().st_mtime_ns == 10**9  # untouched: its timestamp means something
    assert fs.write_if_changed(path, "b\n") is True
    assert path.read_text() == "b\n"


def test_stamp_is_current_only_for_the_same_inputs_and_existing_outputs(tmp_path):
    out = tmp_path / "build.ninja"
    stamp = fs.Stamp(tmp_path / "stamp.json", outputs=(out,))
    inputs = {"args": ["-DX=1"], "env": {"A": "b"}, "where": tmp_path}
    assert not stamp.current(inputs)  # never recorded
    out.write_text("")
    stamp.record(inputs)
    assert stamp.current(inputs)
    assert stamp.current({"where": tmp_path, "env": {"A": "b"}, "args": ["-DX=1"]})  # key order
    assert not stamp.current({**inputs, "args": ["-DX=2"]})
    out.unlink()
    assert not stamp.current(inputs), "a missing output makes the stamp stale"
    out.write_text("")
    assert stamp.current(inputs)
    stamp.invalidate()
    assert not stamp.current(inputs)
    stamp.invalidate()  # no stamp: fine


def test_stamp_without_outputs(tmp_path):
    stamp = fs.Stamp(tmp_path / "deep" / "stamp.json")
    stamp.record(["x"])
    assert stamp.current(["x"]) and not stamp.current(["y"])


def test_inside_refuses_escapes(tmp_path):
    base = tmp_path / "base"
    base.mkdir()
    assert fs.inside(base, base / "name", what="x") == (base / "name").resolve()
    assert fs.inside(base, base / "a" / ".." / "b", what="x") == (base / "b").resolve()
    for escape in (base / ".." / "evil", base / "a" / ".." / ".." / "evil", Path("/etc/passwd")):
        with pytest.raises(BuildError, match="is outside") as info:
            fs.inside(base, escape, what="the profile of target t")
        assert str(info.value).startswith("the profile of target t: ")
        assert "plain name" in info.value.fix
    (base / "link").symlink_to(tmp_path)
    with pytest.raises(BuildError, match="is outside"):
        fs.inside(base, base / "link" / "evil", what="x")


def test_locked_excludes_a_second_holder_and_says_it_waits(tmp_path, capsys):
    lock = tmp_path / "locks" / "x.lock"
    entered = []

    def second():
        with fs.locked(lock, label="other", what="building the same thing"):
            entered.append(time.monotonic())

    with fs.locked(lock, label="first", what="building"):
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(1.5)
        assert entered == [], "the second holder got in while the first held the lock"
        released = time.monotonic()
    thread.join(timeout=10)
    assert entered and entered[0] >= released
    assert f"waiting for another run that is building the same thing ({lock})" in (
        capsys.readouterr().out.replace("\n", "")
    )
    with fs.locked(lock, label="again", what="x"):  # released: free again at once
        pass


def test_an_owner_tag_is_dead_only_for_a_gone_process_of_this_host():
    mine = fs.owner_tag("abc123")
    assert fs.owner_tag("abc123") == mine and not fs.owner_is_dead(mine)
    gone = subprocess.Popen(["true"])
    gone.wait()
    host = mine.split(".")[0]
    assert fs.owner_is_dead(f"{host}.{gone.pid}.abc123")
    # Another host's process, or a label of another form, is never taken for dead.
    assert not fs.owner_is_dead(f"elsewhere.{gone.pid}.abc123")
    for other in ("run1", f"{host}.{gone.pid}", f"{host}.x.abc", ""):
        assert not fs.owner_is_dead(other), other
