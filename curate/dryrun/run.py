"""The dry run: grader self-test, then the variance study, then ``dryrun.json`` and ``dryrun.html``.

``run_dryrun`` reads an export folder, checks the grader without a model, samples the base model
``samples`` times per item of the split (through the response cache), grades every sample
locally with the same grader, computes per-item statistics and the verdict, marks suspected label
errors in the ledger and writes the reports. When the self-test fails no request is sent: the
verdict is no-go and paying for samples would not change it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate.dryrun.audit import audit_grader
from curate.dryrun.cache import CACHE_DIR, ResponseCache, request_key
from curate.dryrun.client import (
    ClientSettings,
    EndpointError,
    SampleRequest,
    resolve_api_key,
    sample_missing,
)
from curate.dryrun.grading import open_grader, score_range
from curate.dryrun.ledger_feedback import mark_suspects
from curate.dryrun.outdir import AnswerFormat, load_items, read_json
from curate.dryrun.page import render_html
from curate.dryrun.selftest import self_test
from curate.dryrun.stats import NO_GO, item_stats, summarize
from curate.dryrun.usage import usage_summary
from curate.errors import ConfigError
from curate.graders import build_grader
from curate.graders.protections import summarize as summarize_sandbox
from curate.io.atomic import write_text_atomic
from curate.options import check_env_name

REPORT_JSON = "dryrun.json"
REPORT_HTML = "dryrun.html"
MAX_EXAMPLES = 5  # off-schema responses quoted in the warnings


@dataclass(frozen=True)
class DryRunReport:
    """What a dry run found; ``to_dict()`` is the content of ``dryrun.json``."""

    out_dir: Path
    model: str
    split: str
    samples: int
    params: dict[str, Any]
    score_range: tuple[float, float]
    items: list[dict[str, Any]]
    summary: dict[str, Any]
    selftest: dict[str, Any]
    usage: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    sandbox: dict[str, str] | None = None  # how python graders were isolated (LocalGrader.protections)
    requests_sent: int = 0  # HTTP requests this run (retries included); not in dryrun.json
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase; not in dryrun.json

    @property
    def verdict(self) -> str:
        return self.summary["verdict"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "split": self.split, "samples": self.samples, "params": self.params,
            "range": list(self.score_range), "summary": self.summary, "items": self.items,
            "selftest": self.selftest, "usage": self.usage, "warnings": self.warnings,
            "grader_sandbox": None if self.sandbox is None else summarize_sandbox(self.sandbox),
        }


def load_grader(grader: str | Path | Mapping[str, Any] | None, out_dir: Path, answer_key: str) -> dict[str, Any]:
    """The grader JSON: a mapping, a file, a preset name of :mod:`curate.graders`, or the export's."""
    if isinstance(grader, Mapping):
        return dict(grader)
    path = Path(out_dir) / "grader.json" if grader is None else Path(grader)
    if path.exists():
        return read_json(path, "grader")
    if grader is None:
        raise ConfigError(f"{path}: no grader; pass --grader FILE or export with a grader")
    if path.suffix == ".json" or len(path.parts) > 1:
        raise ConfigError(f"{path}: grader file not found")
    return build_grader(str(grader), answer_key=answer_key)


def _progress(enabled: bool | None):
    """A rich progress bar (or a no-op) as (context manager, start(total) -> advance callback)."""
    from contextlib import nullcontext

    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return nullcontext(), lambda total: None
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    bar = Progress(TextColumn("sampling"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   transient=True)

    def start(total: int):
        task = bar.add_task("sampling", total=total)
        return lambda: bar.advance(task)

    return bar, start


def run_dryrun(
    out_dir: str | Path,
    *,
    model: str,
    grader: str | Path | Mapping[str, Any] | None = None,
    base_url: str | None = None,
    samples: int = 5,
    split: str = "train",
    reasoning_effort: str | None = None,
    temperature: float | None = None,
    max_completion_tokens: int | None = None,
    concurrency: int = 16,
    limit: int | None = None,
    api_key_env: str = "OPENAI_API_KEY",
    timeout: float = 300.0,
    max_retries: int = 8,
    prices: tuple[float, float] | None = None,
    workers: int = 2,
    mark_ledger: bool = True,
    progress: bool | None = None,
    selftest_only: bool = False,
) -> DryRunReport:
    """Run the dry run on an export folder and write ``dryrun.json`` and ``dryrun.html`` there.

    ``selftest_only`` runs the grader self-test and audit only: no model, no key, no request.

    Raises :class:`curate.dryrun.EndpointError` when the endpoint cannot be used (responses
    received so far stay cached) and :class:`curate.errors.ConfigError` for a bad folder or grader.

    >>> report = run_dryrun("out", model="o4-mini", samples=5, reasoning_effort="low")  # doctest: +SKIP
    >>> report.verdict, report.summary["frac_zero_variance"]                         # doctest: +SKIP
    ('go', 0.32)
    """
    out = Path(out_dir)
    check_env_name(api_key_env, "dryrun", "api_key_env")
    if samples < 1 or concurrency < 1:
        raise ConfigError("samples and concurrency must be at least 1")
    items = load_items(out, split)[: limit or None]
    fmt_path = out / "response_format.json"
    fmt = read_json(fmt_path, "response format") if fmt_path.exists() else None
    warnings = [] if fmt else ["no response_format.json: requests are sent without structured output"]
    answer = AnswerFormat.from_response_format(fmt)
    spec = load_grader(grader, out, answer.key)
    low_high = score_range(spec)
    params = {k: v for k, v in {"reasoning_effort": reasoning_effort, "temperature": temperature,
                                "max_completion_tokens": max_completion_tokens}.items() if v is not None}
    settings = ClientSettings(model=model, base_url=base_url, api_key_env=api_key_env, response_format=fmt,
                              params=params, concurrency=concurrency, timeout=timeout, max_retries=max_retries)
    rows: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    sent = off_schema = 0
    clock = _Clock()
    with open_grader(spec, workers=workers) as graded:
        sandbox = graded.protections
        selftest = self_test(graded, items, answer, low_high)
        selftest["audit"] = audit_grader(graded, items, answer, low_high)
        warnings += selftest["audit"]["warnings"]
        clock.lap("selftest")
        if selftest["passed"] and not selftest_only:
            requests = [
                SampleRequest(i, str(item["id"]), s, item["messages"],
                              request_key(model, item["messages"], fmt, params, s))
                for i, item in enumerate(items) for s in range(samples)
            ]
            records, sent = _sample(requests, settings, out / CACHE_DIR, progress)
            clock.lap("sampling")
            results = graded.grade_many([(rec["content"], items[r.item]) for r, rec in zip(requests, records, strict=True)])
            clock.lap("grading")
            multi = spec.get("type") == "multi"
            rows = [_item_row(item, results[i * samples:(i + 1) * samples], multi) for i, item in enumerate(items)]
            off_schema, warning = _schema_warning(answer, requests, records)
            warnings += [warning] if warning else []
            warnings += _finish_warnings(records)
    summary = summarize(rows, selftest_passed=selftest["passed"], score_range=low_high,
                        off_schema=off_schema, responses=len(records))
    if not selftest["passed"]:
        summary["reasons"].append("no samples were drawn: fix the grader first")
    elif selftest_only:
        summary["verdict"], summary["reasons"] = "caution", ["self-test only: no model was sampled"]
    if mark_ledger and rows:
        mark_suspects(out, studied=[r["id"] for r in rows], suspects=summary["suspect_labels"])
    report = DryRunReport(
        out_dir=out, model=model, split=split, samples=samples, params=params, score_range=low_high,
        items=rows, summary=summary, selftest=selftest, usage=usage_summary(records, model=model, prices=prices),
        warnings=warnings, sandbox=sandbox, requests_sent=sent, timings=clock.laps,
    )
    write_reports(report)
    clock.lap("reports")
    return report


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 4)
        self._last = now


