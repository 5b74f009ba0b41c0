"""A nox session that re-runs itself inside its image (`-- --container auto|always|never`).

The noxfile asks `resolve()` first, in its own process (this module imports only what
nox's environment has: pydantic and rich): it names the image, checks it against
docker/images.lock, and returns None to run on the host. `launch()` (the
`container-run` command) then starts `nox -s SESSION` inside the image with the tree,
the caches and dist/ mounted, as the tree's user, and Ctrl-C stopping the container.

  auto    in the image when an engine (docker, else podman) is present and the image
          is built; else on the host, saying why in one line
  always  in the image, or an error saying what is missing and how to get it
  never   on the host
Inside one of the project's containers a session never starts another
(INFERCORE_IN_CONTAINER, set by the images and by launch).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import BuildMatrix, SourcesLock
from ..config.values import did_you_mean
from ..errors import BuildError, ConfigError, ToolMissing, UsageError
from ..util import console
from ..util.paths import Paths
from . import engine as engines
from . import imagelock, images

MODES = ("auto", "always", "never")
# Session options that take a directory the container must see too.
PATH_OPTIONS = ("--dist", "--out", "--mirror", "--fill-mirror")
# Passed into the container as they are (buildsys settings, reproducibility, CI).
PASS_ENV_PREFIXES = ("INFERCORE_",)
PASS_ENV = ("SOURCE_DATE_EPOCH", "CI", "GITHUB_ACTIONS", "NO_COLOR", "FORCE_COLOR", "TERM")
# Set by launch() itself, never copied from the host.
OWN_ENV = (
    "INFERCORE_BUILD_DIR",
    "INFERCORE_SOURCE_CACHE",
    "INFERCORE_IN_CONTAINER",
    "INFERCORE_BUILD_IMAGE",
)


@dataclass(frozen=True)
class Choice:
    """Where a session runs: its image (None: on the host) and why."""

    name: str  # ROLE-PLATFORM
    engine: engines.Engine | None
    entry: imagelock.Entry | None
    args: list[str]  # the session's own arguments, --container and --image taken out


def split_args(posargs: Sequence[str]) -> tuple[str | None, str | None, list[str]]:
    """(--container MODE, --image NAME, the rest) from a session's arguments."""
    mode = image = None
    rest: list[str] = []
    args = list(posargs)
    i = 0
    while i < len(args):
        arg = args[i]
        for flag in ("--container", "--image"):
            if arg == flag or arg.startswith(flag + "="):
                if arg == flag:
                    if i + 1 >= len(args):
                        raise UsageError(f"{flag} needs a value", fix=_flag_fix(flag))
                    value = args[i + 1]
                    i += 1
                else:
                    value = arg.split("=", 1)[1]
                if flag == "--container":
                    mode = value
                else:
                    image = value
                break
        else:
            rest.append(arg)
        i += 1
    if mode is not None and mode not in MODES:
        hint = did_you_mean(mode, MODES)
        raise UsageError(
            f"--container {mode}: not a mode" + (f" ({hint})" if hint else ""),
            fix=_flag_fix("--container"),
        )
    return mode, image, rest


def _flag_fix(flag: str) -> str:
    if flag == "--container":
        return "pass --container auto, always or never"
    return "pass --image ROLE-PLATFORM, e.g. --image test-x86 ([images.sessions])"


