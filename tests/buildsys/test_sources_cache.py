"""The pinned-download cache (buildsys.sources.cache): real downloads through urllib from a
local HTTP server, into a cache and build tree of the test's own."""

import hashlib
import http.server
import threading
import zipfile

import pytest
from buildsys import config
from buildsys.errors import SourceError, UsageError
from buildsys.sources import cache as sources
from buildsys.util.fs import sha256_file
from buildsys.util.paths import ROOT


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """An HTTP server of tmp/upstream: (directory, base URL)."""
    served = tmp_path / "upstream"
    served.mkdir()
    handler = lambda *a, **kw: _Quiet(*a, directory=str(served), **kw)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _artifact(server, name="pkg-1.0.whl", payload=b"real bytes " * 1000):
    served, base = server
    path = served / name
    path.write_bytes(payload)
    return path, hashlib.sha256(payload).hexdigest(), f"{base}/{name}"


def _source(path, sha, url, *, urls=None, kind="wheel", root="", name="pkg"):
    return config.Source(
        name=name,
        version="1.0",
        kind=kind,
        filename=path.name,
        sha256=sha,
        urls=tuple(urls or [url]),
        root=root,
    )


def test_fetch_verifies_and_stores_by_hash(server, tmp_paths):
    path, sha, url = _artifact(server)
    cached = sources.fetch(tmp_paths, _source(path, sha, url))
    assert cached == tmp_paths.source_cache / "sha256" / sha
    assert cached == sources.cached_path(tmp_paths, _source(path, sha, url))
    assert cached.read_bytes() == path.read_bytes()
    path.unlink()  # a second fetch is served from the cache, offline too
    assert sources.fetch(tmp_paths, _source(path, sha, url), offline=True) == cached


def test_hash_mismatch_names_file_url_and_both_hashes_and_keeps_nothing(server, tmp_paths):
    path, _, url = _artifact(server)
    wrong = "0" * 64
    with pytest.raises(SourceError) as info:
        sources.fetch(tmp_paths, _source(path, wrong, url))
    message = str(info.value)
    assert info.value.exit_code == 5
    assert path.name in message and url in message
    assert f"expected {wrong}" in message
    assert hashlib.sha256(path.read_bytes()).hexdigest() in message
    leftovers = list((tmp_paths.source_cache / "sha256").iterdir())
    assert leftovers == [], "bad bytes must never stay in the cache"


def test_falls_back_to_the_next_url(server, tmp_paths):
    path, sha, url = _artifact(server)
    dead = f"{server[1]}/nowhere/{path.name}"
    assert sources.fetch(tmp_paths, _source(path, sha, url, urls=[dead, url])).is_file()


def test_no_url_works_lists_every_attempt(server, tmp_paths):
    path, sha, _ = _artifact(server)
    dead = [f"{server[1]}/a/{path.name}", f"{server[1]}/b/{path.name}"]
    with pytest.raises(SourceError, match=r"could not fetch a verified pkg-1\.0\.whl") as info:
        sources.fetch(tmp_paths, _source(path, sha, dead[0], urls=dead))
    assert all(u in info.value.why for u in dead)


def _lock(*entries):
    return config.parse_lock({"source": list(entries)})


def _entry(name, sha="a" * 64):
    return {
        "name": name,
        "version": "1",
        "kind": "sdist",
        "filename": f"{name}-1.tar.gz",
        "sha256": sha,
        "urls": [f"https://example.invalid/{name}-1.tar.gz"],
    }


def test_offline_lists_exactly_what_is_missing(tmp_paths):
    lock = _lock(_entry("a"))
    with pytest.raises(SourceError, match="offline, and 1 pinned source") as info:
        sources.fetch_all(tmp_paths, lock, offline=True)
    assert "a-1.tar.gz" in str(info.value) and "a" * 64 in str(info.value)
    assert "https://example.invalid/a-1.tar.gz" in str(info.value)


def test_unknown_names_and_bad_mirrors_are_usage_errors(tmp_paths, tmp_path):
    lock = _lock(_entry("a"))
    with pytest.raises(UsageError, match="unknown source\\(s\\): b") as info:
        sources.fetch_all(tmp_paths, lock, ["b"], offline=True)
    assert "pins: a" in info.value.why
    (tmp_path / "file").write_text("")
    for bad in (tmp_path / "file", tmp_path / "missing"):
        with pytest.raises(UsageError, match="is not a directory"):
            sources.fetch_all(tmp_paths, lock, offline=True, mirrors=[bad])


