"""What every check reads: the configuration, the options, and the facts of this machine
that several checks share (the engine and its images, the target and its kernel plan),
each looked up once."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..config import BuildMatrix, SourcesLock, Target
from ..container import engine as engines
from ..container import imagelock, images
from ..container import session as container_session
from ..cuda import toolchain
from ..errors import BuildError
from ..kernels import build as kernels
from ..kernels.profile import KernelPlan
from ..release import cells
from ..util.paths import Paths

AUTO = "auto"


@dataclass
class Context:
    paths: Paths
    matrix: BuildMatrix
    lock: SourcesLock
    env: Mapping[str, str]
    target_name: str = AUTO  # a [targets] name, or auto: what `nox -s wheels` builds
    profile_name: str | None = None  # default: the target's kernel-profile
    toolchain_choice: str | None = None  # host or pinned; default $INFERCORE_TOOLCHAIN
    network: bool = False  # HEAD the URL of each source the cache lacks
    offline: bool = False  # the build will run offline: a source the cache lacks fails
    mirrors: tuple[Path, ...] = ()
    jobs: int | None = None  # the build's --jobs (default: the CPUs)

    def check_arguments(self) -> None:
        """Names and choices, before any check runs: a typo is a usage error (exit 2),
        not a table of failures."""
        self.compiler  # noqa: B018 - $INFERCORE_TOOLCHAIN checked
        self.target  # noqa: B018 - unknown --target: UsageError with "did you mean"
        if self.profile_name is not None:
            self.matrix.profile(self.profile_name)

    @functools.cached_property
    def compiler(self) -> toolchain.Compiler:
        return toolchain.Compiler(
            choice=self.toolchain_choice or toolchain.default_choice(self.env),
            paths=self.paths,
            lock=self.lock,
            offline=self.offline,
            mirrors=self.mirrors,
        )

    @functools.cached_property
    def target(self) -> Target:
        if self.target_name == AUTO:
            return self.matrix.default_target(cuda_available=self.compiler.available())
        return self.matrix.target(self.target_name)

    @functools.cached_property
    def cuda_target(self) -> Target:
        """The CUDA target: --target's when it is one, else the one `auto` picks where
        nvcc is found (the kernels sessions' default)."""
        if self.target.is_cuda:
            return self.target
        return self.matrix.default_target(cuda_available=True)

    @property
    def profile(self) -> str | None:
        return self.profile_name or self.cuda_target.kernel_profile

    @functools.cached_property
    def kernel_plans(self) -> list[KernelPlan]:
        """The resolver's plan of the target's arch groups (ConfigError: impossible)."""
        t = self.target
        if not t.is_cuda or not t.kernel_archs or self.profile is None:
            return []
        return kernels.plans_for(
            self.matrix, list(t.kernel_archs), profile=self.profile, cuda=str(t.cuda)
        )

    @functools.cached_property
    def container_mode(self) -> str:
        """auto, always or never, as the sessions decide it: never inside one of the
        project's containers (a session there never starts another)."""
        if engines.inside_container(self.env):
            return "never"
        return container_session.mode(None, self.env)

    @functools.cached_property
    def engine(self) -> engines.Engine | BuildError | None:
        """The engine sessions would use; the error when one is unusable; None: none."""
        try:
            return engines.find(env=self.env)
        except BuildError as err:
            return err

    @functools.cached_property
    def image_states(self) -> dict[str, container_session.ImageState]:
        """Each image the sessions and the built release cells run in, as the engine holds
        it (empty without an engine, or when no session would use one)."""
        engine = self.engine
        if not isinstance(engine, engines.Engine) or self.container_mode == "never":
            return {}
        locked = imagelock.read(self.paths.root)
        return {
            name: container_session.image_state(
                self.paths, self.matrix, self.lock, engine, name, locked.get(name)
            )
            for name in self.image_names(locked)
        }

    def image_names(self, locked: Mapping[str, imagelock.Entry]) -> list[str]:
        """What the lock records and what [images.sessions] and the built [release] cells
        name, for the platforms this host builds (no emulation is set up for the others)."""
        m = self.matrix
        names = set(locked) | set(m.images.sessions.values())
        names |= {
            cells.Cell(n, c, m.target(c.target)).image_name for n, c in m.release.items() if c.build
        }
        here = images.host_platforms()
        return sorted(n for n in names if n.split("-", 1)[1] in here)
