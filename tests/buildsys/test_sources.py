"""The pinned-download cache, against file:// URLs (real downloads through urllib)."""

import hashlib
import threading
import zipfile

import pytest
from buildsys import sources
from buildsys.errors import BuildError


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("INFERCORE_SOURCE_CACHE", str(tmp_path / "cache"))


def _artifact(tmp_path, name="pkg-1.0.whl", payload=b"real bytes " * 1000):
    path = tmp_path / "upstream" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(payload)
    return path, hashlib.sha256(payload).hexdigest()


def _source(path, sha, *, urls=None, kind="wheel", root=""):
    return sources.Source(
        name="pkg",
        version="1.0",
        kind=kind,
        filename=path.name,
        sha256=sha,
        urls=tuple(urls or [path.as_uri()]),
        root=root,
    )


def test_fetch_verifies_and_stores_by_hash(tmp_path):
    path, sha = _artifact(tmp_path)
    cached = sources.fetch(_source(path, sha))
    assert cached == sources.cache_dir() / "sha256" / sha
    assert cached.read_bytes() == path.read_bytes()
    path.unlink()  # a second fetch is served from the cache, offline too
    assert sources.fetch(_source(path, sha), offline=True) == cached


def test_hash_mismatch_names_file_url_and_both_hashes_and_keeps_nothing(tmp_path):
    path, _ = _artifact(tmp_path)
    wrong = "0" * 64
    with pytest.raises(BuildError) as info:
        sources.fetch(_source(path, wrong))
    message = str(info.value)
    assert path.name in message and path.as_uri() in message
    assert f"expected {wrong}" in message
    assert hashlib.sha256(path.read_bytes()).hexdigest() in message
    leftovers = [p for p in (sources.cache_dir() / "sha256").iterdir()]
    assert leftovers == [], "bad bytes must never stay in the cache"


def test_falls_back_to_the_next_url(tmp_path):
    path, sha = _artifact(tmp_path)
    dead = (tmp_path / "nowhere" / path.name).as_uri()
    assert sources.fetch(_source(path, sha, urls=[dead, path.as_uri()])).is_file()


def test_offline_lists_exactly_what_is_missing(tmp_path, monkeypatch):
    lock = tmp_path / "sources.lock.toml"
    lock.write_text(
        '[[source]]\nname = "a"\nversion = "1"\nkind = "sdist"\nfilename = "a-1.tar.gz"\n'
        f'sha256 = "{"a" * 64}"\nurls = ["https://example.invalid/a-1.tar.gz"]\n'
    )
    monkeypatch.setattr(sources, "LOCK_FILE", lock)
    with pytest.raises(BuildError, match="offline, and 1 pinned source") as info:
        sources.fetch_all(offline=True)
    assert "a-1.tar.gz" in str(info.value) and "a" * 64 in str(info.value)


def test_mirror_directory_serves_offline_and_bad_mirror_copies_are_ignored(tmp_path):
    path, sha = _artifact(tmp_path)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / path.name).write_bytes(b"tampered")
    with pytest.raises(BuildError, match="not available offline"):
        sources.fetch(_source(path, sha), offline=True, mirrors=[mirror])
    (mirror / path.name).write_bytes(path.read_bytes())
    assert sources.fetch(_source(path, sha), offline=True, mirrors=[mirror]).is_file()
    assert (mirror / path.name).exists(), "a mirror is read, never consumed"


def test_concurrent_fetches_share_one_verified_file(tmp_path):
    path, sha = _artifact(tmp_path, payload=b"x" * (3 << 20))
    results, errors = [], []

    def worker():
        try:
            results.append(sources.fetch(_source(path, sha)))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    assert sources.sha256_of(results[0]) == sha


def test_unpack_extracts_the_root_once(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "BUILD_DIR", tmp_path / "build")
    wheel = tmp_path / "upstream" / "lib-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("lib/source/include/lib.h", "#pragma once\n")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    src = _source(wheel, sha, root="lib/source")
    root = sources.unpack(src, sources.fetch(src))
    assert (root / "include" / "lib.h").read_text() == "#pragma once\n"
    with pytest.raises(BuildError, match="has no nothere/"):
        sources.unpack(_source(wheel, sha, root="nothere"), sources.fetch(src))


def test_lock_validation_rejects_bad_entries():
    good = {
        "name": "a",
        "version": "1",
        "kind": "sdist",
        "filename": "a.tgz",
        "sha256": "b" * 64,
        "urls": ["https://x/a.tgz"],
    }
    assert sources.parse_lock({"source": [good]})["a"].sha256 == "b" * 64
    with pytest.raises(BuildError, match="not 64 hex digits"):
        sources.parse_lock({"source": [{**good, "sha256": "abc"}]})
    with pytest.raises(BuildError, match="lacks urls"):
        sources.parse_lock({"source": [{k: v for k, v in good.items() if k != "urls"}]})
    with pytest.raises(BuildError, match="pinned twice"):
        sources.parse_lock({"source": [good, good]})


def test_repository_lock_pins_cutlass_and_flash_attention():
    lock = sources.load_lock()
    assert lock["cutlass"].version == "4.2.0.0" and lock["cutlass"].kind == "wheel"
    assert lock["flash-attention"].version == "2.8.3"
    for src in lock.values():
        assert src.urls[0].startswith("https://") and src.upstream.startswith("https://")
