"""``number``: a numeric reference answer (an amount, a count, a measurement).

``"1,000"``, ``"1000"``, ``1000`` and ``"1e3"`` are one value; so are ``"0.5"`` and ``"1/2"``.
The canonical answer is the value as JSON number text (integers without a fraction), which is
also the comparison key; the exported ``reference_answer`` is the number itself.

>>> answer, norm, problem = Number().canonical(pl.Series(["1,000", "1e3", "0.5", "1/2", "abc", "-2.50"]))
>>> answer.to_list()
['1000', '1000', '0.5', '0.5', None, '-2.5']
>>> problem.to_list()[4]
"'abc' is not a number"
"""

from __future__ import annotations

from typing import Any, ClassVar

import polars as pl

from curate.frame import ANSWER
from curate.kinds.base import AnswerKind, one_property

_GROUPED = r"^[+-]?\d{1,3}(?:[,_ \u00a0\u202f]\d{3})+(?:\.\d+)?$"  # 1,000 / 1 000 / 1_000.5
_FRACTION = r"^([+-]?\d+)\s*/\s*(\d+)$"
_EXACT = 2**53  # integers up to here are exact in a float


def number_values(values: pl.Expr) -> pl.Expr:
    """The Float64 value of number texts (null when not a finite number)."""
    s = values.str.strip_chars().str.replace_all("\u2212", "-", literal=True)
    s = pl.when(s.str.contains(_GROUPED)).then(s.str.replace_all(r"[,_ \u00a0\u202f]", "")).otherwise(s)
    numerator = s.str.extract(_FRACTION, 1).cast(pl.Float64, strict=False)
    denominator = s.str.extract(_FRACTION, 2).cast(pl.Float64, strict=False)
    plain = pl.when(s.str.contains(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")).then(s.cast(pl.Float64, strict=False))
    value = pl.when(denominator > 0).then(numerator / denominator).otherwise(plain)
    return pl.when(value.is_finite()).then(value)


def number_text(value: pl.Expr) -> pl.Expr:
    """JSON number text: integral values below 2**53 without a fraction, others as polars prints them."""
    integral = (value == value.round(0)) & (value.abs() < _EXACT)
    return pl.when(integral).then(value.cast(pl.Int64).cast(pl.String)).otherwise(value.cast(pl.String))


class Number(AnswerKind):
    """A number; equal values are one answer."""

    name = "number"
    splice_reference: ClassVar[bool] = True
    reference_is_json: ClassVar[bool] = True
    expected: ClassVar[str] = "a number or a string holding one"

    def canonical(self, values: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
        frame = pl.DataFrame({"raw": values.cast(pl.String)}).with_columns(number_values(pl.col("raw")).alias("v"))
        out = frame.select(
            number_text(pl.col("v")).alias("a"),
            pl.when(pl.col("v").is_null() & pl.col("raw").is_not_null())
            .then(pl.format("'{}' is not a number", pl.col("raw").str.slice(0, 60))).alias("p"),
        )
        return out["a"], out["a"], out["p"]

    def response_schema(self, answer_key: str, class_names: tuple[str, ...]) -> dict[str, Any] | None:
        return one_property(answer_key, {"type": "number"})

    def references(self, frame: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        text = frame[ANSWER]
        return text.cast(pl.Float64).alias("reference_answer"), text.alias("reference_json")
