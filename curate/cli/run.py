"""``curate run PIPELINE.yaml``: run a curation pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from curate.cli.common import console, fail, parse_sets


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)


def run_command(
    pipeline: Annotated[Path, typer.Argument(help="The pipeline YAML file.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (overrides export.out).")] = None,
    target: Annotated[str | None, typer.Option(help="Export target (overrides export.target).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for balancing and splitting.")] = None,
    engine: Annotated[str | None, typer.Option(
        help="Where the row stages run: local (default) or ray (overrides engine.name; docs/scale.md).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override any key: --set split.validation=40")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Load, check, balance, split and export a dataset; write the ledger, manifest and report."""
    from curate.errors import CurateError, GateFailed
    from curate.pipeline import Pipeline

    overrides = parse_sets(set_ or [])
    if out is not None:
        overrides["export.out"] = str(out.resolve())
    if target is not None:
        overrides["export.target"] = target
    if engine is not None:
        overrides["engine.name"] = engine
    err = console()
    try:
        pipeline_obj = Pipeline.from_file(pipeline, overrides)
        if seed is not None:  # seeds every seeded stage the pipeline has
            overrides["split.seed"] = seed
            if pipeline_obj.config.balance is not None:
                overrides["balance.seed"] = seed
            pipeline_obj = Pipeline.from_file(pipeline, overrides)
        if not quiet:
            pipeline_obj.progress = lambda message: err.print(f"[dim]•[/dim] {message}")
        result = pipeline_obj.run()
    except GateFailed as exc:
        err.print(f"[bold red]no-go:[/bold red] {exc}")
        raise typer.Exit(1) from None
    except CurateError as exc:
        fail(str(exc))
    if not quiet:
        counts = result.manifest["counts"]
        summary = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
        err.print(f"[green]done[/green]: {result.manifest['input_rows']} rows -> {summary}")
        err.print(f"outputs in {result.out_dir} (open report.html)")
