"""The shapes every stage agrees on: the record frame and the findings table.

**Record frame** (one row per readable input row, built by :mod:`curate.io.load`):

=============  ======================  ==============================================
column         dtype                   meaning
=============  ======================  ==============================================
``line``       Int64                   1-based line (JSONL) or row number in the source;
                                       the row's key through the whole pipeline
``id``         String (nullable)       the user's id field
``text``       String                  the input text
``labels``     List(String)            label kinds only: raw label ids as given
``label_names`` List(String)           labels after vocabulary mapping, sorted, unique
                                       (equals ``labels`` when there is no vocabulary);
                                       for open-answer kinds the category values selection
                                       stratifies on (empty lists without a category field)
``answer``     String                  open-answer kinds only: the canonical answer as text
                                       (json: compact JSON, sorted keys; number: its value)
``answer_norm`` String (nullable)      open-answer kinds only: the normalised comparison key
                                       duplicate and conflict rules group on; null when the
                                       answer cannot be read
other          as read                 passthrough fields, named as the user mapped them
=============  ======================  ==============================================

**Findings** (one row per rule that fired on a row; see :data:`FINDINGS_SCHEMA`): ``rule`` is a
stable snake_case name, also the reason code in the ledger; ``severity`` is ``error`` (the row is
rejected) or ``warn`` (kept and reported).

**Groups** (optional, from the rules stage): ``line`` and ``group`` (Int64); rows sharing a group
(near-duplicates) must land in the same split.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

LINE = "line"
ID = "id"
TEXT = "text"
LABELS = "labels"
LABEL_NAMES = "label_names"
ANSWER = "answer"
ANSWER_NORM = "answer_norm"
CORE_COLUMNS = (LINE, ID, TEXT, LABELS, LABEL_NAMES)
RESERVED_COLUMNS = (LINE, ID, TEXT, LABELS, LABEL_NAMES, ANSWER, ANSWER_NORM)

ERROR = "error"
WARN = "warn"
SEVERITIES = (ERROR, WARN)

DISPOSITIONS = ("train", "valid", "valid_production", "rejected", "unused")

FINDINGS_SCHEMA: dict[str, pl.DataType] = {
    "line": pl.Int64(),
    "id": pl.String(),
    "rule": pl.String(),
    "severity": pl.String(),
    "field": pl.String(),
    "value": pl.String(),
    "message": pl.String(),
    "partner": pl.Int64(),  # the other row's line, for pair findings (duplicates, conflicts); else null
}

GROUPS_SCHEMA: dict[str, pl.DataType] = {"line": pl.Int64(), "group": pl.Int64()}


def empty_findings() -> pl.DataFrame:
    """A findings table with no rows.

    >>> empty_findings().columns
    ['line', 'id', 'rule', 'severity', 'field', 'value', 'message', 'partner']
    """
    return pl.DataFrame(schema=FINDINGS_SCHEMA)


def as_findings(frame: pl.DataFrame) -> pl.DataFrame:
    """Cast and order ``frame`` to the findings schema (missing optional columns become null)."""
    exprs = [
        (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in FINDINGS_SCHEMA.items()
    ]
    return frame.select(exprs)


def concat_findings(parts: Iterable[pl.DataFrame]) -> pl.DataFrame:
    """Stack findings tables, sorted by line then rule so output is deterministic."""
    frames = [as_findings(p) for p in parts if p.height]
    if not frames:
        return empty_findings()
    return pl.concat(frames).sort(["line", "rule", "field"], nulls_last=True, maintain_order=True)


def findings_for(
    rows: pl.DataFrame,
    *,
    rule: str,
    severity: str,
    field: str | None,
    message: pl.Expr | str,
    value: pl.Expr | None = None,
    partner: pl.Expr | None = None,
) -> pl.DataFrame:
    """Findings for every row of ``rows`` (which has ``line`` and ``id``), built with expressions.

    >>> rows = pl.DataFrame({"line": [3], "id": ["a"], "text": [""]})
    >>> findings_for(rows, rule="empty_text", severity="error", field="text",
    ...              message="text is empty").row(0)
    (3, 'a', 'empty_text', 'error', 'text', None, 'text is empty', None)
    """
    msg = pl.lit(message) if isinstance(message, str) else message
    val = pl.lit(None, dtype=pl.String) if value is None else value.cast(pl.String)
    return as_findings(
        rows.select(
            pl.col(LINE),
            pl.col(ID) if ID in rows.columns else pl.lit(None, dtype=pl.String).alias(ID),
            pl.lit(rule).alias("rule"),
            pl.lit(severity).alias("severity"),
            pl.lit(field, dtype=pl.String).alias("field"),
            val.alias("value"),
            msg.alias("message"),
            # a row is never its own partner (the first row of a conflict group has none)
            (pl.lit(None, dtype=pl.Int64) if partner is None
             else pl.when(partner.cast(pl.Int64) != pl.col(LINE)).then(partner.cast(pl.Int64))).alias("partner"),
        )
    )


def sorted_lists(column: pl.Series) -> pl.Series:
    """Every list sorted; only the lists out of order are touched (``list.sort`` on all is slow).

    >>> sorted_lists(pl.Series([["a", "b"], ["c", "a"], []])).to_list()
    [['a', 'b'], ['a', 'c'], []]
    """
    return _fix_lists(column, strict=False)


def sorted_unique_lists(column: pl.Series) -> pl.Series:
    """Every list sorted without repeats; lists already so (the usual case) are not touched.

    >>> sorted_unique_lists(pl.Series([["a", "b"], ["c", "a", "c"]])).to_list()
    [['a', 'b'], ['a', 'c']]
    """
    return _fix_lists(column, strict=True)


def _fix_lists(column: pl.Series, *, strict: bool) -> pl.Series:
    """One flat pass finds the lists out of order (or with repeats when ``strict``, or holding a
    null among other values); only those rows are sorted."""
    frame = pl.DataFrame({"v": column}).with_row_index("row").with_columns(n=pl.col("v").list.len())
    flat = frame.explode("v")
    previous = pl.col("v").shift(1)
    wrong = (pl.col("v") <= previous) if strict else (pl.col("v") < previous)
    bad_rows = flat.filter(
        ((pl.col("row") == pl.col("row").shift(1)) & wrong) | (pl.col("v").is_null() & (pl.col("n") > 1))
    )["row"].unique()
    if bad_rows.is_empty():
        return column
    fixed = pl.col("v").list.unique().list.sort() if strict else pl.col("v").list.sort()
    repaired = frame.filter(pl.col("row").is_in(bad_rows.implode())).select("row", fixed)
    return frame.select("row", "v").update(repaired, on="row")["v"].alias(column.name)
