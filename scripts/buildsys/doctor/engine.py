"""The container engine and the images docker/images.lock records (container/)."""

from __future__ import annotations

from ..container import engine as engines
from ..container import session as container_session
from ..errors import BuildError, ToolMissing, UsageError
from .context import Context
from .result import Result

NAME = "container engine"


def engine(ctx: Context) -> Result:
    """Sessions re-run themselves in their image when an engine is there (`--container
    auto`); without one they run on the host, which `always` refuses."""
    if ctx.container_mode == "never":
        why = (
            f"inside the {ctx.env['INFERCORE_IN_CONTAINER']} container"
            if engines.inside_container(ctx.env)
            else "INFERCORE_CONTAINER=never"
        )
        return Result(NAME, "skip", f"{why}: every session runs right here")
    found = ctx.engine
    if isinstance(found, BuildError):
        return Result.from_error(NAME, found)
    if found is None:
        missing = "neither docker nor podman is on PATH"
        fix = "install Docker (or podman) for the pinned images"
        if ctx.container_mode == "always":
            err = ToolMissing(
                f"INFERCORE_CONTAINER=always, and {missing}",
                fix=f"{fix}, or unset INFERCORE_CONTAINER to build on the host",
            )
            return Result.from_error(NAME, err)
        return Result(
            NAME,
            "warn",
            f"{missing}: sessions and wheels build on this host (its glibc decides the "
            "wheels' manylinux policy)",
            f"{fix}, or INFERCORE_CONTAINER=never to build on the host on purpose",
        )
    return Result(NAME, "ok", f"{found.describe()} at {found.path}")


def images(ctx: Context) -> list[Result]:
    """Each image as container_session.image_state finds it: the check every session
    runs before it starts its container, asked of all of them at once."""
    if not isinstance(ctx.engine, engines.Engine) or ctx.container_mode == "never":
        return [Result("images", "skip", "no container engine is used: nothing to run them in")]
    return [_image(ctx, state) for state in ctx.image_states.values()]


def _image(ctx: Context, state: container_session.ImageState) -> Result:
    name = f"image {state.name}"
    hint = container_session.build_hint(state.name, state.entry)
    if state.error is not None:
        return Result.from_error(name, state.error)
    if state.missing:
        if ctx.container_mode == "always":
            err = UsageError(f"INFERCORE_CONTAINER=always, and {state.missing}", fix=hint)
            return Result.from_error(name, err)
        return Result(
            name,
            "warn",
            f"{state.missing}: the sessions that run in it run on the host",
            f"build it: {hint}",
        )
    assert state.entry is not None
    return Result(
        name,
        "ok",
        f"{state.entry.tag}, {state.entry.id[:19]}... as docker/images.lock records, "
        "inputs current",
    )
