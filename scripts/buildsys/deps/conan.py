"""Conan 2: the engine's C++ dependencies (conanfile.py) for a build-matrix.toml target.

`nox -s deps -- --target NAME` runs, in order, and fails before anything is built:

1. the Conan home: build/conan-home (or $CONAN_HOME), never ~/.conan2 by accident;
   its global.conf (download cache, network limits), settings_user.yml (CUDA
   versions from build-matrix.toml) and remotes, in the order of
   $INFERCORE_CONAN_REMOTES (default: only the project's recipes index, conan/);
2. the recipes' conandata.yml, regenerated from sources.lock.toml when it changed;
3. the target's profile, rendered (conanprofiles.py) and loaded by Conan;
4. the sources: Conan's download cache (inside the shared sources cache, so fresh
   checkouts and CI reuse it) is checked, and filled from sources.py's verified
   cache or --mirror directories; offline, whatever is missing is listed;
5. the lockfile (conan.lock): created by `conan lock create` when absent; its recipe
   revisions are compared with what conan/recipes exports now, and the graph is
   resolved strictly against it (`conan graph info --lockfile`), which also makes
   Conan download and verify every source (tools.build:download_source) before the
   first compile;
6. `conan install --build=missing`: CMakeToolchain, CMakeDeps and CMake presets in
   build/conan/TARGET/generators; built packages stay in the Conan cache, so the
   next run builds nothing.

Other sessions call `install()` (or `cmake_args()` after it) to build against
these packages instead of whatever the host has.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import BuildMatrix, Source, SourcesLock
from ..errors import BuildError, SourceError, ToolMissing, UsageError
from ..sources import cache as sources
from ..util import console, runner
from ..util.fs import atomic_write, copy_verified, locked, sha256_file, write_if_changed
from ..util.paths import Paths
from ..util.project import pin
from . import profiles as conanprofiles

INDEX_REMOTE = "infercore"
CONANCENTER = "https://center2.conan.io"
REMOTES_ENV = "INFERCORE_CONAN_REMOTES"
BACKUP_ENV = "INFERCORE_CONAN_BACKUP_URLS"
LOCK_FIX = (
    "review the change to conanfile.py (or to conan/recipes), then re-create the lockfile "
    "with `nox -s deps -- --target {target} --update-lock` and commit {lock}"
)


@dataclass(frozen=True)
class Conan:
    """Where Conan's state lives for this checkout, and the configuration it serves."""

    paths: Paths
    matrix: BuildMatrix
    lock: SourcesLock
    env: Mapping[str, str] = dataclasses.field(default_factory=lambda: dict(os.environ))

    @property
    def home(self) -> Path:
        """$CONAN_HOME, else build/conan-home (never ~/.conan2 by accident)."""
        value = self.env.get("CONAN_HOME")
        if value is not None and not value.strip():
            raise UsageError(
                "CONAN_HOME is set but empty", fix="set it to a directory, or unset it"
            )
        return Path(value).resolve() if value else self.paths.build / "conan-home"

    @property
    def download_cache(self) -> Path:
        """Conan's download cache (core.sources:download_cache), in the shared sources cache."""
        return self.paths.source_cache / "conan"

    @property
    def recipes(self) -> Path:
        return self.paths.root / "conan" / "recipes"

    @property
    def profiles_dir(self) -> Path:
        return self.paths.build / "conan" / "profiles"

    def output_dir(self, target: str) -> Path:
        return self.paths.tree("conan", target)

    @property
    def known_remotes(self) -> dict[str, str]:
        """Remote names that need no URL in INFERCORE_CONAN_REMOTES."""
        return {INDEX_REMOTE: str(self.paths.root / "conan"), "conancenter": CONANCENTER}


@dataclass(frozen=True)
class Remote:
    name: str
    url: str

    @property
    def is_index(self) -> bool:
        """A local-recipes-index (a directory of recipes), not a Conan server."""
        return "://" not in self.url


@dataclass(frozen=True)
class Package:
    """A package of the installed graph that the engine itself builds with (a host
    requirement, not a test or build tool), as Conan resolved it."""

    name: str
    version: str
    revision: str  # the recipe revision, as conan.lock pins it
    package_id: str  # the binary's configuration (settings, options): no timestamps

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}#{self.revision}"


