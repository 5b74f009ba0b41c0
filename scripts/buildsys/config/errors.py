"""ConfigError: every problem of one file in one error, each naming where, what, and what
is allowed.

pydantic reports each problem with its location (a tuple of keys and list indices), the
input it found, and an error type with its context (the Literal choices, the pattern,
the bound). Here a location becomes the key's full path in TOML spelling
(`[targets.cuda-x86_64] kernel-profle`, `[[source]] #2 (flash-attention) sha256`), the
expected type comes from the model's own annotations, and an unknown key gets the
closest key the table does have.
"""

from __future__ import annotations

import datetime
import json
import re
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from .. import errors as _errors
from .values import NAME_KEY, PATTERN_EXAMPLE, PATTERN_HELP, close_match, did_you_mean

FOUND_CHARS = 60
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_TYPE_WORDS = {
    "string_type": "a string",
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a table",
    "model_type": "a table",
    "model_attributes_type": "a table",
}


SCHEMAS = {
    "build-matrix.toml": "docs/schema/build-matrix.schema.json",
    "sources.lock.toml": "docs/schema/sources.lock.schema.json",
}


@dataclass(frozen=True)
class Problem:
    """One problem of a file, at one key."""

    file: str
    path: str  # the key's path in TOML spelling; "" for the whole file
    message: str  # what is wrong
    found: str = ""  # what was there (TOML spelling, shortened); "" when nothing was
    allowed: str = ""  # what may be there
    hint: str = ""  # "did you mean 'kernel-profile'?"
    fix: str = ""

    def __str__(self) -> str:
        parts = [self.message]
        if self.found:
            parts.append(f"found {self.found}")
        if self.allowed:
            parts.append(f"allowed: {self.allowed}")
        if self.hint:
            parts.append(self.hint)
        if self.fix:
            parts.append(f"fix: {self.fix}")
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: " + "; ".join(parts)


# buildsys.errors.ConfigError (exit code 3) where it exists, so `except ConfigError`
# and the exit code hold whichever of the two a caller imports.
_ConfigErrorBase: type[_errors.BuildError] = getattr(_errors, "ConfigError", _errors.BuildError)


class ConfigError(_ConfigErrorBase):  # type: ignore[misc,valid-type]
    """build-matrix.toml or sources.lock.toml is unreadable, not TOML, or not valid.

    `problems` holds each problem (file, TOML path, message, found, allowed, hint, fix);
    str() shows them one per line.
    """

    def __init__(self, file: str, problems: list[Problem], *, fix: str = "") -> None:
        self.file = file
        self.problems = tuple(problems)
        n = len(self.problems)
        what = f"{file} is not valid ({n} problem{'' if n == 1 else 's'}):\n" + "\n".join(
            f"  {p}" for p in self.problems
        )
        if not fix:
            fix = f"correct {file}"
            if file in SCHEMAS:
                fix += f"; {SCHEMAS[file]} describes every key"
        super().__init__(what, fix=fix)


# -- TOML spelling -----------------------------------------------------------------------


def toml_value(value: Any, limit: int = FOUND_CHARS) -> str:
    """A value as TOML would spell it, shortened to about `limit` characters."""
    text = _toml(value, depth=0)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _toml(value: Any, depth: int) -> str:
    if depth > 3:
        return "..."
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value[:200], ensure_ascii=False) + ("..." if len(value) > 200 else "")
    if isinstance(value, int):
        text = (
            str(value)
            if abs(value) < 10**30
            else f"{str(value)[:12]}...({value.bit_length()} bits)"
        )
        return text
    if isinstance(value, (list, tuple)):
        items = [_toml(v, depth + 1) for v in value[:8]]
        return "[" + ", ".join(items) + (", ..." if len(value) > 8 else "") + "]"
    if isinstance(value, dict):
        items = [f"{toml_key(k)} = {_toml(v, depth + 1)}" for k, v in list(value.items())[:6]]
        if not items:
            return "{}"
        return "{ " + ", ".join(items) + (", ..." if len(value) > 6 else "") + " }"
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if value is None:
        return "nothing (None)"
    return repr(value)[:200]


def toml_key(key: Any) -> str:
    key = str(key)
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def _kind(value: Any) -> str:
    for t, word in (
        (bool, "a boolean"),
        (str, "a string"),
        (int, "an integer"),
        (float, "a number"),
        ((list, tuple), "a list"),
        (dict, "a table"),
        ((datetime.date, datetime.time), "a date or time"),
    ):
        if isinstance(value, t):
            return word
    return "nothing" if value is None else type(value).__name__


