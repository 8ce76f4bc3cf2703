"""The ledger: exactly one row per input row, saying where it ended and why.

Columns: ``line`` (Int64), ``id`` (String, null if unreadable), ``disposition`` (one of
:data:`curate.frame.DISPOSITIONS`), ``reasons`` (List(String): every rule that fired, warnings
included, sorted). Counts must add up to the number of input rows; if they do not, the run stops
with :class:`curate.errors.LedgerError` instead of writing a wrong account.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from curate.errors import LedgerError
from curate.frame import DISPOSITIONS, ERROR, ID, LINE

LEDGER_SCHEMA = {LINE: pl.Int64, ID: pl.String, "disposition": pl.String, "reasons": pl.List(pl.String)}


def build_ledger(
    records: pl.DataFrame,
    findings: pl.DataFrame,
    placed: Mapping[str, pl.Series],
    input_rows: int,
) -> pl.DataFrame:
    """One row per input row.

    ``records`` holds the rows that loaded (``line``, ``id``); rows that failed to load appear only
    in ``findings``. ``placed`` maps a split name to the lines it holds. Rows with an error finding
    are ``rejected``; placed rows take their split; the rest are ``unused``.
    """
    unreadable = (
        findings.filter(~pl.col(LINE).is_in(records[LINE].implode()))
        .group_by(LINE).agg(pl.col(ID).drop_nulls().first())
    )
    rows = pl.concat([records.select(LINE, ID), unreadable.select(LINE, ID)]).sort(LINE)
    reasons = findings.group_by(LINE).agg(
        pl.col("rule").unique().sort().alias("reasons"),
        (pl.col("severity") == ERROR).any().alias("_rejected"),
    )
    split_of = pl.concat(
        [pl.DataFrame({LINE: lines.cast(pl.Int64)}).with_columns(pl.lit(name).alias("_split"))
         for name, lines in placed.items()]
        or [pl.DataFrame(schema={LINE: pl.Int64, "_split": pl.String})]
    )
    ledger = (
        rows.join(reasons, on=LINE, how="left")
        .join(split_of, on=LINE, how="left")
        .with_columns(
            pl.when(pl.col("_rejected").fill_null(False)).then(pl.lit("rejected"))
            .otherwise(pl.col("_split").fill_null("unused")).alias("disposition"),
            pl.col("reasons").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
        .select(list(LEDGER_SCHEMA))
        .cast(LEDGER_SCHEMA)
    )
    check_ledger(ledger, input_rows, split_of)
    return ledger


def check_ledger(ledger: pl.DataFrame, input_rows: int, split_of: pl.DataFrame | None = None) -> None:
    """Raise :class:`LedgerError` unless every input row is in the ledger exactly once."""
    if ledger.height != input_rows:
        raise LedgerError(f"the ledger has {ledger.height} rows but the source has {input_rows}")
    if ledger[LINE].n_unique() != ledger.height:
        raise LedgerError("a source line appears twice in the ledger")
    if split_of is not None and split_of[LINE].n_unique() != split_of.height:
        raise LedgerError("a row was placed in two splits")
    if split_of is not None:
        wrong = ledger.join(split_of, on=LINE).filter(pl.col("disposition") == "rejected")
        if wrong.height:
            raise LedgerError(f"line {wrong[LINE][0]} was rejected but also placed in a split")


def disposition_counts(ledger: pl.DataFrame) -> dict[str, int]:
    """Rows per disposition, every disposition present (zeros included), in a fixed order."""
    counts = dict(ledger.group_by("disposition").len().iter_rows())
    return {d: int(counts.get(d, 0)) for d in DISPOSITIONS}


def rule_counts(findings: pl.DataFrame) -> dict[str, int]:
    """Rows flagged per rule, sorted by rule name."""
    if findings.is_empty():
        return {}
    grouped = findings.group_by("rule").agg(pl.col(LINE).n_unique().alias("n")).sort("rule")
    return {rule: int(n) for rule, n in grouped.iter_rows()}


def rejected_rows(ledger: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    """Rejected rows with their reasons and every finding, for ``rejected.jsonl``."""
    detail = (
        findings.sort([LINE, "rule"])
        .group_by(LINE, maintain_order=True)
        .agg(pl.struct("rule", "severity", "field", "value", "message").alias("findings"))
    )
    return (
        ledger.filter(pl.col("disposition") == "rejected")
        .join(detail, on=LINE, how="left")
        .select(LINE, ID, "reasons", "findings")
        .sort(LINE)
    )
