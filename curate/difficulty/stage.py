"""The ``difficulty:`` stage: sample the baseline model on every candidate item, keep the middle band.

Runs after the rules and before balance/split. Prompts and the response format come from
:func:`curate.export.bundle.build_bundle` with the run's own export settings, so each request is
byte-identical to what the export writes; each sample is graded locally with the export's grader
(:class:`curate.graders.LocalGrader`, any kind). Responses go through the same on-disk cache as
``curate dryrun`` (``OUT/.dryrun-cache``): a rerun sends nothing and an interrupted run resumes.

Items whose mean score (scaled to [0, 1]) lies in ``keep: [lo, hi]`` stay in the pool; the others
end ``unused`` with the finding ``too_easy`` or ``too_hard``; items whose samples all scored the same
also get ``no_signal``. The ledger gains ``difficulty_mean``, ``difficulty_std`` and
``difficulty_samples``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from curate.difficulty.cost import SpendCache, estimate_cost
from curate.difficulty.rule import KEEP, TOO_EASY, TOO_HARD, band_of, decided
from curate.errors import ConfigError
from curate.frame import ID, LABEL_NAMES, LINE, WARN, empty_findings, findings_for
from curate.options import Param, parse_options

EFFORTS = ("minimal", "low", "medium", "high")
NO_SIGNAL = "no_signal"
HISTOGRAM_BINS = 10
COLUMNS = {"difficulty_mean": pl.Float64, "difficulty_std": pl.Float64, "difficulty_samples": pl.Int64}

DIFFICULTY_PARAMS = (
    Param("model", str),
    Param("base_url", str, None, nullable=True),
    Param("samples", int, 5, low=1, high=100),
    Param("keep", list, [0.1, 0.9]),
    Param("concurrency", int, 16, low=1, high=1024),
    Param("reasoning_effort", str, None, choices=(*EFFORTS, None), nullable=True),
    Param("temperature", (int, float), None, low=0, high=2, nullable=True),
    Param("max_completion_tokens", int, None, low=1, nullable=True),
    Param("completion_tokens", int, None, low=1, nullable=True),  # expected per sample, for the estimate
    Param("price", list, None, nullable=True),  # [input, output] dollars per million tokens
    Param("max_cost", (int, float), None, low=0, nullable=True),
    Param("api_key_env", str, "OPENAI_API_KEY"),
    Param("adaptive", bool, False),
    Param("grader_workers", int, 0, low=0, high=64),
    Param("timeout", (int, float), 300.0, low=1),
    Param("max_retries", int, 8, low=0, high=50),
)


def difficulty_options(mapping: Mapping[str, Any] | None, where: str = "") -> dict[str, Any]:
    """The checked ``difficulty:`` section (a bad config fails before any work)."""
    opts = parse_options("difficulty", mapping, DIFFICULTY_PARAMS, where)
    keep = opts["keep"]
    if (len(keep) != 2 or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in keep)
            or not 0 <= keep[0] <= keep[1] <= 1):
        raise ConfigError(f"{where}difficulty: keep must be [lo, hi] with 0 <= lo <= hi <= 1; got {keep!r}")
    opts["keep"] = (float(keep[0]), float(keep[1]))
    price = opts["price"]
    if price is not None and (len(price) != 2 or not all(isinstance(x, int | float) and not isinstance(x, bool)
                                                          and x >= 0 for x in price)):
        raise ConfigError(f"{where}difficulty: price must be [input, output] dollars per million tokens; got {price!r}")
    if opts["max_cost"] is not None and price is None:
        raise ConfigError(f"{where}difficulty: max_cost needs price: [input, output] dollars per million tokens")
    return opts


@dataclass
class DifficultyResult:
    """What the stage decided: the kept pool, its findings, the ledger columns, the manifest entry."""

    pool: pl.DataFrame
    findings: pl.DataFrame
    columns: pl.DataFrame  # line + COLUMNS, one row per sampled item
    summary: dict[str, Any] = field(default_factory=dict)
    requests_sent: int = 0


def run_difficulty(
    pool: pl.DataFrame,
    opts: Mapping[str, Any],
    *,
    bundle_for: Callable[[pl.DataFrame], Any],
    grader: Mapping[str, Any],
    out_dir: Path,
    say: Callable[[str], None] = lambda message: None,
    progress: bool | None = None,
) -> DifficultyResult:
    """Sample, grade and band every row of ``pool`` (see the module docstring).

    ``bundle_for(frame)`` builds the export bundle of ``frame`` as a ``train`` split (the run's own
    prompts and response format). Raises :class:`ConfigError` when ``max_cost`` is under the estimate
    (before any request) and :class:`curate.dryrun.EndpointError` when the endpoint cannot be used.
    """
    from curate.dryrun.audit import audit_grader
    from curate.dryrun.cache import CACHE_DIR, request_key
    from curate.dryrun.client import ClientSettings
    from curate.dryrun.grading import open_grader, score_range
    from curate.dryrun.outdir import AnswerFormat

    band, n = opts["keep"], opts["samples"]
    if not pool.height:
        return DifficultyResult(pool, empty_findings(), pl.DataFrame(schema={LINE: pl.Int64, **COLUMNS}))
    bundle = bundle_for(pool)
    items = bundle.items("train").to_dicts()
    fmt = bundle.response_format
    params = {k: opts[k] for k in ("reasoning_effort", "temperature", "max_completion_tokens") if opts[k] is not None}
    settings = ClientSettings(model=opts["model"], base_url=opts["base_url"], api_key_env=opts["api_key_env"],
                              response_format=fmt, params=params, concurrency=opts["concurrency"],
                              timeout=opts["timeout"], max_retries=opts["max_retries"])
    keys = [[request_key(opts["model"], item["messages"], fmt, params, s) for s in range(n)] for item in items]
    cache_dir = Path(out_dir) / CACHE_DIR
    estimate = estimate_cost(bundle, n, opts)
    with SpendCache(cache_dir, opts["price"]) as cache:
        missing = sum(k not in cache for ks in keys for k in ks)
        say(estimate.describe(missing, len(items) * n))
        if opts["max_cost"] is not None and estimate.cost_of(missing) > opts["max_cost"]:
            raise ConfigError(
                f"difficulty: estimated cost ${estimate.cost_of(missing):.4f} for {missing} requests "
                f"({estimate.how}) is over max_cost ${opts['max_cost']:g}; nothing was sent"
            )
        low, high = score_range(grader)
        scale = (high - low) or 1.0
        with open_grader(grader, workers=opts["grader_workers"]) as graded:
            audit = audit_grader(graded, items, AnswerFormat.from_response_format(fmt), (low, high))
            for warning in audit["warnings"]:
                say(f"warning: {warning}")
            sampler = _Sampler(items, keys, settings, cache, graded, progress)
            scores = sampler.run(n, band if opts["adaptive"] else None, low, scale)
    result = _decide(pool, scores, band, n, sampler.sent, opts["adaptive"])
    result.summary["grader_audit"] = audit["warnings"]
    return result


class _Sampler:
    """Fetch (through the cache) and grade samples round by round or all at once."""

    def __init__(self, items, keys, settings, cache, graded, progress) -> None:
        self.items, self.keys, self.settings, self.cache = items, keys, settings, cache
        self.graded, self.progress = graded, progress
        self.sent = 0

    def _fetch(self, requests: Sequence[Any], on_response: Callable[[], None] | None) -> None:
        from curate.dryrun.client import EndpointError, resolve_api_key, sample_missing
        from curate.dryrun.run import known_secrets

        if not any(r.key not in self.cache for r in requests):
            return
        try:
            self.sent += sample_missing(requests, self.settings, self.cache, on_response=on_response,
                                        api_key=resolve_api_key(self.settings),
                                        secrets=known_secrets(self.settings))
        except EndpointError as exc:
            raise EndpointError(f"difficulty: {exc} ({len(self.cache)} responses cached; rerun to resume)") from None

    def run(self, n: int, band: tuple[float, float] | None, low: float, scale: float) -> list[list[float]]:
        from curate.dryrun.client import SampleRequest

        scores: list[list[float]] = [[] for _ in self.items]
        todo = [i for i in range(len(self.items))]
        rounds = [(0, n)] if band is None else [(s, s + 1) for s in range(n)]
        with _progress(self.progress, self.cache) as advance:
            for first, last in rounds:
                requests = [SampleRequest(i, str(self.items[i][ID]), s, self.items[i]["messages"], self.keys[i][s])
                            for i in todo for s in range(first, last)]
                self._fetch(requests, advance)
                graded = self.graded.grade_many([(self.cache.get(r.key)["content"], self.items[r.item])
                                                 for r in requests])
                for request, result in zip(requests, graded, strict=True):
                    scores[request.item].append(min(max((result.score - low) / scale, 0.0), 1.0))
                if band is not None:
                    todo = [i for i in todo if decided(sum(scores[i]), len(scores[i]), n, band) is None]
                if not todo:
                    break
        return scores


def _progress(enabled: bool | None, cache: SpendCache):
    """A rich progress bar with the spend so far (or a no-op): a context giving an advance callback."""
    import sys
    from contextlib import contextmanager

    @contextmanager
    def bar():
        if not (sys.stderr.isatty() if enabled is None else enabled):
            yield None
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(TextColumn("difficulty"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[spend]}"),
                      TimeElapsedColumn(), transient=True) as progress:
            task = progress.add_task("difficulty", total=None, spend=cache.spend_text())
            yield lambda: progress.update(task, advance=1, spend=cache.spend_text())

    return bar()


def _decide(pool: pl.DataFrame, scores: list[list[float]], band: tuple[float, float], n: int, sent: int,
            adaptive: bool) -> DifficultyResult:
    means = np.array([sum(s) / len(s) for s in scores])
    stds = np.array([float(np.std(s)) for s in scores])
    counts = np.array([len(s) for s in scores], dtype=np.int64)
    bands = [decided(sum(s), len(s), n, band) or band_of(sum(s) / len(s), band) for s in scores]
    lo, hi = band
    stats = pool.select(LINE, ID).with_columns(
        pl.Series("difficulty_mean", means, dtype=pl.Float64).round(6),
        pl.Series("difficulty_std", stds, dtype=pl.Float64).round(6),
        pl.Series("difficulty_samples", counts, dtype=pl.Int64),
        pl.Series("_band", bands, dtype=pl.String),
    )
    shown = pl.col("difficulty_mean").round(3).cast(pl.String)
    where = pl.format("mean score {} over {} samples", shown, pl.col("difficulty_samples"))
    findings = [
        findings_for(stats.filter(pl.col("_band") == TOO_EASY), rule=TOO_EASY, severity=WARN, field="difficulty",
                     value=pl.col("difficulty_mean"), message=pl.format("{} is above the keep band [{}, {}]",
                                                                        where, pl.lit(lo), pl.lit(hi))),
        findings_for(stats.filter(pl.col("_band") == TOO_HARD), rule=TOO_HARD, severity=WARN, field="difficulty",
                     value=pl.col("difficulty_mean"), message=pl.format("{} is below the keep band [{}, {}]",
                                                                        where, pl.lit(lo), pl.lit(hi))),
        findings_for(stats.filter((pl.col("difficulty_std") == 0) & (pl.col("difficulty_samples") > 1)),
                     rule=NO_SIGNAL, severity=WARN, field="difficulty", value=pl.col("difficulty_mean"),
                     message=pl.format("every sample scored {}: no learning signal", shown)),
    ]
    from curate.frame import concat_findings

    kept = pl.Series(np.array(bands) == KEEP)
    fixed = len(scores) * n
    summary = {
        "samples": n, "keep": [lo, hi], "adaptive": adaptive, "items": len(scores),
        "kept": int(kept.sum()), "too_easy": bands.count(TOO_EASY), "too_hard": bands.count(TOO_HARD),
        "no_signal": int(((stds == 0) & (counts > 1)).sum()),
        "samples_graded": int(counts.sum()), "samples_fixed_n": fixed,
        "requests_saved": fixed - int(counts.sum()), "requests_sent": sent,
        "by_label": _by_label(pool, means, bands),
        "histogram": {"bins": HISTOGRAM_BINS, "before": _histogram(means),
                      "after": _histogram(means[np.array(bands) == KEEP])},
    }
    return DifficultyResult(pool.filter(kept), concat_findings(findings), stats.select(LINE, *COLUMNS),
                            summary, sent)


def _by_label(pool: pl.DataFrame, means: np.ndarray, bands: list[str]) -> list[dict[str, Any]]:
    """Per label (or category) of ``label_names``: items, mean of item means before and after, and
    how many were kept, too easy, too hard."""
    frame = pl.DataFrame({"label": pool[LABEL_NAMES], "m": means, "b": bands}).explode("label").drop_nulls("label")
    table = frame.group_by("label").agg(
        pl.len().alias("items"), pl.col("m").mean().round(4).alias("mean_before"),
        pl.col("m").filter(pl.col("b") == KEEP).mean().round(4).alias("mean_after"),
        *[(pl.col("b") == b).sum().alias(b) for b in (KEEP, TOO_EASY, TOO_HARD)],
    ).sort("label")
    return table.rename({KEEP: "kept"}).to_dicts()


def _histogram(means: np.ndarray) -> list[int]:
    """Counts of item means in HISTOGRAM_BINS equal bins over [0, 1] (1.0 in the last bin)."""
    return np.histogram(means, bins=HISTOGRAM_BINS, range=(0.0, 1.0))[0].astype(int).tolist()


def with_band_labels(strata: pl.Series, lines: pl.Series, columns: pl.DataFrame, band: tuple[float, float],
                     parts: int) -> pl.Series:
    """``strata`` (label lists) with one pseudo-label per row naming its difficulty sub-band.

    The keep band ``[lo, hi]`` is cut into ``parts`` equal-width sub-bands, ``difficulty:1`` the
    easiest (highest mean) ... ``difficulty:parts`` the hardest; balancing on the lists then evens
    out labels and sub-bands together (equal shares of easier and harder items).

    >>> cols = pl.DataFrame({"line": [1, 2], "difficulty_mean": [0.8, 0.2]})
    >>> with_band_labels(pl.Series([["a"], ["b"]]), pl.Series([1, 2]), cols, (0.1, 0.9), 2).to_list()
    [['a', 'difficulty:1'], ['b', 'difficulty:2']]
    """
    lo, hi = band
    width = (hi - lo) / parts or 1.0
    means = pl.DataFrame({LINE: lines}).join(columns, on=LINE, how="left", maintain_order="left")["difficulty_mean"]
    hardness = ((pl.lit(hi) - pl.col("m")) / width).floor().clip(0, parts - 1).cast(pl.Int64) + 1
    tags = pl.DataFrame({"m": means}).select(pl.format("difficulty:{}", hardness).alias("t"))["t"]
    return pl.DataFrame({"s": strata, "t": tags}).select(pl.concat_list("s", "t")).to_series().alias(strata.name)


def with_columns(ledger: pl.DataFrame, columns: pl.DataFrame | None) -> pl.DataFrame:
    """The ledger with the difficulty columns (null for rows that were not sampled)."""
    if columns is None:
        return ledger
    return ledger.join(columns, on=LINE, how="left", maintain_order="left")


__all__ = ["DIFFICULTY_PARAMS", "DifficultyResult", "difficulty_options", "run_difficulty", "with_band_labels",
           "with_columns",
           "NO_SIGNAL"]