@dataclass(frozen=True)
class Deps:
    """What `conan install` produced for one target."""

    target: str
    profile: Path
    lockfile: Path
    generators: Path  # conan_toolchain.cmake, *-config.cmake, CMakePresets.json
    built: tuple[str, ...]  # packages built from source this run
    # What the engine links or includes (the wheels' SBOM lists them): gtest, a test
    # requirement, is not among them.
    packages: tuple[Package, ...] = ()

    @property
    def toolchain(self) -> Path:
        return self.generators / "conan_toolchain.cmake"

    @property
    def cmake_defines(self) -> dict[str, str]:
        """What a CMake configure of the engine adds to use these packages (-D, or
        scikit-build-core's cmake.define.*): Conan's toolchain, and glog required, so a
        build meant to use it never falls back to log.cc's stderr logger unnoticed."""
        return {
            "CMAKE_TOOLCHAIN_FILE": str(self.toolchain),
            "CMAKE_REQUIRE_FIND_PACKAGE_glog": "ON",
        }

    @property
    def cmake_args(self) -> list[str]:
        return [f"-D{key}={value}" for key, value in self.cmake_defines.items()]


def remotes(c: Conan) -> list[Remote]:
    """The remotes in resolution order: $INFERCORE_CONAN_REMOTES, e.g. 'conancenter,infercore'
    or 'infercore,mycorp=https://artifactory.example.com/api/conan/conan'."""
    raw = c.env.get(REMOTES_ENV)
    if raw is not None and not raw.strip(" ,"):
        raise UsageError(
            f"{REMOTES_ENV} is set but names no remote",
            fix=f"list remotes, e.g. {REMOTES_ENV}=conancenter,infercore, or unset it",
        )
    spec = (raw or "").strip() or INDEX_REMOTE
    known = c.known_remotes
    result: list[Remote] = []
    for item in (s.strip() for s in spec.split(",")):
        if not item:
            continue
        name, _, url = item.partition("=")
        url = url or known.get(name, "")
        if not name or not url:
            raise UsageError(
                f"{REMOTES_ENV}: unknown remote {name!r}",
                why=f"names without a URL must be one of {', '.join(known)}",
                fix=f"write it as {name or 'NAME'}=URL, or use a known name",
            )
        if any(r.name == name for r in result):
            raise UsageError(f"{REMOTES_ENV} names {name!r} twice", fix="list each remote once")
        result.append(Remote(name, url))
    return result


def lockfile_for(c: Conan, order: Sequence[Remote]) -> Path:
    """conan.lock pins the project's recipes index; a lockfile is bound to the recipe
    revisions of the remote it resolved from, so another first remote has its own."""
    first = order[0].name
    return c.paths.root / ("conan.lock" if first == INDEX_REMOTE else f"conan-{first}.lock")


# --- running conan -----------------------------------------------------------------------


class ConanFailed(Exception):
    def __init__(self, what: str, output: str, log: Path) -> None:
        super().__init__(what)
        self.what = what
        self.output = output
        self.log = log

    def error_lines(self) -> str:
        """Conan's own error: from its first ERROR line on."""
        lines = self.output.splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith("ERROR")), None)
        chosen = lines[start:] if start is not None else lines[-15:]
        return "\n".join("    " + line for line in chosen[:30])

    def as_build_error(self, fix: str = "") -> BuildError:
        return BuildError(
            f"{self.what} failed",
            why="conan says:\n" + self.error_lines(),
            fix=fix or f"read the whole log: {self.log}",
        )


def conan_pin(root: Path) -> str:
    return pin(root, "conan", "conan").split("==", 1)[1]


def conan_exe(root: Path) -> str:
    """The conan of this Python environment (the nox session's), at its pinned version."""
    exe = Path(sys.executable).parent / "conan"
    found = str(exe) if exe.is_file() else shutil.which("conan")
    if found is None:
        raise ToolMissing(
            "conan is not installed in this environment",
            fix="run through nox (`nox -s deps`), which installs the pinned Conan, or "
            f"`pip install conan=={conan_pin(root)}`",
        )
    try:
        from importlib.metadata import version

        have = version("conan")
    except Exception:  # conan found on PATH, not importable here
        have = None
    if have is not None and have != conan_pin(root):
        raise ToolMissing(
            f"conan {have} is installed, the project pins {conan_pin(root)}",
            why="local-recipes-index remotes are experimental in Conan 2: behaviour may change "
            "between releases",
            fix=f"pip install conan=={conan_pin(root)} (nox sessions do this)",
        )
    return found


