"""The reference answer as targets write it, and the lint every target shares for it.

A bundle's split frames carry ``reference_answer`` typed by the task kind (``bundle.kind``; a bundle
without one is a label task): a list of names for ``labels``, a string for ``single_label``,
``text``, ``math`` and ``json`` (canonical JSON text), a number for ``number``. Kind-aware bundles
also carry ``reference_json``, the reference as a JSON literal. Targets whose format holds only
strings (verl ``ground_truth``, Gemini ``references``) write :func:`reference_text`: JSON text when
the kind says so (``Kind.reference_is_json``: label lists, numbers, JSON values), else the string.

>>> from curate.kinds import get_kind
>>> frame = pl.DataFrame({"reference_answer": [["law", "trade"], []]})
>>> frame.select(reference_text(frame, get_kind("labels"))).to_series().to_list()
['["law","trade"]', '[]']
>>> frame = pl.DataFrame({"reference_answer": ["[1, 2]"]})
>>> frame.select(reference_text(frame, get_kind("text"))).to_series().to_list()
['[1, 2]']
"""

from __future__ import annotations

from typing import Any

import polars as pl

from curate.export._chat import dataset_finding
from curate.frame import ERROR, concat_findings, empty_findings, findings_for

REFERENCE = "reference_answer"
REFERENCE_JSON = "reference_json"


def kind_of(bundle: Any) -> Any:
    """The bundle's task kind (``labels`` for a bundle without one)."""
    kind = getattr(bundle, "kind", None)
    if kind is None:
        from curate.kinds import get_kind

        kind = get_kind("labels")
    return kind


def kind_name(bundle: Any) -> str:
    """The name of the bundle's task kind (``labels`` for a bundle without one)."""
    return str(kind_of(bundle).name)


def expected_dtype(kind: Any) -> pl.DataType | None:
    """The dtype of ``reference_answer`` the kind writes, found by asking the kind for the
    references of a one-row probe (None when the kind cannot say: then any type passes).

    >>> from curate.kinds import get_kind
    >>> expected_dtype(get_kind("number")), expected_dtype(get_kind("labels"))
    (Float64, List(String))
    """
    from curate.frame import ANSWER, LABEL_NAMES

    probe = pl.DataFrame({ANSWER: ["1"], LABEL_NAMES: [["a"]]})
    try:
        return kind.references(probe)[0].dtype
    except Exception:  # a kind that needs other columns: no type check
        return None


def dtype_fits(expected: pl.DataType | None, dtype: pl.DataType) -> bool:
    """True when a ``reference_answer`` column of ``dtype`` holds what the kind writes.

    >>> dtype_fits(pl.Float64, pl.Int64), dtype_fits(pl.String, pl.List(pl.String))
    (True, False)
    """
    if expected is None or dtype == pl.Null or dtype == expected:  # a Null column: an empty split
        return True
    if expected.is_numeric():
        return dtype.is_numeric()
    if isinstance(expected, pl.List):
        return isinstance(dtype, pl.List) and dtype.inner in (expected.inner, pl.Null)
    return False


def json_text(column: str | pl.Expr) -> pl.Expr:
    """A column's (or an expression's) values as compact JSON text (``null`` for nulls), built
    without a Python loop."""
    value = pl.col(column) if isinstance(column, str) else column
    wrapped = pl.struct(value.alias("v")).struct.json_encode()
    return wrapped.str.strip_prefix('{"v":').str.strip_suffix("}")


def item_reference_is_json(bundle: Any) -> bool:
    """True when a reward module must decode the reference it reads (verl ``ground_truth``, Gemini
    ``references``, a TRL column of JSON text) to get the item the JSONL formats carry: the kind
    says so (``Kind.reference_is_json``)."""
    return bool(kind_of(bundle).reference_is_json)


def reference_text(frame: pl.DataFrame, kind: Any) -> pl.Expr:
    """The reference as one string per row: its JSON text when ``kind.reference_is_json``
    (``reference_json``; a string column is JSON text already), else the string itself."""
    if not kind.reference_is_json or frame.schema.get(REFERENCE) == pl.String:
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
    kind = getattr(bundle, "kind", None)
    expected = expected_dtype(kind) if kind is not None else pl.List(pl.String)
    parts = [empty_findings()]
    for split, frame in bundle.splits.items():
        if REFERENCE not in frame.columns:
            parts.append(dataset_finding("target_reference_missing", f"{target}: {split} has no {REFERENCE} column",
                                         field=REFERENCE))
            continue
        dtype = frame.schema[REFERENCE]
        if not dtype_fits(expected, dtype):
            parts.append(dataset_finding(
                "target_reference_type",
                f"{target}: {split} {REFERENCE} is {dtype}, but a {kind_name(bundle)} task's reference is {expected}",
                field=REFERENCE,
            ))
            continue
        rows = numbered(frame)
        parts.append(findings_for(rows.filter(pl.col(REFERENCE).is_null()), rule="target_reference_missing",
                                  severity=ERROR, field=REFERENCE,
                                  message=f"{target}: the reference answer is missing (null)"))
        if as_text:
            empty = rows.filter(reference_text(frame, kind_of(bundle)).fill_null("x").str.strip_chars() == "")
            parts.append(findings_for(empty, rule="target_reference_empty", severity=ERROR, field=REFERENCE,
                                      message=f"{target}: the reference answer is an empty string; a string "
                                              "reward has nothing to compare with"))
    return concat_findings(parts)
