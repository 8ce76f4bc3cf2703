"""``curate explain OUT LINE|ID``: one row's journey through a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from curate.cli.common import fail


def register(app: typer.Typer) -> None:
    app.command("explain")(explain_command)


def explain_command(
    out: Annotated[Path, typer.Argument(help="A run's output folder (export.out).")],
    row: Annotated[str, typer.Argument(help="A 1-based source line number, a row id, or FILE:LINE (several inputs).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the explanation as JSON.")] = False,
) -> None:
    """Print one input row's journey: its findings, the rows it was paired with, where it ended."""
    from curate.errors import CurateError
    from curate.explain import explain, render

    try:
        story = explain(out, row)
    except CurateError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(story.rows, indent=2, ensure_ascii=False, default=str))
    else:
        typer.echo(render(story))
