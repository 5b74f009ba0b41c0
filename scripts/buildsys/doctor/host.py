"""This host against what the build asks of it: glibc and gcc per release cell (the
resolver's platform check), and the Python interpreters of the wheel matrix."""

from __future__ import annotations

from ..config import policy_for_glibc, policy_glibc, version_tuple
from ..config.release import ReleaseCell
from ..container import session as container_session
from ..cuda import archs
from ..errors import BuildError, ToolMissing, UsageError
from ..host import interpreters, system
from ..release import cells
from .context import Context
from .result import Result


def release_cells(ctx: Context) -> list[Result]:
    glibc = system.glibc()
    gcc = system.gcc_version(system.cxx(ctx.env))
    return [_cell(ctx, name, cell, glibc, gcc) for name, cell in ctx.matrix.release.items()]


def _cell(ctx: Context, name: str, cell: ReleaseCell, glibc: str | None, gcc: str | None) -> Result:
    """Where `nox -s wheels --cell NAME` builds (its release image, else this host) and
    the manylinux policy its wheels reach there."""
    row = f"release {name}"
    if not cell.build:
        return Result(row, "skip", f"not built here (build = false): {cell.description}")
    chosen = cells.Cell(name, cell, ctx.matrix.target(cell.target))
    image = chosen.image_name
    state = ctx.image_states.get(image)
    hint = container_session.build_hint(image, state.entry if state else None)
    if state is not None and state.usable:
        assert state.entry is not None
        try:
            reach = cells.reach(ctx.matrix, chosen, state.entry)
        except BuildError as err:
            return Result.from_error(row, err)
        where = f"cibuildwheel in {image}"
        if reach.stand_in:
            return Result(
                row,
                "warn",
                f"{where}, built FROM the stand-in {reach.base_name} (glibc "
                f"{reach.base.glibc}): its wheels reach {reach.plat} at best, not "
                f"{cell.manylinux}",
                f"build the image FROM {cell.image} where its registry is reachable: "
                f"nox -s images -- --role release --platform {chosen.target.platform}",
            )
        return Result(row, "ok", f"{where} ({reach.plat})")
    if ctx.container_mode == "always":
        err = UsageError(
            f"INFERCORE_CONTAINER=always, and the {image} image is not there", fix=hint
        )
        return Result.from_error(row, err)
    if glibc is None:
        return Result(
            row,
            "fail",
            "this host's C library is not glibc: manylinux wheels cannot be built here",
            f"build the cell in its image: {hint}",
            ToolMissing,
        )
    here = f"on this host (glibc {glibc}, gcc {gcc or '?'})"
    if chosen.target.is_cuda:
        toolkit = ctx.matrix.toolkit(str(cell.cuda or chosen.target.cuda))
        try:
            archs.check_platform(toolkit, policy=policy_for_glibc(glibc), gcc=gcc)
        except BuildError as err:
            return Result.from_error(row, err)
    floor = policy_glibc(cell.manylinux)
    if version_tuple(glibc) > version_tuple(floor):
        return Result(
            row,
            "warn",
            f"{here}: its wheels reach {policy_for_glibc(glibc)} at best, not "
            f"{cell.manylinux} (glibc {floor})",
            f"build it in its release image: {hint}, then `nox -s wheels`",
        )
    return Result(row, "ok", f"{here}: {cell.manylinux} reachable")


def pythons(ctx: Context) -> Result:
    """The [python] versions a host build (and the stand-in release base, which copies
    this machine's interpreters) makes wheels for: what interpreters.find_all finds."""
    versions = list(ctx.matrix.python_versions)
    found, missing = interpreters.find_all(versions)
    have = ", ".join(i.full_version for i in found)
    if not missing:
        return Result("pythons", "ok", f"CPython {have} ([python] {', '.join(versions)})")
    if not found:
        err = ToolMissing(
            f"none of CPython {', '.join(versions)} was found",
            why="looked for pythonX.Y on PATH, under $PYENV_ROOT/versions and /opt/python",
            fix="install one of them, e.g. `pyenv install 3.11`",
        )
        return Result.from_error("pythons", err)
    return Result(
        "pythons",
        "warn",
        f"CPython {', '.join(missing)} not found (have {have}): a host build makes no "
        f"{', '.join(missing)} wheels",
        f"install it (e.g. `pyenv install {missing[0]}`)",
    )
