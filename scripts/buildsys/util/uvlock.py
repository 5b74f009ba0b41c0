"""Hash-locked requirements of a pyproject.toml dependency group, by the pinned uv."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from . import runner
from .paths import Paths


def uv_binary() -> str:
    import uv  # the pinned uv of the buildsys group

    return uv.find_uv_bin()


def lock_group(
    paths: Paths, group: str, out: Path, *, what: str, options: Sequence[str | Path] = ()
) -> str:
    """`uv pip compile` of pyproject.toml's dependency group `group` into `out`, every
    requirement with its sha256 and binary wheels only (`options`: the Python, platform,
    excludes...); returns the lock's text, without uv's header."""
    out.parent.mkdir(parents=True, exist_ok=True)
    runner.call(
        [
            uv_binary(),
            "pip",
            "compile",
            "--group",
            f"pyproject.toml:{group}",
            "--generate-hashes",
            "--only-binary",
            ":all:",
            *options,
            "--no-header",
            "--quiet",
            "-o",
            out,
        ],
        what=what,
        cwd=paths.root,
    )
    return out.read_text()
