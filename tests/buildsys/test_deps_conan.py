"""`nox -s deps` (buildsys.deps.conan): bad input fails early, naming the problem and the fix.

Where Conan's behaviour is the point (lockfile checks, a source whose hash does not
match) the tests run the real conan against a recipes index of their own, with
trivial recipes, in a Conan home of their own.
"""

import dataclasses
import hashlib
import http.server
import json
import shutil
import textwrap
import threading
from pathlib import Path

import pytest
from buildsys import config
from buildsys.deps import conan
from buildsys.deps import profiles as conanprofiles
from buildsys.errors import BuildError, SourceError, ToolMissing, UsageError
from buildsys.util.paths import ROOT
from conan_helpers import conan_ctx, context, needs_conan

__all__ = ["conan_ctx"]  # a fixture, used by name


def with_env(c, **env):
    return dataclasses.replace(c, env={**c.env, **env})


# --- the context -------------------------------------------------------------------------


def test_the_conan_home_is_conan_home_or_the_build_trees(conan_ctx, tmp_path):
    assert conan_ctx.home == (tmp_path / "conan-home").resolve()
    env = {k: v for k, v in conan_ctx.env.items() if k != "CONAN_HOME"}
    assert dataclasses.replace(conan_ctx, env=env).home == tmp_path / "build" / "conan-home"
    with pytest.raises(UsageError, match="CONAN_HOME is set but empty"):
        with_env(conan_ctx, CONAN_HOME="").home  # noqa: B018
    assert conan_ctx.download_cache == tmp_path / "sources-cache" / "conan"
    assert conan_ctx.recipes == ROOT / "conan" / "recipes"
    assert conan_ctx.output_dir("cpu-x86_64") == tmp_path / "build" / "conan" / "cpu-x86_64"


def test_the_pinned_conan():
    assert (
        conan.conan_pin(ROOT)
        == config.read_toml(ROOT / "pyproject.toml")["dependency-groups"]["conan"][0].split("==")[1]
    )


@needs_conan
def test_conan_exe_is_this_environments():
    assert Path(conan.conan_exe(ROOT)).name == "conan"


# --- targets and remotes -------------------------------------------------------------


def test_an_unknown_target_fails_before_anything_runs(conan_ctx):
    with pytest.raises(BuildError, match="unknown build target 'cpu-riscv'") as info:
        conan.install(conan_ctx, "cpu-riscv")
    assert "cpu-x86_64" in info.value.why and "cuda-x86_64" in info.value.why
    assert not conan_ctx.home.exists()  # no Conan home, no download: nothing was started


@pytest.mark.skipif(conanprofiles.host_arch() != "x86_64", reason="written for x86-64 hosts")
def test_targets_this_machine_cannot_build_say_why(conan_ctx, monkeypatch):
    with pytest.raises(BuildError, match="builds natively on aarch64; this machine is x86_64"):
        conan.install(conan_ctx, "cpu-aarch64-armclang")
    monkeypatch.setattr(conan.shutil, "which", lambda _name: None)
    with pytest.raises(ToolMissing, match=r"aarch64-linux-gnu-g\+\+, which is not") as info:
        conan.install(conan_ctx, "cpu-aarch64")
    assert "apt-get install g++-aarch64-linux-gnu" in info.value.fix
    assert not conan_ctx.home.exists()


def test_remote_order_and_its_lockfile(conan_ctx):
    c = conan_ctx
    assert [r.name for r in conan.remotes(c)] == ["infercore"]
    assert conan.remotes(c)[0].is_index
    assert conan.remotes(c)[0].url == str(ROOT / "conan")
    assert conan.lockfile_for(c, conan.remotes(c)) == ROOT / "conan.lock"

    order = conan.remotes(with_env(c, **{conan.REMOTES_ENV: "conancenter, infercore"}))
    assert [(r.name, r.is_index) for r in order] == [("conancenter", False), ("infercore", True)]
    assert conan.lockfile_for(c, order) == ROOT / "conan-conancenter.lock"

    corp = "infercore,corp=https://conan.example.com/api/conan/x"
    assert conan.remotes(with_env(c, **{conan.REMOTES_ENV: corp}))[1].url == (
        "https://conan.example.com/api/conan/x"
    )

    with pytest.raises(UsageError, match="unknown remote 'artifactory'") as info:
        conan.remotes(with_env(c, **{conan.REMOTES_ENV: "artifactory"}))
    assert "artifactory=URL" in info.value.fix
    with pytest.raises(UsageError, match="names no remote"):
        conan.remotes(with_env(c, **{conan.REMOTES_ENV: " , "}))
    with pytest.raises(UsageError, match="names 'infercore' twice"):
        conan.remotes(with_env(c, **{conan.REMOTES_ENV: "infercore,infercore"}))


