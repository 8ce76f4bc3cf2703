"""The ledger accounts for every input row once, or the run stops."""

from __future__ import annotations

import polars as pl
import pytest

from curate.errors import LedgerError
from curate.frame import as_findings
from curate.ledger import build_ledger

RECORDS = pl.DataFrame({"line": [1, 2, 4, 5, 6], "id": ["a", "b", "d", "e", "f"]})


def findings(*rows: tuple[int, str, str]) -> pl.DataFrame:
    return as_findings(pl.DataFrame(
        [{"line": line, "id": None, "rule": rule, "severity": sev, "field": None, "value": None, "message": rule}
         for line, rule, sev in rows], schema_overrides={"line": pl.Int64}))


def lines(*values: int) -> pl.Series:
    return pl.Series(values, dtype=pl.Int64)


def test_every_row_lands_once_with_its_reasons():
    found = findings((3, "malformed_json", "error"), (2, "mojibake", "error"), (4, "max_chars", "warn"))
    ledger = build_ledger(RECORDS, found, {"train": lines(4, 1), "valid": lines(6)}, input_rows=6)
    assert ledger.rows() == [
        (1, "a", "train", []), (2, "b", "rejected", ["mojibake"]), (3, None, "rejected", ["malformed_json"]),
        (4, "d", "train", ["max_chars"]), (5, "e", "unused", []), (6, "f", "valid", []),
    ]


@pytest.mark.parametrize(("placed", "found", "rows", "message"), [
    ({"train": lines(1, 2), "valid": lines(2)}, [], 5, "placed in two splits"),
    ({"train": lines(1, 1)}, [], 5, "placed in two splits"),
    ({"train": lines(1, 2)}, [(2, "duplicate", "error")], 5, "line 2 was rejected but also placed"),
    ({"train": lines(1, 3)}, [], 5, "not in the source"),
    ({"train": lines(1)}, [], 7, "the ledger has 5 rows but the source has 7"),
])
def test_a_wrong_account_stops_the_run(placed, found, rows, message):
    with pytest.raises(LedgerError, match=message):
        build_ledger(RECORDS, findings(*found), placed, input_rows=rows)
