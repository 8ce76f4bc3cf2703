"""The reference answer as targets write it, and the lint every target shares for it.

A bundle's split frames carry ``reference_answer`` typed by the task kind (``bundle.kind``; a bundle
without one is a label task): a list of names for ``labels``, a string for ``single_label``,
``text``, ``math`` and ``json`` (canonical JSON text), a number for ``number``. Kind-aware bundles
also carry ``reference_json``, the reference as a JSON literal. Targets whose format holds only
strings (verl ``ground_truth``, Gemini ``references``) write :func:`reference_text`: a string
reference as it is, anything else as its JSON text.

>>> frame = pl.DataFrame({"reference_answer": [["law", "trade"], []]})
>>> frame.select(reference_text(frame)).to_series().to_list()
['["law","trade"]', '[]']
>>> reference_is_json(pl.DataFrame({"reference_answer": ["Pneumonia"]}))
False
"""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.export._chat import dataset_finding
from curate.frame import ERROR, concat_findings, empty_findings, findings_for

REFERENCE = "reference_answer"
REFERENCE_JSON = "reference_json"
# what each kind's reference_answer holds (the contract of curate/export/bundle.py)
_STRING_KINDS = ("single_label", "text", "math", "json")


def kind_name(bundle: Any) -> str:
    """The bundle's task kind (``labels`` for bundles built before kinds existed)."""
    kind = getattr(bundle, "kind", None)
    return str(getattr(kind, "name", None) or "labels")


def expected_type(kind: str) -> str | None:
    """What ``reference_answer`` holds for ``kind``, in words (None: any type, for unknown kinds)."""
    if kind == "labels":
        return "a list of strings"
    if kind in _STRING_KINDS:
        return "a string"
    if kind == "number":
        return "a number"
    return None


def dtype_fits(kind: str, dtype: pl.DataType) -> bool:
    """True when a ``reference_answer`` column of ``dtype`` holds what ``kind`` promises.

    >>> dtype_fits("number", pl.Int64), dtype_fits("text", pl.List(pl.String))
    (True, False)
    """
    if dtype == pl.Null:  # an empty split: nothing to judge
        return True
    if kind == "labels":
        return isinstance(dtype, pl.List) and dtype.inner in (pl.String, pl.Null)
    if kind in _STRING_KINDS:
        return dtype == pl.String
    if kind == "number":
        return dtype.is_numeric()
    return True


def json_text(column: str) -> pl.Expr:
    """A column's values as compact JSON text (``null`` for nulls), built without a Python loop."""
    wrapped = pl.struct(pl.col(column).alias("v")).struct.json_encode()
    return wrapped.str.strip_prefix('{"v":').str.strip_suffix("}")


def reference_is_json(frame: pl.DataFrame) -> bool:
    """True when :func:`reference_text` holds JSON text (the reference is not a string)."""
    return frame.schema.get(REFERENCE) != pl.String


def item_reference_is_json(bundle: Any) -> bool:
    """True when a reward module must decode the reference it reads (verl ``ground_truth``, Gemini
    ``references``, a TRL column) from JSON text to get the item the JSONL formats carry: the
    reference is not a string, or the kind's JSON writers splice it as a JSON value (``json``)."""
    if getattr(getattr(bundle, "kind", None), "splice_reference", False):
        return True
    first = next(iter(bundle.splits.values()), None)
    return True if first is None or REFERENCE not in first.columns else reference_is_json(first)


def reference_text(frame: pl.DataFrame) -> pl.Expr:
    """The reference as one string per row: a string reference as it is, else its JSON text."""
    if not reference_is_json(frame):
        return pl.col(REFERENCE)
    if REFERENCE_JSON in frame.columns:
        return pl.col(REFERENCE_JSON)
    return json_text(REFERENCE).alias(REFERENCE)


def numbered(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with ``line``: the 1-based row in its split's file."""
    return frame.with_row_index("line", offset=1).with_columns(pl.col("line").cast(pl.Int64))


def reference_findings(target: str, bundle: Any, *, as_text: bool = False) -> pl.DataFrame:
    """Errors for references a target cannot write: of the wrong type for the bundle's kind,
    missing (null), or, for targets that hold the reference as a string (``as_text``), empty."""
    kind = kind_name(bundle)
    parts = [empty_findings()]
    for split, frame in bundle.splits.items():
        if REFERENCE not in frame.columns:
            parts.append(dataset_finding("target_reference_missing", f"{target}: {split} has no {REFERENCE} column",
                                         field=REFERENCE))
            continue
        dtype = frame.schema[REFERENCE]
        if not dtype_fits(kind, dtype):
            parts.append(dataset_finding(
                "target_reference_type",
                f"{target}: {split} {REFERENCE} is {dtype}, but a {kind} task's reference is {expected_type(kind)}",
                field=REFERENCE,
            ))
            continue
        rows = numbered(frame)
        parts.append(findings_for(rows.filter(pl.col(REFERENCE).is_null()), rule="target_reference_missing",
                                  severity=ERROR, field=REFERENCE,
                                  message=f"{target}: the reference answer is missing (null)"))
        if as_text:
            empty = rows.filter(reference_text(frame).fill_null("x").str.strip_chars() == "")
            parts.append(findings_for(empty, rule="target_reference_empty", severity=ERROR, field=REFERENCE,
                                      message=f"{target}: the reference answer is an empty string; a string "
                                              "reward has nothing to compare with"))
    return concat_findings(parts)
