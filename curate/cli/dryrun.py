"""``curate dryrun OUT_DIR --model NAME``: a thin shell over :func:`curate.dryrun.run_dryrun`.

Exit codes: 0 for go or caution, 1 for no-go (so CI can gate), 2 for a problem that stopped the
run (unreachable endpoint, bad key, unknown model, bad folder or grader) with a one-line message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from curate.errors import CurateError


def _print_report(report) -> None:
    from curate.graders.protections import describe

    s, u = report.summary, report.usage
    typer.echo(f"verdict: {s['verdict']}")
    for reason in s["reasons"]:
        typer.echo(f"  - {reason}")
    if not report.selftest["passed"]:
        for problem in report.selftest["problems"]:
            typer.echo(f"grader self-test: {problem}")
    typer.echo(
        f"items {s['items']}, samples {s['samples']}: mean {s['mean']:.3f}, zero variance "
        f"{s['frac_zero_variance']:.0%}, always min {s['frac_all_min']:.0%}, always max {s['frac_all_max']:.0%}"
    )
    if s["suspect_labels"]:
        typer.echo(f"suspected label errors ({len(s['suspect_labels'])}): {', '.join(map(str, s['suspect_labels']))}")
    for warning in report.warnings:
        typer.echo(f"warning: {warning}")
    cost = "unknown" if u["estimated_cost_usd"] is None else f"${u['estimated_cost_usd']:.4f}"
    typer.echo(
        f"requests sent this run: {report.requests_sent}; tokens: {u['prompt_tokens']} in, "
        f"{u['completion_tokens']} out ({u['reasoning_tokens']} reasoning); estimated cost {cost}"
    )
    if report.timings:
        typer.echo("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in report.timings.items()))
    sandbox = describe(report.sandbox)
    if sandbox:
        typer.echo(sandbox)
    typer.echo(f"report: {report.out_dir / 'dryrun.html'}")


def register(app: typer.Typer) -> None:
    """Add the ``dryrun`` command to ``app``."""

    @app.command("dryrun")
    def dryrun(
        out_dir: Annotated[Path, typer.Argument(help="Export folder (train.jsonl, grader.json, ...).")],
        model: Annotated[str | None, typer.Option(help="Model to sample, e.g. o4-mini (not needed with --selftest-only).")] = None,
        grader: Annotated[str | None, typer.Option(help="Grader JSON file or preset name (default: OUT_DIR/grader.json).")] = None,
        base_url: Annotated[str | None, typer.Option(help="OpenAI-compatible endpoint, e.g. http://localhost:8000/v1.")] = None,
        samples: Annotated[int, typer.Option(min=1, help="Samples per item.")] = 5,
        split: Annotated[str, typer.Option(help="train or valid.")] = "train",
        reasoning_effort: Annotated[str | None, typer.Option(help="minimal, low, medium or high.")] = None,
        temperature: Annotated[float | None, typer.Option(help="Sampling temperature (not for reasoning models).")] = None,
        max_completion_tokens: Annotated[int | None, typer.Option(help="Cap on tokens per answer.")] = None,
        concurrency: Annotated[int, typer.Option(min=1, help="Requests in flight.")] = 16,
        limit: Annotated[int | None, typer.Option(min=1, help="Study only the first N items.")] = None,
        api_key_env: Annotated[str, typer.Option(help="Environment variable holding the API key.")] = "OPENAI_API_KEY",
        timeout: Annotated[float, typer.Option(help="Seconds to wait for one answer.")] = 300.0,
        max_retries: Annotated[int, typer.Option(min=0, help="Retries on 429, 5xx and timeouts.")] = 8,
        grader_workers: Annotated[int, typer.Option(min=0, help="Grader worker processes (0: grade in this process).")] = 2,
        mark_ledger: Annotated[bool, typer.Option(help="Mark suspected label errors in ledger.parquet.")] = True,
        progress: Annotated[bool | None, typer.Option(help="Progress bar (default: when stderr is a terminal).")] = None,
        selftest_only: Annotated[bool, typer.Option(help="Grader self-test and audit only, offline: no model, no key.")] = False,
    ) -> None:
        """Grader self-test and baseline variance study; exit 1 on a no-go verdict."""
        from curate.dryrun import NO_GO, run_dryrun
        from curate.io.outdir import OutLock

        if model is None and not selftest_only:
            typer.echo("curate dryrun: --model is required (or --selftest-only for the offline grader checks)", err=True)
            raise typer.Exit(2)
        try:
            with OutLock(out_dir):  # a run swapping the folder in meanwhile would mix two runs' files
                report = run_dryrun(
                    out_dir, model=model or "", grader=grader, base_url=base_url, samples=samples, split=split,
                    reasoning_effort=reasoning_effort, temperature=temperature,
                    max_completion_tokens=max_completion_tokens, concurrency=concurrency, limit=limit,
                    api_key_env=api_key_env, timeout=timeout, max_retries=max_retries,
                    workers=grader_workers, mark_ledger=mark_ledger, progress=progress,
                    selftest_only=selftest_only,
                )
        except CurateError as exc:
            typer.echo(f"curate dryrun: {exc}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("curate dryrun: interrupted; responses received so far are cached, rerun to resume", err=True)
            raise typer.Exit(130) from None
        _print_report(report)
        raise typer.Exit(1 if report.verdict == NO_GO else 0)
