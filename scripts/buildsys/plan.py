"""`nox -s plan`: validate everything and say what a build would do, compiling nothing.

For each target (or the one asked for): its CUDA version and toolkit, per arch group
and kernel family the compile targets and translation units of the kernel profile,
the wheel policy and its pinned image, the Pythons found here, the nvcc a build would
use (--toolchain host: the one found; pinned: the pinned toolchain's, and whether it is
assembled yet), and every pinned source it needs with whether the cache holds it. The
CI matrix and the doctor build on the JSON form (`--json`).
"""

from __future__ import annotations

import json
from typing import Any

from .config import BuildMatrix, Source, SourcesLock, Target
from .cuda import toolchain
from .host import interpreters
from .host import nvcc as nvcc_tool
from .kernels import build as kernels
from .sources import cache as sources
from .util import console
from .util.paths import Paths

# What the kernel libraries are compiled from (the C++ dependencies come through Conan).
KERNEL_SOURCES = kernels.SOURCES


def _image(matrix: BuildMatrix, target: Target) -> str | None:
    return matrix.release_image(target)


def target_plan(matrix: BuildMatrix, target: Target, *, profile: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": target.name,
        "description": target.description,
        "platform": target.platform,
        "arch": target.arch,
        "cuda": target.cuda,
        "release_policy": target.release_policy,
        "image": _image(matrix, target),
        "kernel_profile": None,
        "kernel_groups": [],
    }
    if target.is_cuda:
        toolkit = matrix.toolkits[str(target.cuda)]
        out["toolkit"] = {"min_glibc": toolkit.min_glibc, "max_gcc": toolkit.max_gcc}
        out["sass_archs"] = list(target.sass_archs)
        out["ptx_archs"] = list(target.ptx_archs)
        chosen = profile or target.kernel_profile
        if chosen and target.kernel_archs:
            out["kernel_profile"] = chosen
            for p in kernels.plans_for(
                matrix, list(target.kernel_archs), profile=chosen, cuda=str(target.cuda)
            ):
                out["kernel_groups"].append(
                    {
                        "group": p.group.name,
                        "families": {
                            f: {"archs": list(p.arch_plan.families[f]), "units": p.units[f]}
                            for f in p.units
                        },
                        "ptx": list(p.arch_plan.ptx),
                        "units": sum(len(u) for u in p.units.values()),
                    }
                )
    return out


def _used_by(src: Source) -> list[str]:
    if src.name in KERNEL_SOURCES:
        return ["kernels"]
    if src.conan_recipe:
        return ["conan"]
    return [f"toolchain {src.toolchain}"] if src.toolchain else []


def pinned_toolchains(paths: Paths, lock: SourcesLock) -> list[dict[str, Any]]:
    """Each pinned toolchain, where it is assembled and whether it is (nothing is fetched)."""
    out = []
    for cuda in lock.toolchains:
        tc = toolchain.pinned(paths, lock, cuda)
        out.append(
            {
                "name": tc.name,
                "cuda": cuda,
                "nvcc_version": tc.nvcc_version,
                "prefix": str(tc.prefix),
                "assembled": tc.assembled,
                "wheels": [f"{s.name} {s.version}" for s in tc.sources],
            }
        )
    return out


def nvcc_plan(
    paths: Paths, matrix: BuildMatrix, lock: SourcesLock, choice: str
) -> dict[str, Any] | None:
    """The nvcc a build would use under --toolchain `choice`: the host's as found, or the
    pinned one of the CUDA target's version, assembled or not (plan assembles nothing)."""
    if choice == toolchain.PINNED:
        cuda = str(matrix.default_target(cuda_available=True).cuda)
        tc = toolchain.pinned(paths, lock, cuda)
        return {
            "path": str(tc.nvcc),
            "version": cuda,
            "toolchain": toolchain.PINNED,
            "assembled": tc.assembled,
        }
    nvcc = nvcc_tool.find()
    if nvcc is None:
        return None
    return {"path": str(nvcc), "version": nvcc_tool.version(nvcc), "toolchain": toolchain.HOST}


