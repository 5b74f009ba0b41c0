"""The models of build-matrix.toml's [ci]: what the CI matrix's cells run on.

Which sessions CI runs is the noxfile's (sessions tagged "ci", "gpu" and "release");
which targets, arch groups and release cells they fan out over is the rest of this
file. [ci] adds only what a workflow would otherwise spell by hand: the runner labels,
the GPU runner's label, per-session timeouts and targets, and the registry the images
are pushed to. buildsys.ci.matrix turns all of it into the cells (`nox -s ci-matrix`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StrictInt

from .values import Model, SafeName, check, did_you_mean, known_list, pattern, tuple_of

# A GitHub Actions runner label: "ubuntu-24.04", "self-hosted", "gpu-h100".
Label = pattern(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
# Where `images.yml` pushes the images: "ghcr.io/OWNER" (no tag, no digest).
Registry = pattern(r"^[a-z0-9][a-z0-9._-]*(:[0-9]+)?(/[a-z0-9][a-z0-9._-]*)*$")
Minutes = Annotated[StrictInt, Field(ge=1, le=4320)]  # GitHub's job limit: 72 hours
Labels = Annotated[tuple_of(Label), Field(min_length=1)]


class CiSession(Model):
    """[ci.sessions.NAME]: one CI-tagged session's cells (kernels: every kernels-*)."""

    timeout_minutes: Minutes | None = Field(
        None,
        alias="timeout-minutes",
        description="each cell's time limit (default: [ci] timeout-minutes)",
    )
    targets: tuple_of(SafeName) = Field(
        (),
        description="one cell per target ([targets]), run with --target NAME in that "
        "target's image; absent: one cell, the session's default target",
    )
    runs_on: Labels | None = Field(
        None,
        alias="runs-on",
        description="runner labels of its cells (default: [ci] runs-on, or gpu-runs-on for "
        'sessions tagged "gpu")',
    )
    shards: Annotated[StrictInt, Field(ge=1, le=64)] = Field(
        1,
        description="kernels only: first compile each group's TUs in this many shard cells "
        "(`--shard I/N`) into the shared ccache remote, then build the group from it; 1: no "
        "shards",
    )


class Ci(Model):
    """[ci]: runner labels, the GPU runner, timeouts and the image registry of CI."""

    runs_on: Labels = Field(
        ("ubuntu-24.04",),
        alias="runs-on",
        description="runner labels of every cell (GitHub Actions runs-on)",
    )
    gpu_runs_on: Labels = Field(
        ("self-hosted", "linux", "x64", "gpu"),
        alias="gpu-runs-on",
        description='runner labels of the cells of sessions tagged "gpu": a self-hosted '
        "runner with an NVIDIA GPU, its driver and the NVIDIA container toolkit",
    )
    timeout_minutes: Minutes = Field(
        60, alias="timeout-minutes", description="a cell's time limit, unless its session sets one"
    )
    release_timeout_minutes: Minutes = Field(
        180,
        alias="release-timeout-minutes",
        description="a release cell's time limit (cibuildwheel: every [python] version)",
    )
    registry: Registry = Field(
        "ghcr.io/infercore",
        description="where images.yml pushes the images ([images] repository under it) and "
        "the cells pull them from",
        examples=["ghcr.io/OWNER"],
    )
    sessions: dict[SafeName, CiSession] = Field(
        default_factory=dict,
        description="per-session settings, by session name (kernels: every kernels-*)",
    )


def ci_problems(ci: Ci, targets: Any) -> list[dict[str, Any]]:
    """[ci.sessions.*] targets must be [targets] names (the sessions themselves are the
    noxfile's, checked when the matrix is computed)."""
    problems = []
    for name, session in ci.sessions.items():
        if session.shards > 1 and name != "kernels":
            problems.append(
                check(
                    ("ci", "sessions", name, "shards"),
                    "only the kernels sessions compile in shards",
                    found=session.shards,
                    allowed="1 (or [ci.sessions.kernels] shards)",
                    fix="remove shards here",
                )
            )
        for target in session.targets:
            if target not in targets:
                hint = did_you_mean(target, targets)
                problems.append(
                    check(
                        ("ci", "sessions", name, "targets"),
                        f"target {target!r} is not in [targets]" + (f"; {hint}" if hint else ""),
                        found=target,
                        allowed=f"one of [targets]: {known_list(targets)}",
                        fix="name a build target, or remove it",
                    )
                )
    return problems