def _option(args: Sequence[str], flag: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def image_name(matrix: BuildMatrix, session: str, args: Sequence[str], image: str | None) -> str:
    """The session's image: --image, else its role for --target's platform, else
    [images.sessions]."""
    images = matrix.images
    known = images.image_names()
    if image is not None:
        if image not in known:
            hint = did_you_mean(image, known)
            raise UsageError(
                f"--image {image}: not an image" + (f" ({hint})" if hint else ""),
                why=f"images are ROLE-PLATFORM: {', '.join(known)}",
                fix=_flag_fix("--image"),
            )
        return image
    key = "kernels" if session.startswith("kernels") else session
    default = images.sessions.get(key)
    if default is None:
        raise ConfigError(
            f"session {session!r} names no image in build-matrix.toml [images.sessions]",
            fix=f'add {key} = "ROLE-PLATFORM" there, or run it with --container never',
        )
    target = _option(args, "--target")
    if target is not None and target != "auto":
        role = default.split("-", 1)[0]
        return f"{role}-{matrix.target(target).platform}"
    return default


def mode(given: str | None, env: Mapping[str, str]) -> str:
    """--container's value, else INFERCORE_CONTAINER, else auto (checked)."""
    value = given or env.get("INFERCORE_CONTAINER") or "auto"
    if value not in MODES:
        raise UsageError(
            f"INFERCORE_CONTAINER={value}: not a mode", fix="set it to auto, always or never"
        )
    return value


@dataclass(frozen=True)
class ImageState:
    """What the engine holds of one image of docker/images.lock."""

    name: str  # ROLE-PLATFORM
    entry: imagelock.Entry | None
    missing: str  # why there is no image to run ("" when there is one)
    error: ConfigError | None  # there, but not the image the lock vouches for

    @property
    def usable(self) -> bool:
        return not self.missing and self.error is None


def image_state(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    engine: engines.Engine,
    name: str,
    entry: imagelock.Entry | None,
) -> ImageState:
    """Is the engine's image `name` the one docker/images.lock records (its id), built
    from what docker/ and the pins say now (its inputs digest)? Sessions (resolve) and
    `doctor` ask this one question."""
    if entry is None:
        return ImageState(name, None, f"docker/images.lock records no {name} image", None)
    have = engine.image_id(entry.ref)
    if have is None:
        return ImageState(name, entry, f"{engine.name} has no image {entry.ref}", None)
    hint = build_hint(name, entry)
    if have != entry.id:
        error = ConfigError(
            f"the {name} image {entry.ref} is {have[:19]}..., and docker/images.lock "
            f"records {entry.id[:19]}...",
            why="the lock was edited, or the image was rebuilt or retagged outside "
            "`nox -s images`: it is not the image the lock vouches for",
            fix=f"rebuild and record it: {hint} (or restore docker/images.lock)",
        )
        return ImageState(name, entry, "", error)
    if not images.recipe_current(paths, lock, matrix, name, entry):
        error = ConfigError(
            f"the {name} image is out of date: docker/ or the pins it installs changed "
            "since it was built",
            why="docker/images.lock's inputs digest differs from what the recipe gives now",
            fix=f"rebuild it: {hint}",
        )
        return ImageState(name, entry, "", error)
    return ImageState(name, entry, "", None)


def resolve(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    session: str,
    posargs: Sequence[str],
    env: Mapping[str, str] | None = None,
) -> Choice:
    """Where `session` runs, checked; prints the one-line notice of a host fallback."""
    env = os.environ if env is None else env
    mode_arg, image_arg, rest = split_args(posargs)
    chosen = mode(mode_arg, env)
    name = image_name(matrix, session, rest, image_arg)
    host = Choice(name=name, engine=None, entry=None, args=rest)
    if chosen == "never" or engines.inside_container(env):
        return host
    engine = engines.find(env=env)
    entry = imagelock.read(paths.root).get(name)
    if engine is None:
        if chosen == "always":
            raise ToolMissing(
                f"--container always: no container engine for the {name} image",
                why="neither docker nor podman is on PATH",
                fix="install Docker (or podman), or run with --container never",
            )
        console.say(session, "no container engine (docker, podman): running on the host")
        return host
    state = image_state(paths, matrix, lock, engine, name, entry)
    if state.missing:
        if chosen == "always":
            raise UsageError(
                f"--container always: {state.missing}",
                why=f"{session} runs in the {name} image ([images.sessions])",
                fix=f"build it: {build_hint(name, entry)}",
            )
        console.say(
            session, f"{state.missing}: running on the host (containers: {build_hint(name, entry)})"
        )
        return host
    if state.error is not None:
        raise state.error
    return Choice(name=name, engine=engine, entry=entry, args=rest)


def build_hint(name: str, entry: imagelock.Entry | None) -> str:
    """The command that (re)builds the image, with the base and Python it was built with."""
    role, platform = name.split("-", 1)
    hint = f"nox -s images -- --role {role} --platform {platform}"
    if entry is not None:
        hint += f" --base {entry.base} --python {entry.python}"
    return hint


# -- launching -----------------------------------------------------------------------


def container_user(paths: Paths) -> tuple[int, int]:
    """Whom the session runs as: the invoking user, except that root working in a tree
    another user owns (sudo, a CI runner's workspace) runs as that owner, so that
    nothing in the tree becomes root-owned."""
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        st = paths.root.stat()
        if st.st_uid != 0:
            return st.st_uid, st.st_gid
    return uid, gid


def _writable_by(path: Path, uid: int) -> bool:
    if uid == 0:
        return True
    try:
        st = path.stat()
    except OSError:
        return False
    return (st.st_uid == uid and bool(st.st_mode & 0o200)) or bool(st.st_mode & 0o002)


def _own(path: Path, below: Path, uid: int, gid: int) -> Path:
    """mkdir -p `path`, then make it and every directory between it and `below` (those
    made now or by an earlier run as root) belong to uid:gid: the container's user."""
    path.mkdir(parents=True, exist_ok=True)
    if os.getuid() == 0:
        for p in [path, *path.parents]:
            if p == below or not p.is_relative_to(below):
                break
            st = p.stat()
            if (st.st_uid, st.st_gid) != (uid, gid):
                os.chown(p, uid, gid)
    return path


# What a container is told the CA bundle is (the host's, mounted read-only).
CA_ENV = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "CURL_CA_BUNDLE")


