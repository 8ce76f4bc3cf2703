"""Rules on row ids: missing, and the same id on rows with different content.

>>> import polars as pl
>>> from curate.rules import evaluate_rules
>>> frame = pl.DataFrame({"line": [1, 2], "id": ["a", "a"], "text": ["one text", "another text"],
...                       "labels": [["x"], ["x"]], "label_names": [["x"], ["x"]]})
>>> evaluate_rules(frame, [{"rule": "id_conflict"}]).findings["line"].to_list()
[1, 2]
"""

from __future__ import annotations

import polars as pl

from curate.frame import ID, WARN, findings_for
from curate.rules.base import DatasetRule, RowRule


class MissingId(RowRule):
    name = "missing_id"
    severity_default = WARN
    field = ID
    message = "row has no id"

    def passes(self, context):
        return pl.col(ID).fill_null("").str.strip_chars().str.len_chars() > 0


class IdConflict(DatasetRule):
    name = "id_conflict"
    field = ID
    message = "id is shared by rows with different text or labels"

    def evaluate(self, frame, context, ws):
        from curate.rules._arrow import repeated

        # only a repeated id can clash: rows whose id hash repeats, then the ids themselves
        maybe = pl.Series(repeated(ws.keys[ID].hash(seed=11))).arg_true()
        k = ws.keys[maybe].filter(pl.col(ID).is_not_null() & pl.col(ID).is_duplicated())
        content = pl.struct("exact", "labels")
        hit = k.with_columns(
            pl.col("line").min().over(ID).alias("first"),
            content.n_unique().over(ID).alias("variants"),
            pl.len().over(ID).alias("rows"),
        ).filter(pl.col("variants") > 1)
        return findings_for(
            hit,
            rule=self.name,
            severity=self.severity,
            field=ID,
            value=pl.col(ID).str.slice(0, 80),
            partner=pl.col("first"),
            message=pl.format(
                "id is shared by {} rows with {} different contents (first at line {})",
                pl.col("rows"), pl.col("variants"), pl.col("first"),
            ),
        )
