"""The doctor's table (rich) and its JSON form (`--json`)."""

from __future__ import annotations

import json
from typing import Any

from ..util import console
from . import Report
from .result import VERDICTS

STYLES = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
SCHEMA_VERSION = 1


def as_json(report: Report) -> dict[str, Any]:
    ctx = report.ctx
    return {
        "schema": SCHEMA_VERSION,
        "target": ctx.target.name,
        "profile": ctx.profile if ctx.target.is_cuda else None,
        "toolchain": ctx.compiler.choice,
        "network": ctx.network,
        "offline": ctx.offline,
        "checks": [r.as_json() for r in report.results],
        "counts": {v: report.count(v) for v in VERDICTS},
        "ok": not report.failed,
        "exit_code": report.exit_code,
        "seconds": round(report.seconds, 3),
        "timings": report.timings,
    }


def show(report: Report, *, json_output: bool) -> None:
    if json_output:
        print(json.dumps(as_json(report), indent=2))
        return
    from rich.table import Table
    from rich.text import Text

    ctx = report.ctx
    title = f"doctor: target {ctx.target.name}"
    if ctx.target.is_cuda:
        title += f", profile {ctx.profile}, --toolchain {ctx.compiler.choice}"
    table = Table(title=title, show_lines=False)
    for column in ("check", "verdict", "detail", "fix"):
        table.add_column(column, overflow="fold")
    for r in report.results:
        # Text, not markup: details quote build-matrix.toml's [tables].
        table.add_row(r.name, Text(r.verdict, style=STYLES[r.verdict]), Text(r.detail), Text(r.fix))
    console.print(table, highlight=False)
    style = "red" if report.failed else "yellow" if report.count("warn") else "green"
    console.print(report.summary(), style=style, markup=False)