def _sample(requests: list[SampleRequest], settings: ClientSettings, cache_dir: Path,
            progress: bool | None) -> tuple[list[dict[str, Any]], int]:
    """Every request's response (from the cache, fetching the missing ones) and the HTTP requests sent."""
    with ResponseCache(cache_dir) as cache:
        bar, start = _progress(progress)
        with bar:
            missing = len({r.key for r in requests if r.key not in cache})
            api_key = resolve_api_key(settings) if missing else None  # no key, no request: fail first
            try:
                sent = sample_missing(requests, settings, cache, on_response=start(missing), api_key=api_key,
                                      secrets=known_secrets(settings))
            except EndpointError as exc:
                done = sum(r.key in cache for r in requests)
                if not done:
                    raise
                raise EndpointError(f"{exc} ({done} of {len(requests)} responses cached; rerun to resume)") from None
        return [cache.get(r.key) for r in requests], sent  # type: ignore[misc]


SECRET_VARIABLES = ("OPENAI_API_KEY", "CURATE_GRADER_API_KEY")


def known_secrets(settings: ClientSettings) -> list[str]:
    """Values of the variables that hold keys (``api_key_env`` and the usual ones): masked wherever
    the dry run writes."""
    names = dict.fromkeys((settings.api_key_env, *SECRET_VARIABLES))
    return [value for name in names if (value := os.environ.get(name, ""))]


def _item_row(item: Mapping[str, Any], results: list[Any], multi: bool) -> dict[str, Any]:
    """Statistics of one item's graded samples, with per-sub-grader statistics for a multi grader."""
    row = item_stats(item["id"], [g.score for g in results])
    names = sorted({k for g in results for k in g.sub_scores}) if multi else []
    if names:
        row["sub_scores"] = {}
        for name in names:
            sub = item_stats(item["id"], [g.sub_scores.get(name, 0.0) for g in results])
            del sub["id"]
            row["sub_scores"][name] = sub
    return row


def _finish_warnings(records: list[dict[str, Any]]) -> list[str]:
    """Warnings for answers cut short by the token limit and for refusals."""
    out = []
    cut = sum(1 for r in records if r.get("finish_reason") == "length")
    if cut:
        out.append(f"{cut} of {len(records)} responses were cut short by the token limit (finish_reason 'length')")
    refused = sum(1 for r in records if r.get("refusal"))
    if refused:
        out.append(f"{refused} of {len(records)} responses are refusals")
    return out


def _schema_warning(answer: AnswerFormat, requests: list[SampleRequest],
                    records: list[dict[str, Any]]) -> tuple[int, str | None]:
    """How many responses do not match the response format, and a warning quoting a few items."""
    first: dict[str, str] = {}
    bad = 0
    for request, record in zip(requests, records, strict=True):
        problem = answer.problem(record["content"])
        if problem is not None:
            bad += 1
            first.setdefault(request.item_id, problem)
    if not bad:
        return 0, None
    examples = "; ".join(f"item {i!r}: {p}" for i, p in list(first.items())[:MAX_EXAMPLES])
    return bad, f"{bad} of {len(records)} responses do not match the response format ({examples})"


def write_reports(report: DryRunReport) -> None:
    """Write ``dryrun.json`` and ``dryrun.html`` into the report's folder, each atomically."""
    data = report.to_dict()
    write_text_atomic(report.out_dir / REPORT_JSON, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    write_text_atomic(report.out_dir / REPORT_HTML, render_html(data))


__all__ = ["DryRunReport", "run_dryrun", "load_grader", "write_reports", "NO_GO"]
