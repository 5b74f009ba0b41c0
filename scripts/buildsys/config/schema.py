"""JSON Schema of build-matrix.toml and sources.lock.toml, generated from the models.

    PYTHONPATH=scripts python -m buildsys.config.schema           # (re)write docs/schema
    PYTHONPATH=scripts python -m buildsys.config.schema --check   # exit 1 if they drifted

The schema is user documentation (every key has a description) and editor support:
TOML editors that read JSON Schema (Taplo / Even Better TOML) check the files as they
are typed (build-matrix.toml's first line points at its schema). What a schema cannot
say, the checks between tables (a target's kernel-profile must exist...), the loader
still checks.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .loader import LOCK_FILE, MATRIX_FILE
from .lock import SourcesLock
from .matrix import BuildMatrix

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_DIR = ROOT / "docs" / "schema"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
MODELS: dict[str, type[BaseModel]] = {MATRIX_FILE: BuildMatrix, LOCK_FILE: SourcesLock}


def schema_name(file: str) -> str:
    """'build-matrix.toml' -> 'build-matrix.schema.json'."""
    return file.removesuffix(".toml") + ".schema.json"


def _tomlify(node: Any) -> Any:
    """TOML has no null: an optional key is one that is left out, so `X | None` is X.
    And a length bound on a list or a table is minItems / minProperties (pydantic
    writes minLength for a constrained type wrapped in validators)."""
    if isinstance(node, list):
        return [_tomlify(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: _tomlify(v) for k, v in node.items()}
    for kind, key in (("array", "Items"), ("object", "Properties")):
        if node.get("type") == kind:
            for bound in ("min", "max"):
                if f"{bound}Length" in node:
                    node[f"{bound}{key}"] = node.pop(f"{bound}Length")
    options = node.get("anyOf")
    if isinstance(options, list):
        rest = [o for o in options if o != {"type": "null"}]
        if len(rest) != len(options):
            del node["anyOf"]
            if len(rest) == 1:
                node = {**rest[0], **node}
            else:
                node["anyOf"] = rest
    if node.get("default", 0) is None:
        del node["default"]
    return node


def generate() -> dict[str, dict[str, Any]]:
    """File name -> its JSON Schema."""
    out = {}
    for file, model in MODELS.items():
        schema = _tomlify(model.model_json_schema(by_alias=True, mode="validation"))
        schema["title"] = file
        schema["$schema"] = DIALECT
        out[file] = schema
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write(out_dir: Path = SCHEMA_DIR) -> list[Path]:
    """Write each file's schema into out_dir; returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for file, schema in generate().items():
        path = out_dir / schema_name(file)
        text = render(schema)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def drifted(out_dir: Path = SCHEMA_DIR) -> list[Path]:
    """The schema files in out_dir that differ from generate() (or are missing)."""
    stale = []
    for file, schema in generate().items():
        path = out_dir / schema_name(file)
        if not path.is_file() or path.read_text(encoding="utf-8") != render(schema):
            stale.append(path)
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m buildsys.config.schema", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    parser.add_argument("--out", type=Path, default=SCHEMA_DIR, help="the schema directory")
    args = parser.parse_args(argv)
    if args.check:
        stale = drifted(args.out)
        for path in stale:
            print(
                f"{path} is out of date: regenerate it with "
                "PYTHONPATH=scripts python -m buildsys.config.schema",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for path in write(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
