"""``curate inspect FILE`` and ``curate init FILE``: see a raw file's fields, then start a pipeline."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from curate.cli.common import fail


def register(app: typer.Typer) -> None:
    app.command("inspect")(inspect_command)
    app.command("init")(init_command)


def inspect_command(
    files: Annotated[list[Path], typer.Argument(help="A raw file: JSONL, JSON, CSV/TSV, Parquet or a saved dataset "
                                                      "folder; or several files, a quoted glob or a folder of files.")],
    fmt: Annotated[str | None, typer.Option("--format", help="Read as this format (default: from the suffix).")] = None,
    sample: Annotated[int, typer.Option(help="Profile at most this many rows.", min=1)] = 10_000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the profile as JSON.")] = False,
) -> None:
    """Show a file's fields (nested ones as dotted paths) with types, fill rates, lengths and examples,
    and which look like the id, the text, the labels or the answer."""
    from curate.errors import CurateError
    from curate.profiling import inspect_file, render_profile

    try:
        profile = inspect_file(files, fmt=fmt, sample=sample)
    except CurateError as exc:
        fail(str(exc))
    if as_json:
        data = asdict(profile)
        data["path"] = str(profile.path)
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        typer.echo(render_profile(profile))


def init_command(
    files: Annotated[list[Path], typer.Argument(help="The raw file the pipeline will read (or several files, a "
                                                      "quoted glob or a folder of files).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write (default: pipeline.yaml beside FILE).")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing pipeline file.")] = False,
    fmt: Annotated[str | None, typer.Option("--format", help="Read as this format (default: from the suffix).")] = None,
) -> None:
    """Write a commented starter pipeline.yaml for FILES, guessing its id, text, labels or answer."""
    from curate.errors import CurateError
    from curate.profiling import inspect_file
    from curate.starter import write_starter

    try:
        written = write_starter(files, out=out, force=force, profile=inspect_file(files, fmt=fmt))
    except CurateError as exc:
        fail(str(exc))
    typer.echo(f"wrote {written}: check its guesses, then run: curate run {written}")
