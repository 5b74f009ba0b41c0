"""docker/images.lock: what each image was built from and which image that made.

Written by `nox -s images` only. A session that runs in a container reads it to find
its image and refuses one whose id differs from the record (a tampered lock, an image
rebuilt or retagged behind its back), and one whose recorded inputs are no longer what
docker/ and the pins say (a changed Dockerfile or script: rebuild with `nox -s images`).
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from ..errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

HEADER = """\
# docker/images.lock: written by `nox -s images` (do not edit). One entry per image
# (ROLE-PLATFORM): its tag and local reference, the engine's image id, and `inputs`,
# the sha256 of everything that went into it (docker/, the pinned files it installs,
# the build args, the base). Sessions run only the image with this id.
"""


@dataclass(frozen=True)
class Entry:
    tag: str
    ref: str
    id: str
    inputs: str
    base: str
    base_ref: str
    python: str
    engine: str
    size_mib: float
    build_seconds: float


def _key(name: str) -> str:
    return name.replace("_", "-")


def path(root: Path) -> Path:
    return root / "docker" / "images.lock"


def read(root: Path, *, strict: bool = True) -> dict[str, Entry]:
    """The entries; strict=False (for `nox -s images`, which rewrites them) skips an
    incomplete entry instead of refusing the file."""
    file = path(root)
    if not file.is_file():
        return {}
    try:
        data = tomllib.loads(file.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ConfigError(
            f"{file} is not valid TOML: {err}",
            fix="restore it from git, or rebuild the images (`nox -s images`)",
        ) from None
    entries: dict[str, Entry] = {}
    for name, table in data.get("image", {}).items():
        try:
            values = {f.name: table[_key(f.name)] for f in fields(Entry)}
            entries[name] = Entry(**values)
        except (KeyError, TypeError) as err:
            if not strict:
                continue
            raise ConfigError(
                f"{file}: [image.{name}] is incomplete ({err})",
                fix="rebuild the image (`nox -s images`), which rewrites its entry",
            ) from None
    return entries


def _toml_value(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def render(entries: dict[str, Entry]) -> str:
    out = [HEADER]
    for name in sorted(entries):
        out.append(f"\n[image.{name}]\n")
        for key, value in asdict(entries[name]).items():
            out.append(f"{_key(key)} = {_toml_value(value)}\n")
    return "".join(out)