def run_conan(
    c: Conan,
    args: Sequence[str | os.PathLike[str]],
    *,
    log: Path,
    what: str,
    capture: bool = False,
    cwd: Path | None = None,
) -> str:
    """Run conan against our home, logging everything; return stdout when capture."""
    argv = [conan_exe(c.paths.root), *(str(a) for a in args)]
    env = {"CONAN_HOME": str(c.home), "PYTHONUNBUFFERED": "1"}
    # stdout is Conan's JSON when captured; its progress (stderr) goes to the log.
    offset = log.stat().st_size if log.is_file() else 0
    result = runner.call(
        argv,
        what=what,
        log=log,
        cwd=cwd or c.paths.root,
        env=env,
        capture=True,
        stderr_to_log=capture,
        check=False,
        echo=False,
    )
    if result.returncode != 0:
        with log.open("rb") as f:  # this command's part of the log only
            f.seek(offset)
            raise ConanFailed(what, f.read().decode(errors="replace"), log)
    return result.output


# --- the Conan home ----------------------------------------------------------------------


def global_conf_text(c: Conan) -> str:
    lines = [
        "# Written by scripts/buildsys/deps/conan.py on every nox Conan session: edits are lost.",
        "core:non_interactive=True",
        # Verified source archives by sha256, shared by every checkout on this machine.
        f"core.sources:download_cache={c.download_cache}",
        # A dead mirror costs seconds, not minutes (defaults: 2 retries 5 s apart).
        "core.net.http:timeout=30",
        "tools.files.download:retry=1",
        "tools.files.download:retry_wait=2",
    ]
    backups = [u.strip() for u in c.env.get(BACKUP_ENV, "").split(",") if u.strip()]
    if backups:
        # Conan's backup sources: servers holding <sha256> and <sha256>.json, before origin.
        lines.append(f"core.sources:download_urls={json.dumps([*backups, 'origin'])}")
    return "\n".join(lines) + "\n"


def setup_home(c: Conan, *, log: Path, with_remotes: bool = True) -> list[Remote]:
    """Configure the Conan home; register the remotes (only when they changed)."""
    h = c.home
    h.mkdir(parents=True, exist_ok=True)
    c.download_cache.mkdir(parents=True, exist_ok=True)
    write_if_changed(h / "global.conf", global_conf_text(c))
    write_if_changed(h / "settings_user.yml", conanprofiles.settings_user_yml(c.matrix))
    order = remotes(c)
    if not with_remotes:
        return order
    stamp = h / "infercore-remotes.json"
    wanted = json.dumps([[r.name, r.url] for r in order])
    if stamp.is_file() and stamp.read_text() == wanted:
        return order
    stamp.unlink(missing_ok=True)
    listed = json.loads(
        run_conan(
            c, ["remote", "list", "--format=json"], log=log, what="conan remote list", capture=True
        )
        or "[]"
    )
    for existing in listed:
        # An enabled but unreachable remote (conancenter, by default) is a hard error
        # even when the index comes first: keep only the ones asked for.
        if existing["name"] not in {r.name for r in order}:
            run_conan(
                c, ["remote", "remove", existing["name"]], log=log, what="conan remote remove"
            )
    for index, remote in enumerate(order):
        args = ["remote", "add", remote.name, remote.url, "--force", f"--index={index}"]
        if remote.is_index:
            args.append("--type=local-recipes-index")
        try:
            run_conan(c, args, log=log, what=f"adding the Conan remote {remote.name}")
        except ConanFailed as err:
            raise err.as_build_error(
                fix=f"check {REMOTES_ENV} ({remote.name}={remote.url})"
            ) from None
    stamp.write_text(wanted)
    return order


# --- recipes' sources: sources.lock.toml -> conandata.yml, and the download cache ------


@dataclass(frozen=True)
class RecipeSource:
    recipe: str
    source: Source