def host_ca(env: Mapping[str, str]) -> Path | None:
    """The host's CA bundle ($SSL_CERT_FILE, else $REQUESTS_CA_BUNDLE), if it is a file:
    where TLS is intercepted, a container needs it to reach the package index."""
    ca = next((Path(env[v]) for v in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE") if env.get(v)), None)
    return ca if ca is not None and ca.is_file() else None


def run_command(
    paths: Paths,
    choice: Choice,
    session: str,
    *,
    env: Mapping[str, str] | None = None,
    nox_options: Sequence[str] = (),
) -> list[str]:
    """The `ENGINE run ...` command line that runs `nox -s SESSION` in the image."""
    env = os.environ if env is None else env
    assert choice.engine is not None and choice.entry is not None
    engine, entry = choice.engine, choice.entry
    uid, gid = container_user(paths)
    root = paths.root
    work = paths.build / "container" / choice.name  # the container's own build tree
    for d in (work / "home", work / "nox", work / "build"):
        _own(d, paths.build.parent, uid, gid)
    mounts: list[tuple[Path, Path, str]] = [(root, root, "rw")]
    if not paths.build.is_relative_to(root):
        mounts.append((paths.build, paths.build, "rw"))
    setenv: dict[str, str] = {
        "HOME": str(work / "home"),
        "INFERCORE_BUILD_DIR": str(work / "build"),
        "INFERCORE_IN_CONTAINER": choice.name,
        # For the wheels' SBOM: the image they were built in (a local image is named by
        # the engine's image id, the one docker/images.lock vouches for).
        "INFERCORE_BUILD_IMAGE": f"{entry.ref}@{entry.id}",
        "PYTHONUNBUFFERED": "1",
    }

    def cache(var: str, host_default: Path, what: str, *, required: bool) -> None:
        host_path = Path(env.get(var) or host_default)
        host_path.mkdir(parents=True, exist_ok=True)
        if not _writable_by(host_path, uid):
            if required:
                host_path = _own(work / "cache" / what, paths.build.parent, uid, gid)
                console.say(
                    session,
                    f"{what} cache: {Path(env.get(var) or host_default)} is not writable by "
                    f"uid {uid}; using {host_path}",
                )
            else:
                return
        mounts.append((host_path, host_path, "rw"))
        setenv[var] = str(host_path)

    cache("INFERCORE_SOURCE_CACHE", paths.source_cache, "sources", required=True)
    # FA4's exports are content-addressed and portable; a tool environment is named after
    # its interpreter, so the image's gets a directory of its own beside the host's.
    cache("INFERCORE_EXPORT_CACHE", paths.export_cache, "exports", required=False)
    cache("INFERCORE_TOOL_CACHE", paths.tool_cache, "tools", required=False)
    for link in env.get("INFERCORE_TORCH_FIND_LINKS", "").split():
        if Path(link).is_dir():  # a local directory of wheels (URLs need no mount)
            mounts.append((Path(link).resolve(), Path(link).resolve(), "ro"))
    home = Path.home()
    cache("CCACHE_DIR", home / ".cache" / "ccache", "ccache", required=False)
    cache("PIP_CACHE_DIR", home / ".cache" / "pip", "pip", required=False)
    if (ca := host_ca(env)) is not None:
        mounts.append((ca, Path("/etc/infercore/ca.pem"), "ro"))
        setenv.update(dict.fromkeys(CA_ENV, "/etc/infercore/ca.pem"))
    args = choice.args
    for flag in PATH_OPTIONS:
        value = _option(args, flag)
        if value is None:
            continue
        where = Path(value).resolve()
        if flag != "--mirror":  # output directories; a mirror must exist already
            where.mkdir(parents=True, exist_ok=True)
        if not where.is_relative_to(root):
            mounts.append((where, where, "ro" if flag == "--mirror" else "rw"))
    for key, value in env.items():
        if key in OWN_ENV or key in setenv:
            continue
        if key.startswith(PASS_ENV_PREFIXES) or key in PASS_ENV:
            setenv[key] = value

    cmd = [str(engine.path), "run", "--rm", "--name", f"infercore-{session}-{os.getpid()}"]
    if engine.name == "podman" and engine.rootless:
        cmd += ["--userns=keep-id"]
    else:
        cmd += ["--user", f"{uid}:{gid}"]
    if gpus := env.get("INFERCORE_CONTAINER_GPUS"):
        # The GPUs for a CUDA image's tests: docker's --gpus, podman's CDI devices
        # (nvidia-container-toolkit on the host; not exercised here: no GPU).
        cmd += (
            ["--gpus", gpus] if engine.name == "docker" else ["--device", f"nvidia.com/gpu={gpus}"]
        )
    for src, dest, mode in mounts:
        cmd += ["-v", f"{src}:{dest}:{mode}"]
    for key in sorted(setenv):
        cmd += ["-e", f"{key}={setenv[key]}"]
    cmd += ["-w", str(Path.cwd() if Path.cwd().is_relative_to(root) else root)]
    cmd += [entry.id]
    cmd += ["nox", "--envdir", str(work / "nox"), *nox_options, "-s", session]
    if args:
        cmd += ["--", *args]
    return cmd


def launch(paths: Paths, choice: Choice, session: str, nox_options: Sequence[str] = ()) -> None:
    """Run the session in its container; its exit status becomes ours. Ctrl-C: the
    runner forwards SIGINT to the engine's client, which stops the container; the
    container is removed by name afterwards in case the client was killed first."""
    from ..util import runner

    assert choice.engine is not None and choice.entry is not None
    cmd = run_command(paths, choice, session, nox_options=nox_options)
    console.say(
        session,
        f"in the {choice.name} image ({choice.entry.tag}, {choice.engine.describe()})",
    )
    name = cmd[cmd.index("--name") + 1]
    try:
        result = runner.call(
            cmd, what=f"nox -s {session} in its container", check=False, env=choice.engine.env
        )
    finally:
        # After a normal exit --rm has removed it; after an interrupt that killed the
        # client first, the container itself must not live on.
        runner.cleanup([choice.engine.path, "rm", "-f", name])
    if result.returncode != 0:
        raise BuildError(
            f"nox -s {session} failed in the {choice.name} container (exit {result.returncode})",
            why="its own output above says what failed",
            fix=f"fix that, or reproduce it on the host: nox -s {session} -- --container "
            f"never {shlex.join(choice.args)}".rstrip(),
        )