def toml_path(loc: tuple[Any, ...], data: Any, *, table: bool = False) -> str:
    """('targets', 'cuda-x86_64', 'sass-archs', 0) -> '[targets.cuda-x86_64] sass-archs[0]'.

    The tables along `loc` that exist in `data` make the header; with `table`, the rest
    of `loc` is a table too (a missing [python], say).
    """
    header: list[str] = []
    array: str = ""  # "[[source]] #2 (cutlass)" once loc enters an array of tables
    node = data
    i = 0
    while i < len(loc) and not array:
        key = loc[i]
        value = node.get(key) if isinstance(node, dict) else None
        if isinstance(value, dict):
            header.append(toml_key(key))
            node, i = value, i + 1
            continue
        index = loc[i + 1] if i + 1 < len(loc) else None
        if (
            isinstance(value, list)
            and isinstance(index, int)
            and 0 <= index < len(value)
            and all(isinstance(v, dict) for v in value)  # an array of tables: [[key]]
        ):
            name = value[index].get("name")
            label = f" ({toml_value(name, 40)})" if isinstance(name, str) else ""
            array = f"[[{'.'.join([*header, toml_key(key)])}]] #{index + 1}{label}"
            node, i = value[index], i + 2
            continue
        break
    rest = list(loc[i:])
    if table and not array:
        while rest and not isinstance(rest[0], int):
            header.append(toml_key(rest.pop(0)))
    keys = ""
    for key in rest:
        if isinstance(key, int):
            keys += f"[{key}]"
        else:
            keys += ("." if keys else "") + toml_key(key)
    head = array or (f"[{'.'.join(header)}]" if header else "")
    return " ".join(p for p in (head, keys) if p)


# -- the models' own types, for "allowed" ------------------------------------------------


def _unwrap(tp: Any) -> tuple[Any, list[Any]]:
    meta: list[Any] = []
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp, *more = get_args(tp)
            meta.extend(more)
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp, meta
            tp = args[0]
        else:
            return tp, meta


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def aliases(model: type[BaseModel]) -> list[str]:
    """The TOML keys of a model's table."""
    return [f.alias or n for n, f in model.model_fields.items() if (f.alias or n) != NAME_KEY]


def field_at(model: Any, loc: tuple[Any, ...]) -> tuple[Any, list[Any], FieldInfo | None] | None:
    """The annotation (and its metadata, and the FieldInfo if loc ends at a model's
    field) that `model` declares at `loc`, or None where it declares nothing."""
    tp, meta, info = model, [], None
    for key in loc:
        tp, _ = _unwrap(tp)
        if _is_model(tp):
            found = [f for n, f in tp.model_fields.items() if (f.alias or n) == key]
            if not found:
                return None
            info = found[0]
            tp, meta = info.annotation, list(info.metadata)
        elif get_origin(tp) in (dict, tuple) and len(get_args(tp)) >= 2:
            args = get_args(tp)
            tp, meta, info = (args[1] if get_origin(tp) is dict else args[0]), [], None
        else:
            return None
    return tp, meta, info


def _example(tp: Any, meta: list[Any] | tuple[Any, ...] = ()) -> str:
    """A value of type `tp`, in TOML, for a "fix: add KEY = VALUE"."""
    tp, more = _unwrap(tp)
    for m in [*meta, *more]:
        pat = getattr(m, "pattern", None)
        if isinstance(pat, str):
            return PATTERN_EXAMPLE.get(pat, '"..."')
    if get_origin(tp) is Literal:
        return _toml(get_args(tp)[0], 0)
    if get_origin(tp) is tuple:
        return f"[{_example(get_args(tp)[0])}]"
    return {str: '"..."', bool: "false", int: "1", float: "1.0"}.get(tp, "...")


def describe(tp: Any, meta: list[Any] | tuple[Any, ...] = ()) -> str:
    """What a value of type `tp` may be, in words."""
    tp, more = _unwrap(tp)
    meta = [*meta, *more]
    for m in meta:
        pat = getattr(m, "pattern", None)
        if isinstance(pat, str):
            return PATTERN_HELP.get(pat, f"a string matching {pat}")
    limits: dict[str, Any] = {}
    for m in meta:
        for attr in ("gt", "ge", "lt", "le"):
            bound = getattr(m, attr, None)
            if isinstance(bound, (int, float)) and not isinstance(bound, bool):
                limits[attr] = bound
    if "ge" in limits and "le" in limits:
        bounds = f" from {limits['ge']} to {limits['le']}"
    else:
        ops = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
        bounds = "".join(f" {ops[k]} {v}" for k, v in limits.items())
    non_empty = any((getattr(m, "min_length", None) or 0) > 0 for m in meta)
    origin = get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(_toml(a, 0) for a in get_args(tp))
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "an integer" + bounds
    if tp is float:
        return "a number" + bounds + " (an integer is fine)"
    if origin is tuple:
        return f"a {'non-empty ' if non_empty else ''}list, each {describe(get_args(tp)[0])}"
    if origin is dict:
        return f"a {'non-empty ' if non_empty else ''}table of {describe(get_args(tp)[1])}"
    if _is_model(tp):
        return f"a table ({', '.join(aliases(tp))})"
    return getattr(tp, "__name__", str(tp))


# -- pydantic errors -> problems -----------------------------------------------------------


