"""`nox -s deps` (conan.py): bad input fails early, naming the problem and the fix.

Where Conan's behaviour is the point (lockfile checks, a source whose hash does not
match) the tests run the real conan against a recipes index of their own, with
trivial recipes, in a Conan home of their own.
"""

import hashlib
import http.server
import json
import shutil
import textwrap
import threading
from pathlib import Path

import pytest
from buildsys import conan, conanprofiles, sources
from buildsys.errors import BuildError
from buildsys.project import ROOT
from conan_helpers import conan_home, needs_conan

__all__ = ["conan_home"]  # a fixture, used by name


# --- targets and remotes -------------------------------------------------------------


def test_an_unknown_target_fails_before_anything_runs(conan_home):
    with pytest.raises(BuildError, match="unknown build target 'cpu-riscv'") as info:
        conan.install("cpu-riscv")
    assert "cpu-x86_64" in info.value.why and "cuda-x86_64" in info.value.why
    assert not conan_home.exists()  # no Conan home, no download: nothing was started


@pytest.mark.skipif(conanprofiles.host_arch() != "x86_64", reason="written for x86-64 hosts")
def test_targets_this_machine_cannot_build_say_why(conan_home, monkeypatch):
    with pytest.raises(BuildError, match="builds natively on aarch64; this machine is x86_64"):
        conan.install("cpu-aarch64-armclang")
    monkeypatch.setattr(conan.shutil, "which", lambda _name: None)
    with pytest.raises(BuildError, match=r"aarch64-linux-gnu-g\+\+, which is not") as info:
        conan.install("cpu-aarch64")
    assert "apt-get install g++-aarch64-linux-gnu" in info.value.fix
    assert not conan_home.exists()


def test_remote_order_and_its_lockfile(monkeypatch):
    monkeypatch.delenv(conan.REMOTES_ENV, raising=False)
    assert [r.name for r in conan.remotes()] == ["infercore"]
    assert conan.remotes()[0].is_index
    assert conan.lockfile_for(conan.remotes()) == ROOT / "conan.lock"

    monkeypatch.setenv(conan.REMOTES_ENV, "conancenter, infercore")
    order = conan.remotes()
    assert [(r.name, r.is_index) for r in order] == [("conancenter", False), ("infercore", True)]
    assert conan.lockfile_for(order) == ROOT / "conan-conancenter.lock"

    monkeypatch.setenv(conan.REMOTES_ENV, "infercore,corp=https://conan.example.com/api/conan/x")
    assert conan.remotes()[1].url == "https://conan.example.com/api/conan/x"

    monkeypatch.setenv(conan.REMOTES_ENV, "artifactory")
    with pytest.raises(BuildError, match="unknown remote 'artifactory'") as info:
        conan.remotes()
    assert "artifactory=URL" in info.value.fix


def test_cmake_args_need_a_matching_install(conan_home):
    with pytest.raises(BuildError, match=r"dependencies of cpu-x86_64 are not installed") as i:
        conan.cmake_args("cpu-x86_64")
    assert "nox -s deps -- --target cpu-x86_64" in i.value.fix


# --- sources: sources.lock.toml -> conandata.yml, the download cache ---------------------


def test_committed_conandata_is_what_sources_lock_generates(tmp_path):
    recipes = tmp_path / "recipes"
    shutil.copytree(conan.RECIPES, recipes)
    assert conan.sync_conandata(recipes) == []  # in sync: nothing rewritten

    lock = sources.LOCK_FILE.read_text()
    old = "8a83bf982f37bb70825df71a9709fa90ea9f4447fb3c099e1d720a439d88bad6"
    (tmp_path / "sources.lock.toml").write_text(lock.replace(old, "0" * 64))
    changed = conan.sync_conandata(recipes, lock_path=tmp_path / "sources.lock.toml")
    assert changed == [recipes / "glog" / "all" / "conandata.yml"]
    text = changed[0].read_text()
    assert '"0000000000000000000000000000000000000000000000000000000000000000"' in text
    # Upstream first, then the mirror, as pinned.
    assert text.index("github.com/google/glog") < text.index("deb.debian.org")