def make(
    paths: Paths,
    matrix: BuildMatrix,
    lock: SourcesLock,
    *,
    target: str | None,
    profile: str | None,
    choice: str = toolchain.HOST,
) -> dict[str, Any]:
    if profile is not None:
        matrix.profile(profile)  # an unknown name fails here, listing the known ones
    chosen = [matrix.target(target)] if target is not None else list(matrix.targets.values())
    nvcc = nvcc_plan(paths, matrix, lock, choice)
    found, missing = interpreters.find_all(list(matrix.python_versions))
    targets = [target_plan(matrix, t, profile=profile) for t in chosen]
    needs_kernels = any(t["kernel_groups"] for t in targets)
    source_rows = []
    for src in lock.values():
        used_by = _used_by(src)
        if src.name in KERNEL_SOURCES and not needs_kernels:
            continue
        source_rows.append(
            {
                "name": src.name,
                "version": src.version,
                "filename": src.filename,
                "sha256": src.sha256,
                "used_by": used_by,
                "cached": sources.cached_path(paths, src).is_file(),
            }
        )
    return {
        "default_target": matrix.default_target(cuda_available=nvcc is not None).name,
        "toolchain": choice,
        "nvcc": nvcc,
        "pinned_toolchains": pinned_toolchains(paths, lock),
        "pythons": {
            **{i.version: {"path": str(i.path), "version": i.full_version} for i in found},
            **{v: None for v in missing},
        },
        "targets": targets,
        "sources": source_rows,
        "source_cache": str(paths.source_cache),
    }


def _nvcc_text(plan: dict[str, Any]) -> str:
    nvcc = plan["nvcc"]
    if nvcc is None:
        return "not found ($CUDACXX, PATH, /usr/local/cuda)"
    text = f"{nvcc['path']} (CUDA {nvcc['version']}"
    if nvcc["toolchain"] == toolchain.PINNED:
        text += ", assembled" if nvcc["assembled"] else ", assembled on first use"
    return text + ")"


def show(plan: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(plan, indent=2))
        return
    from rich.table import Table

    table = Table(title="targets (build-matrix.toml)")
    for col in ("target", "platform", "CUDA", "wheel policy", "image", "kernels"):
        table.add_column(col)
    for t in plan["targets"]:
        groups = "; ".join(
            f"{g['group']}: "
            + ", ".join(
                f"{f} {'/'.join(d['archs'])} ({len(d['units'])} TU)"
                for f, d in g["families"].items()
            )
            for g in t["kernel_groups"]
        )
        kernels_text = f"{t['kernel_profile']}: {groups}" if groups else "-"
        table.add_row(
            t["name"],
            f"{t['platform']} {t['arch']}",
            t["cuda"] or "-",
            t["release_policy"],
            (t["image"] or "-").split("@")[0],
            kernels_text,
        )
    console.print(table)
    pythons = ", ".join(
        f"{v} ({p['version']})" if p else f"{v} (not found)" for v, p in plan["pythons"].items()
    )
    console.print(f"Pythons: {pythons}")
    console.print(f"nvcc (--toolchain {plan['toolchain']}): {_nvcc_text(plan)}", markup=False)
    for tc in plan["pinned_toolchains"]:
        state = "assembled" if tc["assembled"] else "not assembled yet (first use assembles it)"
        console.print(
            f"pinned toolchain {tc['name']} (nvcc {tc['nvcc_version']}): {tc['prefix']}, "
            f"{state}; {', '.join(tc['wheels'])}",
            markup=False,
        )
    console.print(f"`auto` target here: {plan['default_target']}")
    src = Table(title=f"pinned sources (cache: {plan['source_cache']})")
    for col in ("source", "version", "file", "for", "cached"):
        src.add_column(col)
    for s in plan["sources"]:
        src.add_row(
            s["name"],
            s["version"],
            s["filename"],
            ",".join(s["used_by"]) or "-",
            "yes" if s["cached"] else "no (fetched on first use)",
        )
    console.print(src)
    units = sum(g["units"] for t in plan["targets"] for g in t["kernel_groups"])
    console.print(
        f"plan valid: {len(plan['targets'])} target(s), {units} kernel TU(s); nothing compiled",
        style="green",
    )
