"""Length rules that judge a text against its own dataset.

What is "too short" depends on the domain: "wifi is broken" is a normal support message and an
absurd legal act. So the default pack rejects only what is absurd for the dataset at hand and
warns about the rest:

- ``min_chars`` (error): shorter than ``min`` characters, or under ``share`` of the dataset's median
  length (1% by default: "OK" among acts of 2,500 characters, never a short message among other
  short messages).
- ``unusual_length`` (warn): far shorter or longer than the dataset's typical row, on a log scale:
  outside ``median(log n) ± z · 1.4826 · MAD(log n)`` (a robust z-score; the spread has a floor of
  ``min_spread`` so datasets of near-constant length do not flag small deviations).

Both are *data-relative* (:attr:`curate.rules.base.Rule.data_relative`): with fewer than
``min_rows`` non-empty texts the dataset part is not applied, and the pipeline says at run time
when such a rule rejected more than a small share of the rows.

>>> import polars as pl
>>> from curate.rules import evaluate_rules
>>> acts = ["Commission Regulation on the import of cereals. " * 50] * 30
>>> frame = pl.DataFrame({"text": acts + ["OK", "See Annex."]})
>>> evaluate_rules(frame, [{"rule": "min_chars"}]).findings.select("line", "value").rows()
[(31, '2'), (32, '10')]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import polars as pl

from curate.frame import TEXT, WARN, findings_for
from curate.options import Param
from curate.rules.base import DatasetRule

MAD_SCALE = 1.4826  # MAD of a normal distribution times this is its standard deviation


@dataclass(frozen=True)
class LengthBand:
    """Robust statistics of a column's lengths (characters): ``median`` and the band of typical
    lengths ``low``..``high`` (``exp(median(log n) ∓ z · spread)``)."""

    rows: int
    median: float
    low: float
    high: float


def length_band(lengths: pl.Series, *, z: float, min_spread: float, min_rows: int) -> LengthBand | None:
    """The band of typical lengths among the positive ``lengths``, or None with fewer than
    ``min_rows`` of them.

    >>> band = length_band(pl.Series([10, 12, 9, 11, 10, 300]), z=4.0, min_spread=0.25, min_rows=5)
    >>> band.median, round(band.low, 1), round(band.high, 1)
    (10.5, 3.9, 28.5)
    """
    positive = lengths.filter(lengths > 0)
    if positive.len() < min_rows:
        return None
    logs = positive.cast(pl.Float64).log()
    centre = float(logs.median())  # type: ignore[arg-type]
    spread = max(min_spread, MAD_SCALE * float((logs - centre).abs().median()))  # type: ignore[arg-type]
    return LengthBand(positive.len(), float(positive.median()), math.exp(centre - z * spread), math.exp(centre + z * spread))  # type: ignore[arg-type]


def _stripped_lengths(frame: pl.DataFrame, column: str, below: int) -> pl.Series:
    """Characters of ``column`` without surrounding whitespace, exact where the raw length is under
    ``below`` or the text has whitespace at an end; the raw length elsewhere (enough to compare
    with a limit under ``below``). Only those rows are stripped (stripping every text of a large
    frame would copy the whole column)."""
    text = frame[column].fill_null("")
    raw = text.str.len_chars()
    padded = (text.str.head(1) + text.str.tail(1)).str.contains(r"\s")  # whitespace at an end
    rows = ((raw < below) | padded).arg_true()
    if rows.len():
        raw = raw.scatter(rows, text.gather(rows).str.strip_chars().str.len_chars())
    return raw.alias("n")


class MinChars(DatasetRule):
    """Absurdly short texts for this dataset: under ``min`` characters, or under ``share`` of the
    median length of its non-empty texts (with at least ``min_rows`` of them). Empty texts are
    ``empty_text``'s finding."""

    name = "min_chars"
    data_relative: ClassVar[bool] = True
    params = (
        Param("min", int, 1, low=1),
        Param("share", float, 0.01, low=0.0, high=1.0),
        Param("min_rows", int, 20, low=1),
    )
    message = "text is shorter than {min} characters, or under {share:.0%} of the dataset's median length"

    def limit(self, frame: pl.DataFrame, column: str = TEXT) -> tuple[int, float | None]:
        """``(limit, median)``: texts with fewer characters than ``limit`` fail."""
        band = length_band(frame[column].fill_null("").str.len_chars(), z=0.0, min_spread=0.0, min_rows=self.min_rows) \
            if self.share > 0 else None
        relative = math.ceil(self.share * band.median) if band is not None else 0
        return max(self.min, relative), band.median if band is not None else None

    def evaluate(self, frame, context, ws):
        limit, median = self.limit(frame)
        n = _stripped_lengths(frame, TEXT, limit)
        hit = frame.select("line", "id").with_columns(n.alias("n")).filter((pl.col("n") > 0) & (pl.col("n") < limit))
        if median is not None and limit > self.min:
            message = f"text is shorter than {limit} characters ({self.share:.0%} of this dataset's median length, {median:g})"
        else:
            message = f"text is shorter than {limit} characters"
        return findings_for(hit, rule=self.name, severity=self.severity, field=TEXT, value=pl.col("n"), message=message)


class UnusualLength(DatasetRule):
    """Texts far shorter or longer than the dataset's typical text (robust z-score of the log
    length beyond ``z``); see :func:`length_band`."""

    name = "unusual_length"
    severity_default = WARN
    data_relative: ClassVar[bool] = True
    params = (
        Param("z", float, 5.0, low=1.0),
        Param("side", str, "both", choices=("both", "short", "long")),
        Param("min_spread", float, 0.25, low=0.0),
        Param("min_rows", int, 20, low=2),
    )
    message = "text is far {side} than this dataset's typical text (robust z-score of the log length beyond {z:g})"

    def evaluate(self, frame, context, ws):
        return length_findings(self, frame, TEXT, "text", self.side)


def length_findings(rule: DatasetRule, frame: pl.DataFrame, column: str, what: str, side: str) -> pl.DataFrame:
    """Findings for rows whose ``column`` length falls outside the dataset's band (``side``:
    ``short``, ``long`` or ``both``); shared by ``unusual_length`` and ``overlong_answer``."""
    n = frame[column].fill_null("").str.len_chars()
    band = length_band(n, z=rule.z, min_spread=rule.min_spread, min_rows=rule.min_rows)
    rows = frame.select("line", "id").with_columns(n.alias("n"))
    if band is None:
        return findings_for(rows.clear(), rule=rule.name, severity=rule.severity, field=column, message="")
    short = (pl.col("n") > 0) & (pl.col("n") < band.low) if side in ("both", "short") else pl.lit(False)
    long = (pl.col("n") > band.high) if side in ("both", "long") else pl.lit(False)
    typical = f"{what}: median {band.median:g} characters, typical {math.ceil(band.low)}-{math.floor(band.high)}"
    return findings_for(
        rows.filter(short | long), rule=rule.name, severity=rule.severity, field=column, value=pl.col("n"),
        message=pl.format(
            "{} is far {} than this dataset's typical {} (robust z-score of the log length beyond {})",
            pl.lit(what), pl.when(pl.col("n") > band.high).then(pl.lit("longer")).otherwise(pl.lit("shorter")),
            pl.lit(typical), pl.lit(f"{rule.z:g}"),
        ),
    )


__all__ = ["LengthBand", "MinChars", "UnusualLength", "length_band", "length_findings"]
