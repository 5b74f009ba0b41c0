"""The container engine: docker or podman, found, version-checked, and asked about images.

Like cibuildwheel's oci_container, everything goes through the engine's command line
(the same flags on both, where they differ it says so here), never an API client.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import ToolMissing, UsageError
from ..util import runner

ENGINES = ("docker", "podman")
# Docker 23 is the first whose default builder (BuildKit) reads heredocs, RUN --mount
# and build secrets without a `# syntax=` line (which would pull a frontend image);
# podman 4 has RUN --mount and --secret. Podman reads heredocs from 5.0 on: older
# podman gets the Dockerfile with each heredoc lowered (dockerfile.py).
MIN_VERSION = {"docker": (23, 0), "podman": (4, 0)}
HEREDOC_VERSION = {"docker": (23, 0), "podman": (5, 0)}


@dataclass(frozen=True)
class Engine:
    name: str  # docker or podman
    path: Path
    version: tuple[int, ...]
    rootless: bool

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))

    @property
    def reads_heredocs(self) -> bool:
        return self.version >= HEREDOC_VERSION[self.name]

    @property
    def env(self) -> dict[str, str]:
        """The engine's environment: PATH with the system sbin directories, where its
        network helpers find iptables and nft (a PATH without them, as CI's restricted one
        is, makes podman's netavark fail with "No such file or directory")."""
        return {"PATH": with_sbin(os.environ.get("PATH", ""))}

    def describe(self) -> str:
        return f"{self.name} {self.version_text}" + (" (rootless)" if self.rootless else "")

    def local_ref(self, repository: str, tag: str) -> str:
        """How the engine names a locally built image (podman qualifies it)."""
        return f"{'localhost/' if self.name == 'podman' else ''}{repository}:{tag}"

    def image_id(self, ref: str) -> str | None:
        """The image's id as "sha256:<hex>", or None when the engine has no such image."""
        out = runner.probe(
            [self.path, "image", "inspect", "--format", "{{.Id}}", ref], env=self.env
        ).strip()
        if not out:
            return None
        out = out.splitlines()[0]
        return out if out.startswith("sha256:") else f"sha256:{out}"

    def image_label(self, ref: str, key: str) -> str | None:
        """The value of the image's label `key`, or None (no such image or label)."""
        out = runner.probe(
            [self.path, "image", "inspect", "--format", "{{json .Config.Labels}}", ref],
            env=self.env,
        ).strip()
        try:
            labels = json.loads(out.splitlines()[0]) if out else None
        except ValueError:
            return None
        return labels.get(key) if isinstance(labels, dict) else None

    def image_size(self, ref: str) -> int:
        out = runner.probe(
            [self.path, "image", "inspect", "--format", "{{.Size}}", ref], env=self.env
        ).strip()
        return int(out) if out.isdigit() else 0


def with_sbin(path: str) -> str:
    parts = [p for p in path.split(os.pathsep) if p]
    extra = [d for d in ("/usr/local/sbin", "/usr/sbin", "/sbin") if d not in parts]
    return os.pathsep.join([*parts, *extra])


def _version(path: Path) -> tuple[int, ...] | None:
    # `docker --version` works without a daemon; "Docker version 24.0.7, build ..." and
    # "podman version 4.3.1".
    text = runner.probe([path, "--version"])
    m = re.search(r"version\s+v?(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not m:
        return None
    return tuple(int(p) for p in m.groups() if p is not None)


def _rootless(name: str) -> bool:
    """Podman run by anyone but root is rootless: no need to ask `podman info` (half a
    second, paid by every session that decides whether to use its container)."""
    # Rootless docker maps users like rootful docker: --user uid:gid works there.
    return name == "podman" and os.getuid() != 0


def _daemon_reachable(path: Path) -> bool:
    """A docker CLI is only an engine with a daemon behind it (`docker version` asks it)."""
    return bool(runner.probe([path, "version", "--format", "{{.Server.Version}}"]).strip())


def find(preferred: str | None = None, env: Mapping[str, str] | None = None) -> Engine | None:
    """The engine to use: `preferred` (or $INFERCORE_CONTAINER_ENGINE) if given, else
    docker, else podman; None when none is usable. A too-old engine is an error, and so
    is a preferred docker whose daemon does not answer."""
    env = os.environ if env is None else env
    preferred = preferred or env.get("INFERCORE_CONTAINER_ENGINE") or None
    if preferred is not None and preferred not in ENGINES:
        raise UsageError(
            f"unknown container engine {preferred!r}",
            why=f"infercore runs its images with {' or '.join(ENGINES)}",
            fix="pass --engine docker or --engine podman (or fix INFERCORE_CONTAINER_ENGINE)",
        )
    for name in [preferred] if preferred else ENGINES:
        found = shutil.which(name, path=env.get("PATH"))
        if found is None:
            continue
        path = Path(found)
        version = _version(path)
        if version is None:
            continue  # a wrapper that is not the engine (podman-docker's "docker" is fine)
        if version < MIN_VERSION[name]:
            need = ".".join(map(str, MIN_VERSION[name]))
            raise ToolMissing(
                f"{name} {'.'.join(map(str, version))} at {path} is too old",
                why=f"the images need {name} >= {need} (RUN --mount, build secrets"
                + (", heredocs in the default builder)" if name == "docker" else ")"),
                fix=f"upgrade {name} to {need} or newer, or use the other engine (--engine)",
            )
        if name == "docker" and not _daemon_reachable(path):
            if preferred:
                raise ToolMissing(
                    f"docker at {path} cannot reach its daemon",
                    why="`docker version` got no answer from the Docker engine",
                    fix="start the Docker daemon (or check DOCKER_HOST), or use --engine podman",
                )
            continue  # a client without a daemon: try podman
        return Engine(name=name, path=path, version=version, rootless=_rootless(name))
    return None


def require(preferred: str | None = None, *, why: str) -> Engine:
    engine = find(preferred)
    if engine is None:
        wanted = preferred or " or ".join(ENGINES)
        raise ToolMissing(
            f"no container engine: {wanted} is not on PATH",
            why=why,
            fix="install Docker (the default) or podman, or run on the host with "
            "`--container never`",
        )
    return engine


def inside_container(env: Mapping[str, str] | None = None) -> bool:
    """Is this process inside one of the project's containers? Then a session never
    starts another. Only our own marker counts (set by the images and by launch):
    /.dockerenv alone would also stop a CI job that runs in a container of its own and
    drives a sibling engine, which is a normal set-up (and this project's machines)."""
    env = os.environ if env is None else env
    return bool(env.get("INFERCORE_IN_CONTAINER"))