def test_a_recipe_version_without_a_pinned_source_is_an_error(tmp_path):
    recipes = tmp_path / "recipes"
    shutil.copytree(conan.RECIPES, recipes)
    config = recipes / "glog" / "config.yml"
    config.write_text(config.read_text() + '  "0.7.1":\n    folder: all\n')
    with pytest.raises(BuildError, match=r"offers version\(s\) 0\.7\.1 that sources\.lock\.toml"):
        conan.sync_conandata(recipes)


def _lock_with(tmp_path, content: bytes, name="zlib") -> Path:
    sha = hashlib.sha256(content).hexdigest()
    lock = tmp_path / "sources.lock.toml"
    lock.write_text(
        textwrap.dedent(f"""\
            [[source]]
            name = "{name}"
            version = "1.0"
            kind = "tarball"
            filename = "{name}-1.0.tar.gz"
            sha256 = "{sha}"
            urls = ["https://example.invalid/{name}-1.0.tar.gz"]
            conan-recipe = "{name}"
            """)
    )
    return lock


def test_offline_a_missing_source_is_listed_before_conan_runs(tmp_path, conan_home):
    lock = _lock_with(tmp_path, b"not downloaded anywhere")
    with pytest.raises(BuildError, match="offline, and 1 recipe source\\(s\\)") as info:
        conan.prepare_sources(offline=True, lock_path=lock)
    assert "zlib-1.0.tar.gz" in info.value.why
    assert hashlib.sha256(b"not downloaded anywhere").hexdigest() in info.value.why
    assert "--mirror DIR" in info.value.fix
    # Online the same source is left to Conan, which downloads it from its URLs.
    assert [e.source.name for e in conan.prepare_sources(offline=False, lock_path=lock)] == ["zlib"]


def test_a_mirror_fills_the_download_cache_with_verified_bytes_only(tmp_path, conan_home):
    content = b"the pinned archive"
    lock = _lock_with(tmp_path, content)
    sha = hashlib.sha256(content).hexdigest()
    bad_mirror = tmp_path / "bad-mirror"
    bad_mirror.mkdir()
    (bad_mirror / "zlib-1.0.tar.gz").write_bytes(b"tampered")
    with pytest.raises(BuildError, match="offline"):
        conan.prepare_sources(offline=True, mirrors=[bad_mirror], lock_path=lock)
    assert not (conan.download_cache() / "s" / sha).exists()  # bad bytes never land

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "zlib-1.0.tar.gz").write_bytes(content)
    assert conan.prepare_sources(offline=True, mirrors=[mirror], lock_path=lock) == []
    cached = conan.download_cache() / "s" / sha
    assert cached.read_bytes() == content

    cached.write_bytes(b"corrupted on disk")  # Conan would trust this on a cache hit
    assert conan.prepare_sources(offline=True, lock_path=lock) == []  # from the sources cache
    assert cached.read_bytes() == content


# --- lockfile and source checks with the real conan ------------------------------------

RECIPE = """\
from conan import ConanFile


class Pkg(ConanFile):
    name = "{name}"
    package_type = "header-library"
{body}
"""


def _index(tmp_path: Path, recipes: dict[str, str]) -> Path:
    index = tmp_path / "index"
    for ref, body in recipes.items():
        name, version = ref.split("/")
        folder = index / "recipes" / name
        (folder / "all").mkdir(parents=True, exist_ok=True)
        (folder / "config.yml").write_text(f'versions:\n  "{version}":\n    folder: all\n')
        (folder / "all" / "conanfile.py").write_text(RECIPE.format(name=name, body=body))
    return index


def _project(tmp_path: Path, requires: list[str]) -> Path:
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    lines = "".join(f'        self.requires("{r}")\n' for r in requires) or "        pass\n"
    (project / "conanfile.py").write_text(
        "from conan import ConanFile\n\n\nclass App(ConanFile):\n"
        '    settings = "os", "arch", "compiler", "build_type"\n\n'
        f"    def requirements(self):\n{lines}"
    )
    return project


