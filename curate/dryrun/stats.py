"""Per-item statistics of the variance study, the summary, and the go / caution / no-go verdict.

Thresholds (scores first scaled to [0, 1] by the grader's range; see docs/dryrun.md for why):

- **no-go** if the grader self-test failed, if the mean of item means is below
  ``NO_GO_MEAN`` (a baseline near zero: RFT cannot bootstrap from no reward), or if more than
  ``NO_GO_ALL_MIN`` of the items score the minimum on every sample.
- **caution** if more than ``CAUTION_ZERO_VARIANCE`` of the items have zero variance (they teach
  nothing), if the mean of means is above ``CAUTION_MEAN`` (little headroom), if more than
  ``CAUTION_ALL_MIN`` of the items always score the minimum (suspected label errors), or if more
  than ``CAUTION_OFF_SCHEMA`` of the responses do not match the response format.
- **go** otherwise.

>>> row = item_stats("a", [1.0, 1.0, 0.0, 0.0, 0.0])
>>> row["mean"], row["max"], row["min"], row["std"]
(0.4, 1.0, 0.0, 0.547723)
>>> s = summarize([row, item_stats("b", [0.0, 0.0])], selftest_passed=True)
>>> s["mean"], s["frac_all_min"], s["verdict"], s["suspect_labels"]
(0.2, 0.5, 'caution', ['b'])
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

NO_GO_MEAN = 0.05
NO_GO_ALL_MIN = 0.5
CAUTION_ZERO_VARIANCE = 0.5
CAUTION_MEAN = 0.9
CAUTION_ALL_MIN = 0.2
CAUTION_OFF_SCHEMA = 0.1
GO, CAUTION, NO_GO = "go", "caution", "no-go"
DIGITS = 6
TOLERANCE = 1e-9


def _r(x: float) -> float:
    return round(float(x), DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0


def item_stats(item_id: Any, scores: Sequence[float]) -> dict[str, Any]:
    """Scores of one item and their mean, max, min and sample standard deviation (ddof=1)."""
    values = [float(s) for s in scores]
    return {
        "id": item_id,
        "scores": [_r(s) for s in values],
        "mean": _r(statistics.fmean(values)),
        "max": _r(max(values)),
        "min": _r(min(values)),
        "std": _r(statistics.stdev(values)) if len(values) > 1 else 0.0,
    }


def summarize(
    items: Sequence[Mapping[str, Any]],
    *,
    selftest_passed: bool,
    score_range: tuple[float, float] = (0.0, 1.0),
    off_schema: int = 0,
    responses: int | None = None,
) -> dict[str, Any]:
    """The study's summary with the verdict and the reasons for it."""
    low, high = score_range
    n = len(items)
    all_min = [it["id"] for it in items if abs(it["max"] - low) <= TOLERANCE]
    all_max = [it["id"] for it in items if abs(it["min"] - high) <= TOLERANCE]
    zero_var = sum(1 for it in items if it["max"] - it["min"] <= TOLERANCE)
    mean = statistics.fmean(it["mean"] for it in items) if n else low
    scaled = (mean - low) / (high - low) if high > low else 0.0
    responses = sum(len(it["scores"]) for it in items) if responses is None else responses
    frac = {
        "frac_zero_variance": zero_var / n if n else 0.0,
        "frac_all_min": len(all_min) / n if n else 0.0,
        "frac_all_max": len(all_max) / n if n else 0.0,
        "frac_off_schema": off_schema / responses if responses else 0.0,
    }
    verdict, reasons = _verdict(selftest_passed, n, scaled, frac)
    return {
        "items": n,
        "samples": responses,
        "mean": _r(mean),
        "mean_of_max": _r(statistics.fmean(it["max"] for it in items)) if n else _r(low),
        **{k: _r(v) for k, v in frac.items()},
        "suspect_labels": all_min,
        "verdict": verdict,
        "reasons": reasons,
    }


def _verdict(selftest_passed: bool, n: int, scaled_mean: float, frac: Mapping[str, float]) -> tuple[str, list[str]]:
    no_go, caution = [], []
    if not selftest_passed:
        no_go.append("the grader self-test failed")
    if n and scaled_mean < NO_GO_MEAN:
        no_go.append(f"mean score {scaled_mean:.3f} is below {NO_GO_MEAN} (RFT cannot learn from a baseline near zero)")
    if frac["frac_all_min"] > NO_GO_ALL_MIN:
        no_go.append(f"{frac['frac_all_min']:.0%} of items always score the minimum (more than {NO_GO_ALL_MIN:.0%})")
    elif frac["frac_all_min"] > CAUTION_ALL_MIN:
        caution.append(f"{frac['frac_all_min']:.0%} of items always score the minimum: check their labels")
    if frac["frac_zero_variance"] > CAUTION_ZERO_VARIANCE:
        caution.append(f"{frac['frac_zero_variance']:.0%} of items have zero variance and teach nothing")
    if scaled_mean > CAUTION_MEAN:
        caution.append(f"mean score {scaled_mean:.3f} is above {CAUTION_MEAN}: little left to learn")
    if frac["frac_off_schema"] > CAUTION_OFF_SCHEMA:
        caution.append(f"{frac['frac_off_schema']:.0%} of responses do not match the response format")
    if no_go:
        return NO_GO, no_go + caution
    return (CAUTION, caution) if caution else (GO, [])