def test_global_conf_points_conan_at_the_shared_cache_and_backups(conan_ctx):
    text = conan.global_conf_text(conan_ctx)
    assert f"core.sources:download_cache={conan_ctx.download_cache}\n" in text
    assert "download_urls" not in text
    backed = with_env(conan_ctx, **{conan.BACKUP_ENV: "https://a.example, https://b.example"})
    assert (
        'core.sources:download_urls=["https://a.example", "https://b.example", "origin"]'
        in conan.global_conf_text(backed)
    )


def test_cmake_args_need_a_matching_install(conan_ctx):
    with pytest.raises(BuildError, match=r"dependencies of cpu-x86_64 are not installed") as i:
        conan.cmake_args(conan_ctx, "cpu-x86_64")
    assert "nox -s deps -- --target cpu-x86_64" in i.value.fix


# --- sources: sources.lock.toml -> conandata.yml, the download cache ---------------------


def test_committed_conandata_is_what_sources_lock_generates(tmp_path):
    recipes = tmp_path / "recipes"
    shutil.copytree(ROOT / "conan" / "recipes", recipes)
    lock = config.load(ROOT).lock
    assert conan.sync_conandata(recipes, lock) == []  # in sync: nothing rewritten

    text = (ROOT / "sources.lock.toml").read_text()
    old = lock["glog"].sha256
    changed_lock = config.parse_lock(
        config.read_toml(_write(tmp_path, text.replace(old, "0" * 64)))
    )
    changed = conan.sync_conandata(recipes, changed_lock)
    assert changed == [recipes / "glog" / "all" / "conandata.yml"]
    text = changed[0].read_text()
    assert '"0000000000000000000000000000000000000000000000000000000000000000"' in text
    # Upstream first, then the mirror, as pinned.
    assert text.index("github.com/google/glog") < text.index("deb.debian.org")


def _write(tmp_path, text):
    path = tmp_path / "sources.lock.toml"
    path.write_text(text)
    return path


def test_a_recipe_version_without_a_pinned_source_is_an_error(tmp_path):
    recipes = tmp_path / "recipes"
    shutil.copytree(ROOT / "conan" / "recipes", recipes)
    cfg = recipes / "glog" / "config.yml"
    cfg.write_text(cfg.read_text() + '  "0.7.1":\n    folder: all\n')
    with pytest.raises(BuildError, match=r"offers version\(s\) 0\.7\.1 that sources\.lock\.toml"):
        conan.sync_conandata(recipes, config.load(ROOT).lock)


def test_a_pinned_source_for_a_recipe_that_does_not_exist_is_an_error(tmp_path):
    recipes = tmp_path / "recipes"
    shutil.copytree(ROOT / "conan" / "recipes", recipes)
    shutil.rmtree(recipes / "glog")
    with pytest.raises(BuildError, match=r"pins sources for recipe\(s\) glog"):
        conan.sync_conandata(recipes, config.load(ROOT).lock)


def _lock_with(content: bytes, name="zlib") -> config.SourcesLock:
    sha = hashlib.sha256(content).hexdigest()
    return config.parse_lock(
        {
            "source": [
                {
                    "name": name,
                    "version": "1.0",
                    "kind": "tarball",
                    "filename": f"{name}-1.0.tar.gz",
                    "sha256": sha,
                    "urls": [f"https://example.invalid/{name}-1.0.tar.gz"],
                    "conan-recipe": name,
                }
            ]
        }
    )


def test_offline_a_missing_source_is_listed_before_conan_runs(conan_ctx):
    c = dataclasses.replace(conan_ctx, lock=_lock_with(b"not downloaded anywhere"))
    with pytest.raises(SourceError, match="offline, and 1 recipe source\\(s\\)") as info:
        conan.prepare_sources(c, offline=True)
    assert "zlib-1.0.tar.gz" in info.value.why
    assert hashlib.sha256(b"not downloaded anywhere").hexdigest() in info.value.why
    assert "--mirror DIR" in info.value.fix
    # Online the same source is left to Conan, which downloads it from its URLs.
    assert [e.source.name for e in conan.prepare_sources(c, offline=False)] == ["zlib"]


