"""buildsys.wheels.publish: verified wheels reach dist/ atomically, all of a run or none."""

import os
import signal

import pytest
from buildsys.errors import Interrupted
from buildsys.util import runner
from buildsys.wheels import publish


def _wheel(directory, name, payload=b"PK-complete"):
    path = directory / name
    path.write_bytes(payload)
    return path


@pytest.fixture
def dirs(tmp_path):
    staging, dist = tmp_path / "staging", tmp_path / "dist"
    staging.mkdir()
    return staging, dist


def test_publish_moves_complete_wheels_and_replaces_older_ones(dirs):
    staging, dist = dirs
    dist.mkdir()
    old = _wheel(dist, "infercore-0.0.9-cp311-cp311-manylinux_2_35_x86_64.whl", b"old")
    other = _wheel(dist, "infercore-0.0.9-cp310-cp310-manylinux_2_35_x86_64.whl", b"keep")
    unrelated = _wheel(dist, "numpy-2.0.0-cp311-cp311-manylinux_2_17_x86_64.whl", b"np")
    new = _wheel(staging, "infercore-0.1.0-cp311-cp311-manylinux_2_35_x86_64.whl", b"new")

    published = publish.publish([new], dist)

    assert [p.name for p in published] == [new.name]
    assert (dist / new.name).read_bytes() == b"new"
    assert not old.exists(), "an older wheel for the same Python must not linger"
    assert other.exists() and unrelated.exists()
    assert new.exists(), "the staged wheel is copied, not moved"


def test_leftover_partial_files_are_cleaned_and_never_look_like_wheels(tmp_path):
    dist = tmp_path / "dist"
    dist.mkdir()
    leftover = dist / ".infercore-0.1.0-cp312-cp312-linux_x86_64.whl.partial"
    leftover.write_bytes(b"half")
    assert list(dist.glob("*.whl")) == []
    publish.clean_partials(dist)
    assert not leftover.exists()


def test_publish_is_a_rename_in_dist(dirs, monkeypatch):
    """The file only appears under its .whl name through os.replace (atomic)."""
    staging, dist = dirs
    wheel = _wheel(staging, "infercore-0.1.0-cp312-cp312-linux_x86_64.whl")
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.basename(src), os.path.basename(dst)))
        return real_replace(src, dst)

    monkeypatch.setattr(publish.os, "replace", spy)
    publish.publish([wheel], dist)
    assert seen == [(f".{wheel.name}.partial", wheel.name)]


def test_an_interrupted_publish_publishes_nothing(dirs):
    staging, dist = dirs
    wheels = [_wheel(staging, f"infercore-0.1.0-cp3{v}-cp3{v}-linux_x86_64.whl") for v in (10, 11)]
    runner._interrupted = signal.SIGINT  # the signal arrived while the copies ran
    try:
        with pytest.raises(Interrupted):
            publish.publish(wheels, dist)
    finally:
        runner._interrupted = None
    assert list(dist.iterdir()) == [], "no wheel and no partial file is left in dist/"
    assert len(publish.publish(wheels, dist)) == 2  # the next run publishes them all
