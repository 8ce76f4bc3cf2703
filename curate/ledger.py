"""The ledger: exactly one row per input row, saying where it ended and why.

Columns: ``line`` (Int64), ``id`` (String, null if unreadable), ``disposition`` (one of
:data:`curate.frame.DISPOSITIONS`), ``reasons`` (List(String): every rule that fired, warnings
included, sorted); a source of several inputs adds ``file`` and ``file_line`` after ``line`` (see
:mod:`curate.io.inputs`). Counts must add up to the number of input rows; if they do not, the run stops
with :class:`curate.errors.LedgerError` instead of writing a wrong account.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
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
    split = _split_codes(rows[LINE].to_numpy(), placed)
    names = pl.Series(["unused", *placed], dtype=pl.String)
    ledger = (
        rows.join(reasons, on=LINE, how="left", maintain_order="left")
        .with_columns(pl.Series("_split", split))
    )
    wrong = ledger.filter(pl.col("_rejected").fill_null(False) & (pl.col("_split") > 0))
    if wrong.height:
        raise LedgerError(f"line {wrong[LINE][0]} was rejected but also placed in a split")
    ledger = (
        ledger.with_columns(
            pl.when(pl.col("_rejected").fill_null(False)).then(pl.lit("rejected"))
            .otherwise(names.gather(split)).alias("disposition"),
            pl.col("reasons").fill_null(pl.lit([], dtype=pl.List(pl.String))),
        )
        .select(list(LEDGER_SCHEMA))
        .cast(LEDGER_SCHEMA)
    )
    check_ledger(ledger, input_rows)
    return ledger


def _split_codes(lines: np.ndarray, placed: Mapping[str, pl.Series]) -> np.ndarray:
    """Per ledger row: 0 if in no split, else 1 + the index of its split in ``placed``."""
    chunks = [s.cast(pl.Int64).to_numpy() for s in placed.values()]
    every = np.concatenate(chunks) if chunks else np.zeros(0, np.int64)
    top = int(max(lines.max(initial=0), every.max(initial=0))) + 1
    if every.size and np.bincount(every, minlength=top).max() > 1:
        raise LedgerError("a row was placed in two splits")
    code = np.zeros(top, dtype=np.int64)
    for k, chunk in enumerate(chunks, start=1):
        code[chunk] = k
    split = code[lines]
    if int((split > 0).sum()) != every.size:
        raise LedgerError("a split holds a line that is not in the source")
    return split


def check_ledger(ledger: pl.DataFrame, input_rows: int) -> None:
    """Raise :class:`LedgerError` unless every input row is in the ledger exactly once."""
    if ledger.height != input_rows:
        raise LedgerError(f"the ledger has {ledger.height} rows but the source has {input_rows}")
    if ledger[LINE].n_unique() != ledger.height:
        raise LedgerError("a source line appears twice in the ledger")


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
        .select(LINE, *(c for c in ("file", "file_line") if c in ledger.columns), ID, "reasons", "findings")
        .sort(LINE)
    )