def test_mirror_directory_serves_offline_and_bad_mirror_copies_are_ignored(
    server, tmp_paths, tmp_path
):
    path, sha, url = _artifact(server)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / path.name).write_bytes(b"tampered")
    with pytest.raises(SourceError, match="not available offline"):
        sources.fetch(tmp_paths, _source(path, sha, url), offline=True, mirrors=[mirror])
    (mirror / path.name).write_bytes(path.read_bytes())
    assert sources.fetch(tmp_paths, _source(path, sha, url), offline=True, mirrors=[mirror])
    assert (mirror / path.name).exists(), "a mirror is read, never consumed"


def test_a_mirror_may_name_files_by_their_hash(server, tmp_paths, tmp_path):
    path, sha, url = _artifact(server)
    mirror = tmp_path / "by-hash"
    mirror.mkdir()
    (mirror / sha).write_bytes(path.read_bytes())
    assert sources.fetch(tmp_paths, _source(path, sha, url), offline=True, mirrors=[mirror])


def test_fill_mirror_writes_verified_files_and_their_sums(server, tmp_paths, tmp_path):
    _, sha_a, url_a = _artifact(server, "a-1.tar.gz", b"aaa")
    _, sha_b, url_b = _artifact(server, "b-1.tar.gz", b"bbb")
    lock = _lock(
        {**_entry("a", sha_a), "urls": [url_a]},
        {**_entry("b", sha_b), "urls": [url_b]},
    )
    mirror = tmp_path / "mirror"
    written = sources.fill_mirror(tmp_paths, lock, mirror)
    assert sorted(p.name for p in written) == ["a-1.tar.gz", "b-1.tar.gz"]
    assert (mirror / "a-1.tar.gz").read_bytes() == b"aaa"
    assert (mirror / "SHA256SUMS").read_text() == f"{sha_a}  a-1.tar.gz\n{sha_b}  b-1.tar.gz\n"
    # The filled mirror serves a fresh cache offline.
    fresh = type(tmp_paths)(
        root=tmp_paths.root, build=tmp_paths.build, source_cache=tmp_path / "fresh"
    )
    assert set(sources.fetch_all(fresh, lock, offline=True, mirrors=[mirror])) == {"a", "b"}
    (tmp_path / "a-file").write_text("")
    with pytest.raises(UsageError, match="is a file"):
        sources.fill_mirror(tmp_paths, lock, tmp_path / "a-file")


def test_concurrent_fetches_share_one_verified_file(server, tmp_paths):
    path, sha, url = _artifact(server, payload=b"x" * (3 << 20))
    results, errors = [], []

    def worker():
        try:
            results.append(sources.fetch(tmp_paths, _source(path, sha, url)))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(set(results)) == 1
    assert sha256_file(results[0]) == sha


def test_unpack_extracts_the_root_once(server, tmp_paths):
    served, base = server
    wheel = served / "lib-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("lib/source/include/lib.h", "#pragma once\n")
    sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
    src = _source(wheel, sha, f"{base}/{wheel.name}", root="lib/source")
    root = sources.unpack(tmp_paths, src, sources.fetch(tmp_paths, src))
    assert root.is_relative_to(tmp_paths.unpacked_sources)
    assert (root / "include" / "lib.h").read_text() == "#pragma once\n"
    (root / "include" / "lib.h").write_text("changed\n")
    again = sources.unpack(tmp_paths, src, sources.fetch(tmp_paths, src))
    assert again == root and (again / "include" / "lib.h").read_text() == "changed\n"  # once
    with pytest.raises(SourceError, match="has no nothere/"):
        sources.unpack(
            tmp_paths,
            _source(wheel, sha, f"{base}/{wheel.name}", root="nothere"),
            sources.fetch(tmp_paths, src),
        )


def test_a_pinned_file_that_is_no_archive_is_a_clean_error(server, tmp_paths):
    path, sha, url = _artifact(server, "broken-1.0.tar.gz", b"not a tarball")
    src = _source(path, sha, url, kind="sdist", name="broken")
    archive = sources.fetch(tmp_paths, src)
    with pytest.raises(SourceError, match="could not be unpacked") as info:
        sources.unpack(tmp_paths, src, archive)
    assert "sources.lock.toml" in info.value.fix and "broken" in info.value.fix
    assert not list(tmp_paths.unpacked_sources.glob("broken-*/.infercore-unpacked"))


def test_repository_lock_pins_cutlass_and_flash_attention():
    lock = config.load(ROOT).lock
    assert lock["cutlass"].version == "4.2.0.0" and lock["cutlass"].kind == "wheel"
    assert lock["flash-attention"].version == "2.8.3"
    for src in lock.values():
        assert src.urls[0].startswith("https://")
        # pybind11 pins only its PyPI sdist: its GitHub archive is another file.
        assert src.upstream == "" or src.upstream.startswith("https://")
    assert lock["cutlass"].upstream.startswith("https://")
