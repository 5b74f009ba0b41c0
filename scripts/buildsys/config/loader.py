"""Reading the two files: TOML syntax, then the models, each problem a ConfigError."""

from __future__ import annotations

import functools
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - nox itself may run on 3.10, where nox brings tomli
    import tomli as tomllib

from pydantic import BaseModel, ValidationError

from .errors import ConfigError, Problem, problems_from, toml_path, toml_value
from .lock import SourcesLock
from .matrix import BuildMatrix
from .values import did_you_mean, known_list

MATRIX_FILE = "build-matrix.toml"
LOCK_FILE = "sources.lock.toml"

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Config:
    """Both files of one repository, loaded and checked."""

    matrix: BuildMatrix
    lock: SourcesLock


def _validate(model: type[M], data: Any, file: str) -> M:
    if not isinstance(data, dict):
        raise ConfigError(
            file,
            [
                Problem(
                    file, "", "not a TOML document", found=type(data).__name__, allowed="a table"
                )
            ],
        )
    try:
        return model.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as err:
        raise ConfigError(file, problems_from(err, file=file, data=data, model=model)) from None


def parse_matrix(data: dict[str, Any], *, file: str = MATRIX_FILE) -> BuildMatrix:
    """build-matrix.toml's parsed TOML -> BuildMatrix, or a ConfigError naming every problem."""
    return _validate(BuildMatrix, data, file)


def parse_lock(data: dict[str, Any], *, file: str = LOCK_FILE) -> SourcesLock:
    """sources.lock.toml's parsed TOML -> SourcesLock, or a ConfigError naming every problem."""
    return _validate(SourcesLock, data, file)


def read_toml(path: Path, file: str | None = None) -> dict[str, Any]:
    """The file's TOML; an unreadable file or a syntax error is a ConfigError."""
    file = file or path.name
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        raise ConfigError(
            file,
            [Problem(file, "", f"cannot read {path}: {err.strerror or err}")],
            fix=f"run from the repository root, or restore {file}",
        ) from None
    except UnicodeDecodeError as err:
        raise ConfigError(
            file,
            [Problem(file, f"byte {err.start}", "not UTF-8 text", fix="save it as UTF-8")],
        ) from None
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise ConfigError(
            file,
            [Problem(file, "", "arrays or tables nested too deeply to read", fix="flatten them")],
        ) from None
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        where = re.search(r"\(at line (\d+), column (\d+)\)", message)
        path_text = f"line {where.group(1)}, column {where.group(2)}" if where else ""
        if where is None and re.search(r"\(at end of document\)", message):
            path_text = "end of file"
        reason = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", message)
        raise ConfigError(
            file,
            [
                Problem(
                    file,
                    path_text,
                    f"TOML syntax error: {reason}",
                    fix="correct the TOML at that place (https://toml.io)",
                )
            ],
        ) from None


def _stamp(path: Path) -> tuple[str, int, int]:
    resolved = path.resolve()
    try:
        st = resolved.stat()
    except OSError as err:
        raise ConfigError(
            path.name,
            [Problem(path.name, "", f"cannot read {path}: {err.strerror or err}")],
            fix=f"run from the repository root, or restore {path.name}",
        ) from None
    return str(resolved), st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=32)
def _matrix(path: str, mtime_ns: int, size: int, file: str) -> BuildMatrix:
    return parse_matrix(read_toml(Path(path), file), file=file)


@functools.lru_cache(maxsize=32)
def _lock(path: str, mtime_ns: int, size: int, file: str) -> SourcesLock:
    return parse_lock(read_toml(Path(path), file), file=file)


def load_matrix(path: Path) -> BuildMatrix:
    """build-matrix.toml at `path`, read once per process while it does not change."""
    return _matrix(*_stamp(path), path.name)


def load_lock(path: Path) -> SourcesLock:
    """sources.lock.toml at `path`, read once per process while it does not change."""
    return _lock(*_stamp(path), path.name)


def cross_check(matrix: BuildMatrix, lock: SourcesLock, *, file: str = LOCK_FILE) -> None:
    """What one file says about the other: a pinned toolchain's CUDA version is one that
    build-matrix.toml describes ([cuda-toolkits]), so its archs and glibc floor are known."""
    problems = []
    # toml_path spells a [[source]] by its index and name; those are all it reads.
    data = {"source": [{"name": s.name} for s in lock.source]}
    for i, src in enumerate(lock.source):
        cuda = src.toolchain_cuda
        if cuda is None or cuda in matrix.toolkits:
            continue
        hint = did_you_mean(cuda, matrix.toolkits)
        problems.append(
            Problem(
                file,
                toml_path(("source", i, "toolchain"), data),
                f"CUDA {cuda} (toolchain {src.toolchain}) is not in {MATRIX_FILE}'s "
                "[cuda-toolkits]",
                found=toml_value(src.toolchain),
                allowed="cuda-X.Y for a CUDA version in [cuda-toolkits]: "
                + known_list(matrix.toolkits),
                hint=hint,
                fix=f'add [cuda-toolkits."{cuda}"] to {MATRIX_FILE} (its SASS targets, '
                "min-glibc, max-gcc), or pin a toolchain of a known CUDA version",
            )
        )
    if problems:
        raise ConfigError(file, problems)


def load(root: Path) -> Config:
    """Both files of the repository at `root` (each cached by resolved path and mtime),
    cross-checked."""
    cfg = Config(matrix=load_matrix(root / MATRIX_FILE), lock=load_lock(root / LOCK_FILE))
    cross_check(cfg.matrix, cfg.lock)
    return cfg


def clear_cache() -> None:
    _matrix.cache_clear()
    _lock.cache_clear()
