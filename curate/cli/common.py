"""Shared bits of the command line: the error console, failing cleanly, ``--set`` parsing."""

from __future__ import annotations

from typing import Any, NoReturn

import typer

from curate import yaml_safe
from curate.errors import CurateError


def console():
    """A rich console on standard error (colours only on a terminal)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` without a traceback and exit with ``code``."""
    console().print(f"[bold red]error:[/bold red] {message}", markup=True, soft_wrap=True)
    raise typer.Exit(code)


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``["split.seed=3", "export.target=verl"]`` -> ``{"split.seed": 3, "export.target": "verl"}``.

    Values are read as YAML, so numbers, booleans and lists keep their types.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = yaml_safe.loads(value, f"--set {key.strip()}")
        except CurateError as exc:
            fail(str(exc))
    return out
