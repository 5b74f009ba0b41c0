"""The models of build-matrix.toml's [images]: the project's build images.

One Dockerfile (docker/Dockerfile) with a stage per role (dev, test, release); an image
is a role built for a platform (cuda, x86, arm) FROM a base. Bases are pinned by digest
or, where no registry is reachable, built from Debian's packages with debootstrap. Each
session names the image it re-runs itself in (`--container auto|always|never`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, StrictInt, model_validator

from .values import (
    ImageRef,
    Model,
    PythonVersion,
    SafeName,
    Version,
    check,
    did_you_mean,
    known_list,
    pattern,
    raise_checks,
)

Role = Literal["dev", "test", "release"]
ROLES: tuple[str, ...] = ("dev", "test", "release")
Platform = Literal["cuda", "x86", "arm"]
PackageManager = Literal["apt", "dnf", "yum"]
Engine = Literal["docker", "podman"]
# The OS part of an image tag: lowercase, no separators the tag uses.
OsName = pattern(r"^[a-z][a-z0-9_.]*$")
DebianSuite = Literal["bullseye", "bookworm", "trixie"]

# The sessions that re-run themselves in an image; kernels-* share "kernels".
SESSIONS: tuple[str, ...] = (
    "kernels",
    "tests",
    "gpu-tests",
    "cpp-tests",
    "deps",
    "conan-profiles",
    "sources",
    "plan",
)


class ImageBase(Model):
    """[images.bases.NAME]: an image the project's images are built FROM."""

    image: ImageRef | None = Field(
        None, description="a registry image pinned by digest (the default for users)"
    )
    debootstrap: DebianSuite | None = Field(
        None,
        description="or: built here from Debian's packages (debootstrap --variant=minbase "
        "SUITE, then imported), where no registry is reachable",
    )
    os: OsName = Field(description="the OS name in image tags", examples=["almalinux8"])
    glibc: Version = Field(description="the glibc the base carries", examples=["2.28"])
    package_manager: PackageManager = Field(
        alias="package-manager", description="how docker/scripts install system packages"
    )
    arch: Literal["x86_64", "aarch64"] | None = Field(
        None, description="the one arch of a single-arch image; absent: multi-arch"
    )
    gcc: StrictInt | None = Field(
        None,
        ge=1,
        le=99,
        description="the GCC major version builds in it use (checked against a CUDA "
        "toolkit's max-gcc)",
    )
    interpreters: Literal["host"] | None = Field(
        None,
        description='"host": this machine\'s CPython of every [python] version is copied in '
        "and laid out as manylinux images do (/opt/python/cpXY-cpXY), making a stand-in "
        "for a manylinux release base where no registry is reachable",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ImageBase:
        if (self.image is None) == (self.debootstrap is None):
            raise_checks(
                [
                    check(
                        (),
                        "a base is either a pinned registry image or a debootstrap suite",
                        allowed='image = "name@sha256:..." or debootstrap = "bookworm"',
                        fix="set exactly one of `image` and `debootstrap`",
                    )
                ]
            )
        if self.interpreters is not None and self.debootstrap is None:
            raise_checks(
                [
                    check(
                        ("interpreters",),
                        "only a debootstrap base takes the host's interpreters (a registry "
                        "image brings its own)",
                        found=self.interpreters,
                        allowed='interpreters = "host" together with debootstrap = "SUITE"',
                        fix="remove `interpreters`, or build the base with `debootstrap`",
                    )
                ]
            )
        return self


class ImageRole(Model):
    """[images.roles.NAME]: a stage of docker/Dockerfile."""

    description: str = Field(description="what the role's images are for, in a line")
    base: SafeName = Field(description="the default base ([images.bases])")
    platform_bases: dict[Platform, SafeName] = Field(
        default_factory=dict,
        alias="platform-bases",
        description="per-platform bases that replace `base` (the CUDA release image)",
    )

    def base_for(self, platform: str) -> str:
        return self.platform_bases.get(platform, self.base)  # type: ignore[call-overload]


class Images(Model):
    """[images]: the project's build images and which session runs in which."""

    repository: SafeName = Field(
        "infercore", description="the images' repository name (tags follow the convention)"
    )
    engine: Engine = Field("docker", description="the default container engine")
    python: PythonVersion = Field(
        "3.10", description="PYTHON_VERSION of the images (the interpreter nox runs with)"
    )
    bases: dict[SafeName, ImageBase] = Field(
        default_factory=dict, description="the bases by name, each pinned"
    )
    roles: dict[Role, ImageRole] = Field(
        default_factory=dict, description="dev, test and release: docker/Dockerfile's stages"
    )
    sessions: dict[SafeName, SafeName] = Field(
        default_factory=dict,
        description='the image each session runs in, as "ROLE-PLATFORM" (kernels: every '
        "kernels-* session)",
    )

    def image_names(self) -> list[str]:
        """Every ROLE-PLATFORM the sessions can name."""
        return [f"{role}-{platform}" for role in self.roles for platform in ("cuda", "x86", "arm")]

    @model_validator(mode="after")
    def _cross(self) -> Images:
        problems: list[dict[str, Any]] = []
        for role_name, role in self.roles.items():
            for where, base in [("base", role.base), *role.platform_bases.items()]:
                if base not in self.bases:
                    hint = did_you_mean(base, self.bases)
                    loc = ("roles", role_name, "base" if where == "base" else "platform-bases")
                    problems.append(
                        check(
                            loc,
                            f"base {base!r} is not in [images.bases]"
                            + (f"; {hint}" if hint else ""),
                            found=base,
                            allowed=f"one of: {known_list(self.bases)}",
                            fix="add it to [images.bases] or name a known base",
                        )
                    )
        known = self.image_names()
        for session, image in self.sessions.items():
            if session not in SESSIONS:
                hint = did_you_mean(session, SESSIONS)
                problems.append(
                    check(
                        ("sessions", session),
                        "not a session that runs in a container" + (f"; {hint}" if hint else ""),
                        found=session,
                        allowed=", ".join(SESSIONS),
                        fix="remove it, or name a session that takes --container",
                    )
                )
            if image not in known:
                hint = did_you_mean(image, known)
                problems.append(
                    check(
                        ("sessions", session),
                        f"image {image!r} is not ROLE-PLATFORM" + (f"; {hint}" if hint else ""),
                        found=image,
                        allowed=", ".join(known)
                        or "ROLE-PLATFORM, ROLE in [images.roles] (none defined)",
                        fix="name a role of [images.roles] and a platform (cuda, x86, arm)",
                    )
                )
        raise_checks(problems)
        return self
