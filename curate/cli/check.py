"""``curate check FILE...``: a thin shell over :func:`curate.check.main`'s code path."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    @app.command("check")
    def check(
        files: list[Path] = typer.Argument(..., help="Exported RFT files (.jsonl or .parquet)."),
        rules: list[str] = typer.Option(["default"], "--rules", help="Rule pack name or path (repeatable)."),
        near: bool = typer.Option(False, "--near", help="Also search near-duplicates and near train/valid overlap."),
        no_warnings: bool = typer.Option(False, "--no-warnings", help="Print errors only."),
        quiet: bool = typer.Option(False, "--quiet", help="Print nothing; exit status only."),
        target: str = typer.Option(None, "--target", help="Export target that wrote the files (default: from manifest.json beside them)."),
    ) -> None:
        """Validate exported RFT files: line format, row rules, duplicates, train/validation overlap."""
        from curate.check import run

        code = run(files, packs=rules, near=near, warnings=not no_warnings, quiet=quiet, target=target)
        raise typer.Exit(code)