def test_a_mirror_fills_the_download_cache_with_verified_bytes_only(conan_ctx, tmp_path):
    content = b"the pinned archive"
    c = dataclasses.replace(conan_ctx, lock=_lock_with(content))
    sha = hashlib.sha256(content).hexdigest()
    bad_mirror = tmp_path / "bad-mirror"
    bad_mirror.mkdir()
    (bad_mirror / "zlib-1.0.tar.gz").write_bytes(b"tampered")
    with pytest.raises(SourceError, match="offline"):
        conan.prepare_sources(c, offline=True, mirrors=[bad_mirror])
    assert not (c.download_cache / "s" / sha).exists()  # bad bytes never land

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "zlib-1.0.tar.gz").write_bytes(content)
    assert conan.prepare_sources(c, offline=True, mirrors=[mirror]) == []
    cached = c.download_cache / "s" / sha
    assert cached.read_bytes() == content

    cached.write_bytes(b"corrupted on disk")  # Conan would trust this on a cache hit
    assert conan.prepare_sources(c, offline=True) == []  # from the sources cache
    assert cached.read_bytes() == content


def test_downloads_are_shared_with_the_sources_cache(conan_ctx):
    content = b"downloaded by conan"
    c = dataclasses.replace(conan_ctx, lock=_lock_with(content))
    sha = hashlib.sha256(content).hexdigest()
    (c.download_cache / "s").mkdir(parents=True)
    (c.download_cache / "s" / sha).write_bytes(content)
    conan.share_downloads(c)
    assert (c.paths.source_cache / "sha256" / sha).read_bytes() == content


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
    """A conanfile.py of its own; the Conan context's root (with the pyproject.toml that
    pins conan)."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    shutil.copyfile(ROOT / "pyproject.toml", project / "pyproject.toml")
    lines = "".join(f'        self.requires("{r}")\n' for r in requires) or "        pass\n"
    (project / "conanfile.py").write_text(
        "from conan import ConanFile\n\n\nclass App(ConanFile):\n"
        '    settings = "os", "arch", "compiler", "build_type"\n\n'
        f"    def requirements(self):\n{lines}"
    )
    return project


def _setup(tmp_path, index, project):
    c = context(tmp_path, root=project, **{conan.REMOTES_ENV: f"testindex={index}"})
    log = tmp_path / "conan.log"
    conan.setup_home(c, log=log)
    profiles = conanprofiles.write_profiles(c.matrix, tmp_path / "profiles", ROOT)
    return c, {"cpu-x86_64": profiles["cpu-x86_64"], "build": profiles["build"]}, log


@needs_conan
def test_a_lockfile_that_no_longer_matches_conanfile_py_is_refused(tmp_path):
    index = _index(tmp_path, {"liba/1.0": "", "libb/1.0": ""})
    project = _project(tmp_path, ["liba/1.0"])
    c, profiles, log = _setup(tmp_path, index, project)
    assert (c.home / "infercore-remotes.json").is_file()
    lock = tmp_path / "conan.lock"
    conan.create_lock(c, lock, profiles, log=log)
    assert any(r.startswith("liba/1.0#") for r in json.loads(lock.read_text())["requires"])
    conan.resolve_against_lock(c, "cpu-x86_64", profiles, lock, log=log)  # matches

    _project(tmp_path, ["liba/1.0", "libb/1.0"])  # a new requirement, not locked
    with pytest.raises(BuildError, match=r"conan\.lock no longer matches conanfile\.py") as info:
        conan.resolve_against_lock(c, "cpu-x86_64", profiles, lock, log=log)
    assert "libb/1.0" in info.value.why
    assert "--update-lock" in info.value.fix

    _project(tmp_path, [])  # liba dropped: the lockfile pins something not required
    with pytest.raises(BuildError, match=r"no longer matches conanfile\.py") as info:
        conan.resolve_against_lock(c, "cpu-x86_64", profiles, lock, log=log)
    assert "it pins liba/1.0#" in info.value.why

    # A recipe edited in the index: the lockfile pins its old revision.
    recipe = index / "recipes" / "liba" / "all" / "conanfile.py"
    recipe.write_text(recipe.read_text() + "    # edited\n")
    with pytest.raises(BuildError, match="no longer matches the recipes") as info:
        conan.check_index_revisions(c, lock, "testindex", target="cpu-x86_64", log=log)
    assert "liba/1.0: locked #" in info.value.why


class _Serve(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@needs_conan
def test_a_source_whose_hash_does_not_match_fails_before_any_build(tmp_path):
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
        project = _project(tmp_path, ["badsrc/1.0"])
        c, profiles, log = _setup(tmp_path, index, project)
        lock = tmp_path / "conan.lock"
        conan.create_lock(c, lock, profiles, log=log)
        with pytest.raises(BuildError, match="does not match its pinned sha256") as info:
            conan.resolve_against_lock(c, "cpu-x86_64", profiles, lock, log=log)
        assert pinned in info.value.why
        assert "sources.lock.toml" in info.value.fix
        assert "built although" not in log.read_text()
        assert not (c.download_cache / "s" / pinned).exists()
    finally:
        server.shutdown()
        server.server_close()