def recipe_sources(lock: SourcesLock) -> list[RecipeSource]:
    """The sources.lock.toml entries that a recipe of conan/recipes downloads."""
    return [RecipeSource(s.conan_recipe, s) for s in lock.values() if s.conan_recipe]


def conandata_text(entries: Sequence[RecipeSource]) -> str:
    lines = [
        "# Generated from sources.lock.toml by scripts/buildsys/deps/conan.py (nox -s deps):",
        "# edit that file, not this one. Conan tries the URLs in order; one sha256 for all.",
        "sources:",
    ]
    for entry in sorted(entries, key=lambda e: e.source.version):
        lines.append(f"  {json.dumps(entry.source.version)}:")
        lines.append("    url:")
        lines += [f"      - {json.dumps(url)}" for url in entry.source.urls]
        lines.append(f"    sha256: {json.dumps(entry.source.sha256)}")
    return "\n".join(lines) + "\n"


def _recipe_versions(recipe_dir: Path) -> dict[str, str]:
    """version -> folder, from a recipe's config.yml."""
    import yaml  # Conan's dependency: present wherever conan is

    config = recipe_dir / "config.yml"
    try:
        data = yaml.safe_load(config.read_text()) or {}
        return {str(v): str(d["folder"]) for v, d in data["versions"].items()}
    except (OSError, KeyError, TypeError, AttributeError, yaml.YAMLError) as err:
        raise BuildError(
            f"{config} is not a recipes-index config.yml ({err})",
            fix='write versions: {"X.Y.Z": {folder: all}}',
        ) from None


def sync_conandata(recipes_dir: Path, lock: SourcesLock) -> list[Path]:
    """Write each recipe's conandata.yml from sources.lock.toml; return the files changed."""
    by_recipe: dict[str, list[RecipeSource]] = {}
    for entry in recipe_sources(lock):
        by_recipe.setdefault(entry.recipe, []).append(entry)
    recipes = sorted(p.name for p in recipes_dir.iterdir() if (p / "config.yml").is_file())
    changed: list[Path] = []
    for recipe in recipes:
        versions = _recipe_versions(recipes_dir / recipe)
        pinned = {e.source.version: e for e in by_recipe.get(recipe, [])}
        unpinned = sorted(set(versions) - set(pinned))
        if unpinned:
            raise BuildError(
                f"conan/recipes/{recipe} offers version(s) {', '.join(unpinned)} that "
                "sources.lock.toml does not pin",
                why="every downloaded input is pinned there, with its sha256 and URLs",
                fix=f'add a [[source]] with conan-recipe = "{recipe}" for each version',
            )
        for folder in sorted(set(versions.values())):
            entries = [pinned[v] for v, f in versions.items() if f == folder]
            path = recipes_dir / recipe / folder / "conandata.yml"
            if write_if_changed(path, conandata_text(entries)):
                changed.append(path)
    orphans = sorted(set(by_recipe) - set(recipes))
    if orphans:
        raise BuildError(
            f"sources.lock.toml pins sources for recipe(s) {', '.join(orphans)}, which "
            "conan/recipes does not have",
            fix="add the recipe, or remove conan-recipe from those entries",
        )
    return changed


def prepare_sources(c: Conan, *, offline: bool, mirrors: Sequence[Path] = ()) -> list[RecipeSource]:
    """Make Conan's download cache hold every recipe source it can, verified.

    Returns the sources Conan still has to download (online). Offline, a missing
    source is an error that lists them all, before Conan runs.
    """
    cache = c.download_cache / "s"
    cache.mkdir(parents=True, exist_ok=True)
    missing: list[RecipeSource] = []
    for entry in recipe_sources(c.lock):
        src = entry.source
        cached = cache / src.sha256
        if cached.is_file():
            # Conan trusts its cache on a hit: check it here (a few MB, milliseconds).
            actual = sha256_file(cached)
            if actual == src.sha256:
                continue
            cached.unlink()
            cached.with_name(cached.name + ".json").unlink(missing_ok=True)
            console.say(
                "deps",
                f"{src.filename} in Conan's download cache had sha256 {actual}, pinned "
                f"{src.sha256}: removed, it is fetched again",
                style="yellow",
            )
        try:  # the verified cache (a corrupt entry is quarantined), or a mirror
            verified = sources.fetch(c.paths, src, offline=True, mirrors=list(mirrors))
        except SourceError:
            missing.append(entry)
            continue
        if not copy_verified(verified, cached, src.sha256):
            missing.append(entry)
    if missing and offline:
        listing = "\n    ".join(
            f"{e.source.name} {e.source.version}: {e.source.filename} "
            f"(sha256 {e.source.sha256}) from {e.source.urls[0]}"
            for e in missing
        )
        raise SourceError(
            f"offline, and {len(missing)} recipe source(s) are in neither Conan's download "
            f"cache ({c.download_cache}), the sources cache, nor a mirror",
            why="\n    " + listing,
            fix="run `nox -s deps` (or `nox -s sources`) once where the network is reachable, "
            "or pass --mirror DIR holding these files (`nox -s sources -- --fill-mirror DIR` "
            "writes one)",
        )
    return missing


