"""``curate grade`` and ``curate grader validate|build``: quick checks of a grader, offline.

curate grade --grader grader.json --item item.json --sample output.txt
curate grader validate grader.json
curate grader build multilabel_fbeta --set beta=2 > grader.json
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Any

import typer

from curate.errors import CurateError
from curate.io import strict_json
from curate.yaml_safe import file_error, read_json

grader_app = typer.Typer(help="Build and validate grader JSON.", no_args_is_help=True)


def _read_line(path: Path, number: int) -> Any:
    """The JSON value on line ``number`` of a JSONL item file (read up to that line only)."""
    try:
        with path.open("rb") as handle:
            raw = next(itertools.islice(handle, number - 1, None), None)
    except OSError as exc:
        raise file_error(path, "item file", exc) from None
    if raw is None:
        raise CurateError(f"{path} has fewer than {number} lines")
    try:
        return strict_json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, strict_json.JsonProblem) as exc:
        problem = "is not valid UTF-8" if isinstance(exc, UnicodeDecodeError) else str(exc)
        raise CurateError(f"{path}:{number}: the item {problem}") from None


def _fail(message: str) -> typer.Exit:
    """A usage or configuration error: one line, exit 2 (as every curate command)."""
    typer.echo(message, err=True)
    return typer.Exit(2)


def _from_env(envvar: str, help: str) -> Any:
    """An optional string option that falls back to the environment variable ``envvar``."""
    return typer.Option(None, envvar=envvar, help=help)


def grade(
    grader: Path = typer.Option(..., "--grader", "-g", help="grader JSON file"),
    item: Path = typer.Option(
        ...,
        "--item",
        "-i",
        help='item JSON: one exported row ({"item": ...} also works), or JSONL with --row',
    ),
    row_number: int = typer.Option(
        None, "--row", "-r", min=1, help="1-based line of a JSONL --item file"
    ),
    sample: Path = typer.Option(
        None, "--sample", "-s", help="file holding the model output text ('-' = stdin)"
    ),
    text: str = typer.Option(None, "--text", "-t", help="the model output text itself"),
    timeout: float = typer.Option(120.0, help="seconds per python grader call"),
    model_base_url: str = _from_env(
        "CURATE_GRADER_BASE_URL", "OpenAI-compatible endpoint for score_model/label_model graders"
    ),
    model_api_key: str = _from_env("CURATE_GRADER_API_KEY", "API key for --model-base-url"),
    embeddings_base_url: str = _from_env(
        "CURATE_EMBEDDINGS_BASE_URL", "OpenAI-compatible endpoint for cosine text_similarity graders"
    ),
    embeddings_api_key: str = _from_env("CURATE_EMBEDDINGS_API_KEY", "API key for --embeddings-base-url"),
    embeddings_model: str = typer.Option(
        None, help="embedding model for cosine (default text-embedding-3-large)"
    ),
    extract_answer: bool = typer.Option(
        True,
        "--extract-answer/--raw-output",
        help="template graders read the final answer (after </think>, inside a fenced block)",
    ),
) -> None:
    """Grade one model output against one item, exactly as the local runner does; print JSON."""
    from curate.graders import LocalGrader
    from curate.graders.protections import describe

    if (sample is None) == (text is None):
        raise _fail("give the model output with exactly one of --sample FILE or --text TEXT")
    try:
        spec = read_json(grader, "grader file")
        row = read_json(item, "item file") if row_number is None else _read_line(item, row_number)
        if isinstance(row, dict) and set(row) <= {"item", "sample"} and "item" in row:
            row = row["item"]
        if not isinstance(row, dict):
            raise CurateError(f"{item}: an item must be a JSON object")
        if text is None:
            text = sys.stdin.read() if str(sample) == "-" else sample.read_text(encoding="utf-8")
        with LocalGrader(
            spec,
            workers=1,
            timeout=timeout,
            model_base_url=model_base_url,
            model_api_key=model_api_key,
            embeddings_base_url=embeddings_base_url,
            embeddings_api_key=embeddings_api_key,
            embeddings_model=embeddings_model,
            extract_answer=extract_answer,
        ) as runner:
            result = runner.grade(text, row)
            sandbox = describe(runner.protections)
    except CurateError as exc:
        raise _fail(f"error: {exc}") from None
    if sandbox:
        typer.echo(sandbox, err=True)
    answer = {"score": result.score, "sub_scores": result.sub_scores, "errors": result.errors}
    if result.warnings:
        answer["warnings"] = result.warnings
    typer.echo(json.dumps(answer, indent=2))


@grader_app.command("validate")
def validate(
    paths: list[Path] = typer.Argument(..., help="grader JSON files"),
    local: bool = typer.Option(
        False, "--local", help="also accept what only curate's local runner runs (cosine)"
    ),
) -> None:
    """Check grader files against the platform's grader shapes; exit 1 on the first problem of any.
    Python graders importing a package the platform's sandbox lacks get a warning (stderr)."""
    from curate.graders import validate_grader
    from curate.graders.validate import platform_warnings

    failed = False
    for path in paths:
        try:
            spec = read_json(path, "grader file")
            validate_grader(spec, local=local)
        except CurateError as exc:
            message = str(exc)
            typer.echo(message if message.startswith(str(path)) else f"{path}: {message}", err=True)
            failed = True
            continue
        typer.echo(f"{path}: ok ({spec['type']} grader {spec['name']!r})")
        for warning in platform_warnings(spec):
            typer.echo(f"{path}: warning: {warning}", err=True)
    if failed:
        raise typer.Exit(1)


@grader_app.command("build")
def build(
    preset: str = typer.Argument(..., help="preset name, e.g. multilabel_f1"),
    answer_key: str = typer.Option("labels", help="key of the answer in sample.output_json"),
    set_: list[str] = typer.Option(
        [], "--set", help="preset parameter NAME=VALUE (VALUE read as JSON if it parses)"
    ),
) -> None:
    """Print the grader JSON a preset builds (what ``export.grader`` writes to grader.json)."""
    from curate.graders import build_grader

    spec: dict[str, Any] = {"preset": preset}
    for pair in set_:
        name, sep, value = pair.partition("=")
        if not sep:
            raise _fail(f"--set expects NAME=VALUE, got {pair!r}")
        try:
            spec[name] = json.loads(value)
        except ValueError:
            spec[name] = value
    try:
        grader = build_grader(spec, answer_key=answer_key)
    except CurateError as exc:
        raise _fail(f"error: {exc}") from None
    typer.echo(json.dumps(grader, indent=2, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add ``grade`` and the ``grader`` group to the ``curate`` app."""
    app.command("grade")(grade)
    app.add_typer(grader_app, name="grader")