@pytest.fixture
def index_remote(tmp_path, conan_home, monkeypatch):
    """Conan home with a recipes index of liba/1.0 and libb/1.0 as its only remote."""
    index = _index(tmp_path, {"liba/1.0": "", "libb/1.0": ""})
    monkeypatch.setenv(conan.REMOTES_ENV, f"testindex={index}")
    log = tmp_path / "conan.log"
    conan.setup_home(log=log)
    profiles = conanprofiles.write_profiles(tmp_path / "profiles")
    return index, {"cpu-x86_64": profiles["cpu-x86_64"], "build": profiles["build"]}, log


@needs_conan
def test_a_lockfile_that_no_longer_matches_conanfile_py_is_refused(tmp_path, index_remote):
    index, profiles, log = index_remote
    lock = tmp_path / "conan.lock"
    project = _project(tmp_path, ["liba/1.0"])
    conan.create_lock(lock, profiles, log=log, project=project)
    assert any(r.startswith("liba/1.0#") for r in json.loads(lock.read_text())["requires"])
    conan.resolve_against_lock("cpu-x86_64", profiles, lock, log=log, project=project)  # matches

    _project(tmp_path, ["liba/1.0", "libb/1.0"])  # a new requirement, not locked
    with pytest.raises(BuildError, match=r"conan\.lock no longer matches conanfile\.py") as info:
        conan.resolve_against_lock("cpu-x86_64", profiles, lock, log=log, project=project)
    assert "libb/1.0" in info.value.why
    assert "--update-lock" in info.value.fix

    _project(tmp_path, [])  # liba dropped: the lockfile pins something not required
    with pytest.raises(BuildError, match=r"no longer matches conanfile\.py") as info:
        conan.resolve_against_lock("cpu-x86_64", profiles, lock, log=log, project=project)
    assert "it pins liba/1.0#" in info.value.why

    # A recipe edited in the index: the lockfile pins its old revision.
    recipe = index / "recipes" / "liba" / "all" / "conanfile.py"
    recipe.write_text(recipe.read_text() + "    # edited\n")
    with pytest.raises(BuildError, match="no longer matches the recipes") as info:
        conan.check_index_revisions(lock, "testindex", target="cpu-x86_64", log=log)
    assert "liba/1.0: locked #" in info.value.why


class _Serve(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@needs_conan
def test_a_source_whose_hash_does_not_match_fails_before_any_build(
    tmp_path, conan_home, monkeypatch
):
    served = tmp_path / "served"
    served.mkdir()
    (served / "badsrc-1.0.tar.gz").write_bytes(b"what the server has today")
    handler = lambda *a, **kw: _Serve(*a, directory=str(served), **kw)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/badsrc-1.0.tar.gz"
        pinned = hashlib.sha256(b"what was pinned").hexdigest()
        body = textwrap.dedent(f"""\
                def source(self):
                    from conan.tools.files import download
                    download(self, "{url}", "badsrc.tar.gz", sha256="{pinned}")

                def build(self):
                    raise RuntimeError("built although its source did not verify")
            """)
        index = _index(tmp_path, {"badsrc/1.0": textwrap.indent(body, "    ")})
        monkeypatch.setenv(conan.REMOTES_ENV, f"testindex={index}")
        log = tmp_path / "conan.log"
        conan.setup_home(log=log)
        profiles = conanprofiles.write_profiles(tmp_path / "profiles")
        profiles = {"cpu-x86_64": profiles["cpu-x86_64"], "build": profiles["build"]}
        project = _project(tmp_path, ["badsrc/1.0"])
        lock = tmp_path / "conan.lock"
        conan.create_lock(lock, profiles, log=log, project=project)
        with pytest.raises(BuildError, match="does not match its pinned sha256") as info:
            conan.resolve_against_lock("cpu-x86_64", profiles, lock, log=log, project=project)
        assert pinned in info.value.why
        assert "sources.lock.toml" in info.value.fix
        assert "built although" not in log.read_text()
        assert not (conan.download_cache() / "s" / pinned).exists()
    finally:
        server.shutdown()