def share_downloads(c: Conan) -> None:
    """Copy what Conan downloaded into sources.py's verified cache, so `nox -s sources --
    --offline --fill-mirror DIR` carries the recipe sources to air-gapped sites too."""
    verified_dir = c.paths.source_cache / "sha256"
    verified_dir.mkdir(parents=True, exist_ok=True)
    for entry in recipe_sources(c.lock):
        cached = c.download_cache / "s" / entry.source.sha256
        dest = verified_dir / entry.source.sha256
        if cached.is_file() and not dest.is_file():
            copy_verified(cached, dest, entry.source.sha256)


# --- profiles ------------------------------------------------------------------------------


def check_profile(c: Conan, name: str, profiles: dict[str, Path], *, log: Path) -> dict[str, Any]:
    """Load a rendered profile with Conan (`conan profile show`); its host settings."""
    try:
        out = run_conan(
            c,
            [
                "profile",
                "show",
                "-pr:h",
                profiles[name],
                "-pr:b",
                profiles[conanprofiles.BUILD_PROFILE],
                "--format=json",
            ],
            log=log,
            what=f"conan profile show ({name})",
            capture=True,
        )
    except ConanFailed as err:
        raise BuildError(
            f"the Conan profile of target {name} does not render",
            why="conan says:\n" + err.error_lines(),
            fix=f"fix [targets.{name}] in build-matrix.toml or the template it uses "
            f"(conan/profiles/*.jinja), then `nox -s conan-profiles`; profile: {profiles[name]}",
        ) from None
    return dict(json.loads(out)["host"])


def render_profiles(c: Conan, *, log: Path) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Write every target's profile and load each with Conan: name -> (path, host profile)."""
    setup_home(c, log=log, with_remotes=False)
    profiles = conanprofiles.write_profiles(c.matrix, c.profiles_dir, c.paths.root)
    return {
        name: (path, check_profile(c, name, profiles, log=log))
        for name, path in profiles.items()
        if name != conanprofiles.BUILD_PROFILE
    }


# --- lockfile -------------------------------------------------------------------------------


def _locked(lock: dict[str, Any]) -> set[str]:
    """name/version#revision of everything a lockfile pins (timestamps dropped)."""
    refs = set()
    for key in ("requires", "build_requires", "python_requires", "config_requires"):
        refs |= {str(r).split("%", 1)[0] for r in lock.get(key, [])}
    return refs


def _profile_args(profiles: dict[str, Path], target: str) -> list[str]:
    return ["-pr:h", str(profiles[target]), "-pr:b", str(profiles[conanprofiles.BUILD_PROFILE])]


def create_lock(c: Conan, lockfile: Path, profiles: dict[str, Path], *, log: Path) -> None:
    """`conan lock create` for every target, merged: one lockfile for the whole matrix."""
    tmp = lockfile.with_name(f".{lockfile.name}.tmp")
    tmp.unlink(missing_ok=True)
    targets = [n for n in profiles if n != conanprofiles.BUILD_PROFILE]
    try:
        for target in targets:
            args = ["lock", "create", c.paths.root, *_profile_args(profiles, target), "--update"]
            args += [f"--lockfile-out={tmp}"]
            # The first run starts empty (not from an old conan.lock beside conanfile.py).
            args += [f"--lockfile={tmp}", "--lockfile-partial"] if tmp.exists() else ["--lockfile="]
            run_conan(c, args, log=log, what=f"conan lock create ({target})")
    except ConanFailed as err:
        tmp.unlink(missing_ok=True)
        raise err.as_build_error() from None
    tmp.replace(lockfile)