def problems_from(
    err: ValidationError, *, file: str, data: Any, model: type[BaseModel]
) -> list[Problem]:
    out: list[Problem] = []
    for e in err.errors(include_url=False):
        for problem in _problems(dict(e), file=file, data=data, model=model):
            # A bad table name is reported by its key and by the name the table's model
            # is handed: once is enough.
            if problem not in out:
                out.append(problem)
    return out


def _problems(e: dict[str, Any], *, file: str, data: Any, model: Any) -> Iterator[Problem]:
    loc = tuple(e.get("loc", ()))
    kind = str(e.get("type", ""))
    ctx = e.get("ctx") or {}
    value = e.get("input")

    if kind == "config_check":
        for p in ctx.get("problems", ()):
            ploc = (*loc, *p["loc"])
            at = field_at(model, ploc)
            is_table = at is not None and (_is_model(_unwrap(at[0])[0]) or not p["loc"])
            yield Problem(
                file,
                toml_path(ploc, data, table=is_table),
                p["message"],
                found="" if p["found"] is None else toml_value(p["found"]),
                allowed=p["allowed"],
                fix=p["fix"],
            )
        return

    if loc and loc[-1] in (NAME_KEY, "[key]") and len(loc) >= 2:
        # The table's name (its key) or a key of a table of values ([images], say).
        name = loc[-2]
        yield Problem(
            file,
            toml_path(loc[:-1], data, table=isinstance(value, dict) or loc[-1] == NAME_KEY),
            f"the name {toml_value(name)} cannot be used",
            found=f"{toml_value(name)} ({_kind(name)})" if kind.endswith("_type") else "",
            allowed=_allowed(kind, ctx, loc, model),
            fix="rename it",
        )
        return

    at = field_at(model, loc)
    is_table = at is not None and (
        _is_model(_unwrap(at[0])[0]) or get_origin(_unwrap(at[0])[0]) is dict
    )

    if kind == "extra_forbidden":
        key = loc[-1] if loc else ""
        parent = field_at(model, loc[:-1])
        known = (
            aliases(_unwrap(parent[0])[0]) if parent and _is_model(_unwrap(parent[0])[0]) else []
        )
        match = close_match(key, known)
        hint = did_you_mean(key, known)
        yield Problem(
            file,
            toml_path(loc, data, table=isinstance(value, dict)),
            "unknown key"
            + (f" (= {toml_value(value, 30)})" if not isinstance(value, dict) else ""),
            allowed="" if hint else ", ".join(known),
            hint=hint,
            fix=f"rename it to {match}" if match else "remove it",
        )
        return

    if kind == "missing":
        key = loc[-1] if loc else ""
        info = at[2] if at else None
        desc = f" ({info.description})" if info is not None and info.description else ""
        if info is not None and info.examples:
            example = toml_value(info.examples[0])
        else:
            example = _example(at[0], at[1]) if at else "..."
        parent = toml_path(loc[:-1], data, table=True) or "the top level"
        if is_table:
            fix = f"add a [{toml_path(loc, data, table=True).strip('[]')}] table"
        else:
            fix = f"add {toml_key(key)} = {example} to {parent}"
        yield Problem(
            file,
            toml_path(loc, data, table=is_table),
            "missing" + desc,
            allowed=describe(at[0], at[1]) if at else "",
            fix=fix,
        )
        return

    if kind == "float_type" and isinstance(value, int) and not isinstance(value, bool):
        message = "too large"
    elif kind in _TYPE_WORDS:
        message = "wrong type"
    elif kind in ("unsafe_name", "unsafe_path", "duplicate"):
        message = str(e.get("msg", kind))
    elif kind == "too_short":
        message = "empty" if not value else "too few items"
    else:
        message = "not allowed"
    yield Problem(
        file,
        toml_path(loc, data, table=False),
        message,
        found=f"{toml_value(value)} ({_kind(value)})",
        allowed=_allowed(kind, ctx, loc, model),
    )


def _allowed(kind: str, ctx: dict[str, Any], loc: tuple[Any, ...], model: Any) -> str:
    if ctx.get("allowed"):
        return str(ctx["allowed"])
    if kind == "literal_error" and "expected" in ctx:
        return f"one of {ctx['expected']}"
    if kind == "string_pattern_mismatch" and "pattern" in ctx:
        return PATTERN_HELP.get(str(ctx["pattern"]), f"a string matching {ctx['pattern']}")
    bounded = [k for k in ("gt", "ge", "lt", "le") if k in ctx]
    if bounded and (at := field_at(model, loc)) is not None:
        return describe(at[0], at[1])
    for key, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")):
        if key in ctx:
            return f"{op} {ctx[key]}"
    if kind == "too_short" and "min_length" in ctx:
        n = ctx["min_length"]
        return "at least one item" if n == 1 else f"at least {n} items"
    if kind == "finite_number":
        return "a finite number"
    at = field_at(model, loc)
    if at is not None:
        return describe(at[0], at[1])
    return _TYPE_WORDS.get(kind, kind.replace("_", " "))