def resolve_against_lock(
    c: Conan, target: str, profiles: dict[str, Path], lockfile: Path, *, log: Path
) -> dict[str, Any]:
    """Resolve the graph strictly against the lockfile, fetch and verify every source.

    Returns Conan's JSON graph. Fails if the lockfile lacks something conanfile.py
    requires, pins something it no longer requires, or a source does not verify.
    """
    fix = LOCK_FIX.format(target=target, lock=lockfile.name)
    with tempfile.TemporaryDirectory() as tmp_dir:
        cleaned = Path(tmp_dir) / "clean.lock"
        args = ["graph", "info", c.paths.root, *_profile_args(profiles, target)]
        args += [f"--lockfile={lockfile}", f"--lockfile-out={cleaned}", "--lockfile-clean"]
        args += ["--build=missing", "-c", "tools.build:download_source=True", "--format=json"]
        try:
            out = run_conan(c, args, log=log, what="resolving the dependency graph", capture=True)
        except ConanFailed as err:
            raise _explain(err, lockfile=lockfile, fix=fix) from None
        graph = json.loads(out)
        stale = _locked(json.loads(lockfile.read_text())) - _locked(json.loads(cleaned.read_text()))
    if stale:
        raise BuildError(
            f"{lockfile.name} no longer matches conanfile.py",
            why=f"it pins {', '.join(sorted(stale))}, which conanfile.py does not require "
            f"(for target {target})",
            fix=fix,
        )
    return dict(graph)


def check_index_revisions(c: Conan, lockfile: Path, remote: str, *, target: str, log: Path) -> None:
    """The recipes index's recipes must be the ones the lockfile pins.

    A changed recipe gets a new revision; a cache that still holds the old one would
    go on using it quietly, so compare with what the index exports now.
    """
    try:
        listed = json.loads(
            run_conan(
                c,
                ["list", "*/*#latest", "-r", remote, "--format=json"],
                log=log,
                what=f"listing the recipes of {remote}",
                capture=True,
            )
        )
    except ConanFailed as err:
        raise err.as_build_error() from None
    current = {
        ref: next(iter(info.get("revisions", {})), "")
        for ref, info in listed.get(remote, {}).items()
    }
    changed = []
    for pinned in sorted(_locked(json.loads(lockfile.read_text()))):
        ref, _, revision = pinned.partition("#")
        if ref in current and current[ref] != revision:
            changed.append(f"{ref}: locked #{revision}, conan/recipes now #{current[ref]}")
    if changed:
        raise BuildError(
            f"{lockfile.name} no longer matches the recipes in conan/recipes",
            why="a recipe changed since the lockfile was made:\n    " + "\n    ".join(changed),
            fix=LOCK_FIX.format(target=target, lock=lockfile.name),
        )


def _explain(err: ConanFailed, *, lockfile: Path, fix: str) -> BuildError:
    """Turn Conan's failure into what went wrong and what to do."""
    text = err.output
    if "Error while rendering the profile" in text or "Error reading" in text:
        return BuildError(
            "a Conan profile does not render",
            why="conan says:\n" + err.error_lines(),
            fix="fix the target in build-matrix.toml or its template (conan/profiles/*.jinja); "
            "`nox -s conan-profiles` checks every profile",
        )
    if "not in lockfile" in text or "lockfile" in err.error_lines().lower():
        return BuildError(
            f"{lockfile.name} no longer matches conanfile.py",
            why="conan says:\n" + err.error_lines(),
            fix=fix,
        )
    if "Unable to find" in text and "#" in err.error_lines():
        return BuildError(
            f"{lockfile.name} pins a recipe revision that no remote has",
            why="a recipe in conan/recipes changed since the lockfile was made (or the remotes "
            "changed); conan says:\n" + err.error_lines(),
            fix=fix,
        )
    if re.search(r"(sha256|md5|sha1) (hash|signature) failed", text):
        # Conan names the file, the URL(s) it tried and both hashes on these lines.
        keys = ("hash", "signature", "url", "download(")
        detail = [
            line.strip() for line in text.splitlines() if any(k in line.lower() for k in keys)
        ]
        return BuildError(
            "a recipe source does not match its pinned sha256: nothing was built, and the "
            "bytes were discarded",
            why="\n    " + "\n    ".join(detail[:8]),
            fix="if the upstream file really changed, review it and update its sha256 in "
            "sources.lock.toml (conandata.yml follows); otherwise the mirror is serving a bad "
            f"file. Log: {err.log}",
        )
    if "Error downloading file" in text or "Could not download" in text:
        return BuildError(
            "a recipe source could not be downloaded from any of its URLs",
            why="conan says:\n" + err.error_lines(),
            fix="check the network; or fetch the pinned files elsewhere and pass --mirror DIR "
            "(`nox -s sources -- --fill-mirror DIR`), or set INFERCORE_CONAN_BACKUP_URLS to a "
            "backup-sources server",
        )
    return err.as_build_error()


# --- install -------------------------------------------------------------------------------


def _buildable_here(matrix: BuildMatrix, target: str) -> None:
    spec = conanprofiles.specs(matrix)[target]
    here = conanprofiles.host_arch()
    if spec.cross:
        prefix = str(spec.data["cross_prefix"])
        cxx = prefix + "g++"
        if shutil.which(cxx) is None:
            raise ToolMissing(
                f"target {target} cross-compiles with {cxx}, which is not installed",
                fix=f"install it (Debian: apt-get install g++-{prefix.rstrip('-')}) or build "
                "another target",
            )
        return
    if spec.data["arch"] != here:
        raise BuildError(
            f"target {target} builds natively on {spec.data['arch']}; this machine is {here}",
            why=f"its compiler ({spec.data['compiler']}) runs on {spec.data['arch']} hosts",
            fix=f"run it on an {spec.data['arch']} machine, or pick a target of this one",
        )


def _packages_built(graph: dict[str, Any], status: str) -> tuple[str, ...]:
    nodes = graph.get("graph", {}).get("nodes", {}).values()
    return tuple(sorted(str(n["ref"]).split("#")[0] for n in nodes if n.get("binary") == status))


def used_packages(graph: dict[str, Any]) -> tuple[Package, ...]:
    """The host requirements of conanfile.py in Conan's JSON graph, test requirements
    (gtest) and build tools left out, sorted by name."""
    found = []
    for node_id, node in graph.get("graph", {}).get("nodes", {}).items():
        ref = str(node.get("ref", ""))
        # Node 0 is conanfile.py itself (the consumer).
        if node_id == "0" or node.get("context") != "host" or node.get("test") or "#" not in ref:
            continue
        name_version, _, revision = ref.partition("#")
        name, _, version = name_version.split("@", 1)[0].partition("/")
        found.append(Package(name, version, revision, str(node.get("package_id") or "")))
    return tuple(sorted(found, key=lambda p: p.name))


def install(
    c: Conan,
    target_name: str,
    *,
    jobs: int | None = None,
    offline: bool = False,
    mirrors: Sequence[Path] = (),
    update_lock: bool = False,
    log_dir: Path | None = None,
) -> Deps:
    """Everything `nox -s deps -- --target NAME` does (see the module docstring)."""
    target = c.matrix.target(target_name).name  # an unknown name fails here, naming them all
    log = (log_dir or c.paths.logs) / f"conan-{target}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as f:
        f.write(f"\n=== nox -s deps -- --target {target} ({time.strftime('%Y-%m-%d %H:%M:%S')})\n")
    _buildable_here(c.matrix, target)
    conan_exe(c.paths.root)
    c.home.mkdir(parents=True, exist_ok=True)
    with locked(c.home / "infercore.lock", label="deps", what="using this Conan home"):
        order = setup_home(c, log=log)
        lockfile = lockfile_for(c, order)
        for path in sync_conandata(c.recipes, c.lock):
            console.say(
                "deps", f"{path.relative_to(c.paths.root)} regenerated from sources.lock.toml"
            )
        # Rendered here, loaded (and so checked) by every conan command below.
        profiles = conanprofiles.write_profiles(c.matrix, c.profiles_dir, c.paths.root)
        # Offline, a missing source fails here; with all of them in Conan's download
        # cache, Conan touches no network.
        to_fetch = prepare_sources(c, offline=offline, mirrors=mirrors)
        if update_lock or not lockfile.exists():
            create_lock(c, lockfile, profiles, log=log)
            console.say("deps", f"{lockfile.name} written (conan lock create): commit it")
        if order[0].name == INDEX_REMOTE:
            check_index_revisions(c, lockfile, order[0].name, target=target, log=log)
        if to_fetch:
            names = ", ".join(e.source.filename for e in to_fetch)
            console.say("deps", f"Conan downloads {names} (URLs in order, sha256 checked)")
        graph = resolve_against_lock(c, target, profiles, lockfile, log=log)
        to_build = _packages_built(graph, "Build")
        if to_build:
            console.say("deps", f"building from source: {', '.join(to_build)}")
        out = c.output_dir(target)
        args = ["install", c.paths.root, *_profile_args(profiles, target), f"--lockfile={lockfile}"]
        args += ["--build=missing", f"--output-folder={out}", "--format=json"]
        # The packages copied to a fixed place under the output folder, which the
        # generators then point at: Conan's own package folders carry a random name per
        # build (p/b/glog684ebc4fdc571), so two checkouts would compile with different
        # include paths and never share a ccache entry.
        args += ["--deployer=full_deploy", f"--deployer-folder={out / 'deploy'}"]
        args += ["-c", f"tools.build:jobs={jobs or os.cpu_count() or 1}"]
        try:
            installed = json.loads(
                run_conan(c, args, log=log, what=f"conan install ({target})", capture=True)
            )
        except ConanFailed as err:
            raise _explain(
                err, lockfile=lockfile, fix=LOCK_FIX.format(target=target, lock=lockfile.name)
            ) from None
        share_downloads(c)
    deps = Deps(
        target=target,
        profile=profiles[target],
        lockfile=lockfile,
        generators=out / "generators",
        built=_packages_built(installed, "Build"),
        packages=used_packages(installed),
    )
    if not deps.toolchain.is_file():
        raise BuildError(
            f"conan install did not write {deps.toolchain}",
            fix=f"read {log}; conanfile.py's generate() should run CMakeToolchain",
        )
    atomic_write(
        out / "infercore-deps.json",
        json.dumps(
            {
                "target": target,
                "profile": str(deps.profile),
                "lockfile": str(lockfile),
                "lockfile_sha256": hashlib.sha256(lockfile.read_bytes()).hexdigest(),
                "toolchain": str(deps.toolchain),
            },
            indent=2,
        )
        + "\n",
    )
    return deps


def cmake_args(c: Conan, target_name: str) -> list[str]:
    """The CMake arguments of a target whose dependencies `nox -s deps` installed.

    For build steps that must not run Conan themselves; the others call install(),
    which costs seconds when everything is in the Conan cache.
    """
    record = c.output_dir(target_name) / "infercore-deps.json"
    fix = f"run `nox -s deps -- --target {target_name}`"
    if not record.is_file():
        raise BuildError(f"the C++ dependencies of {target_name} are not installed", fix=fix)
    data = json.loads(record.read_text())
    lockfile = Path(data["lockfile"])
    if (
        not lockfile.is_file()
        or hashlib.sha256(lockfile.read_bytes()).hexdigest() != data["lockfile_sha256"]
    ):
        raise BuildError(
            f"the C++ dependencies of {target_name} were installed from another {lockfile.name}",
            fix=fix,
        )
    return [f"-DCMAKE_TOOLCHAIN_FILE={data['toolchain']}", "-DCMAKE_REQUIRE_FIND_PACKAGE_glog=ON"]


def summary(deps: Deps, seconds: float) -> None:
    built = f"built {', '.join(deps.built)}" if deps.built else "nothing built (Conan cache)"
    console.say("deps", f"{deps.target}: {built} in {seconds:.1f}s")
    console.say("deps", f"toolchain: {deps.toolchain}")
    console.say(
        "deps",
        f"CMake: -DCMAKE_TOOLCHAIN_FILE=...; presets: cmake --preset conan-{deps.target}-release",
    )
