"""Dataset rules over repeated inputs: exact, normalised and near duplicates, and label conflicts.

"First" always means the smallest ``line`` of a group, so results do not depend on row order.
Each grouping also feeds the groups table that keeps a group inside one split.

>>> import polars as pl
>>> from curate.rules import evaluate_rules
>>> frame = pl.DataFrame({"line": [1, 2, 3], "id": ["a", "b", "c"],
...     "text": ["Same words here", "same  words HERE", "Same words here"],
...     "labels": [["x"], ["y"], ["x"]], "label_names": [["x"], ["y"], ["x"]]})
>>> r = evaluate_rules(frame, [{"rule": "duplicate"}, {"rule": "label_conflict"}])
>>> r.findings.select("line", "rule").rows()
[(1, 'label_conflict'), (2, 'label_conflict'), (3, 'duplicate'), (3, 'label_conflict')]
>>> r.groups.rows()
[(1, 1), (2, 1), (3, 1)]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import polars as pl

from curate.frame import TEXT, WARN, findings_for
from curate.options import Param
from curate.rules.base import DatasetRule

if TYPE_CHECKING:
    import numpy as np

NEAR_PARAMS = (
    Param("threshold", float, 0.8, low=0.05, high=1.0),
    Param("ngram", int, 3, low=1, high=20),
    Param("num_perm", int, 128, low=8, high=1024),
    Param("seed", int, 1, low=0),
    # texts of at most this many words also match with the same words in another order (0: off)
    Param("short_words", int, 12, low=0),
)


def near_config(rule) -> tuple[float, int, int, int]:
    return (rule.threshold, rule.ngram, rule.num_perm, rule.seed)


def near(ws, rule) -> np.ndarray:
    """The near-duplicate components a rule's parameters describe (shared through the workspace)."""
    return ws.near_components(threshold=rule.threshold, ngram=rule.ngram, num_perm=rule.num_perm, seed=rule.seed,
                              short_words=rule.short_words)


class Duplicate(DatasetRule):
    name = "duplicate"
    message = "same text and labels as an earlier row"

    def evaluate(self, frame, context, ws):
        k = ws.keys
        ws.add_grouping(ws.first_in_group(k, ["exact"], "pos"))
        hit = k.with_columns(ws.first_in_group(k, ["exact", "labels"]).alias("first")).filter(
            pl.col("line") != pl.col("first")
        )
        return findings_for(
            hit, rule=self.name, severity=self.severity, field=TEXT,
            value=pl.col("first"), partner=pl.col("first"), message=pl.format("same text and labels as line {}", pl.col("first")),
        )


class NormalizedDuplicate(DatasetRule):
    name = "normalized_duplicate"
    message = "same text as an earlier row after NFKC, case and whitespace normalisation, same labels"

    def evaluate(self, frame, context, ws):
        k = ws.keys_with_norm()
        ws.add_grouping(ws.first_in_group(k, ["norm"], "pos"))
        hit = k.with_columns(
            ws.first_in_group(k, ["norm", "labels"]).alias("first"),
            ws.first_in_group(k, ["exact", "labels"]).alias("exact_first"),
        ).filter((pl.col("line") != pl.col("first")) & (pl.col("line") == pl.col("exact_first")))
        return findings_for(
            hit, rule=self.name, severity=self.severity, field=TEXT, value=pl.col("first"), partner=pl.col("first"),
            message=pl.format(
                "same text as line {} after Unicode (NFKC), case and whitespace normalisation, same labels",
                pl.col("first"),
            ),
        )


class NearDuplicate(DatasetRule):
    """MinHash/LSH over word n-grams, verified with exact Jaccard; see :mod:`curate.rules.minhash`."""

    name = "near_duplicate"
    severity_default = WARN
    params = NEAR_PARAMS
    message = "near-duplicate (Jaccard >= {threshold} on word {ngram}-grams, or a short text with the same words in another order) of an earlier row with the same labels"
    near_config = near_config

    def evaluate(self, frame, context, ws):
        comp = near(ws, self)
        ws.add_grouping(comp)
        k = ws.keys_with_norm().with_columns(pl.Series("comp", comp, dtype=pl.Int64))
        hit = k.with_columns(
            ws.first_in_group(k, ["comp", "labels"]).alias("first"),
            ws.first_in_group(k, ["norm", "labels"]).alias("norm_first"),
        ).filter((pl.col("line") != pl.col("first")) & (pl.col("line") == pl.col("norm_first")))
        return findings_for(
            hit, rule=self.name, severity=self.severity, field=TEXT, value=pl.col("first"), partner=pl.col("first"),
            message=pl.format(
                "near-duplicate of line {} (Jaccard >= {} on word {}-grams, or the same words in another order) with the same labels",
                pl.col("first"), pl.lit(self.threshold), pl.lit(self.ngram),
            ),
        )


class LabelConflict(DatasetRule):
    """The same (``match: exact``/``normalized``) or near-same (``near``) input with different label
    sets. ``resolve: reject_all`` flags every member; ``majority`` keeps the rows carrying the most
    common label set of the group (when it is unique) and flags the rest. Rows without labels take
    no part (the vocabulary stage rejects them as ``no_labels``)."""

    task = "labels"
    name = "label_conflict"
    field = "label_names"
    params = (
        Param("match", str, "near", choices=("exact", "normalized", "near")),
        Param("resolve", str, "reject_all", choices=("reject_all", "majority")),
        # stricter than near_duplicate: templated acts that differ only in dates and amounts
        # (Jaccard 0.8-0.9) can legitimately carry different labels
        Param("threshold", float, 0.9, low=0.05, high=1.0),
        *NEAR_PARAMS[1:],
    )
    message = "the same or near-same input appears with different label sets"
    what: ClassVar[str] = "label sets"  # what differs, in messages

    def near_config(self):
        return near_config(self) if self.match == "near" else None

    def evaluate(self, frame, context, ws):
        k = ws.keys_with_norm() if self.match != "exact" else ws.keys
        if self.match == "near":
            comp = near(ws, self)
        else:
            comp = ws.first_in_group(k, ["exact" if self.match == "exact" else "norm"], "pos")
        ws.add_grouping(comp)
        return conflict_findings(self, k, comp, target="labels", shown="shown_labels", what=self.what,
                                 how=self.match, resolve=self.resolve)


class NearLabelConflict(DatasetRule):
    """Near-same inputs (``threshold`` below ``label_conflict``'s) with different label sets, kept
    and reported: "Hi, can I get some food delivered now" and "... delivered" labelled apart, or
    templated acts that differ in dates and amounts. Every member of such a group is reported."""

    task = "labels"
    name = "near_label_conflict"
    field = "label_names"
    severity_default = WARN
    params = NEAR_PARAMS
    message = "a near-same input (Jaccard >= {threshold} on word {ngram}-grams) has a different label set"
    near_config = near_config

    def evaluate(self, frame, context, ws):
        comp = near(ws, self)
        ws.add_grouping(comp)
        return conflict_findings(self, ws.keys_with_norm(), comp, target="labels", shown="shown_labels",
                                 what="label sets", how=f"near, Jaccard >= {self.threshold:g}", resolve="reject_all",
                                 verdict="review them")


def conflict_findings(rule: DatasetRule, k: pl.DataFrame, comp, *, target: str, shown: str, what: str, how: str,
                      resolve: str, verdict: str | None = None) -> pl.DataFrame:
    """Findings for rows of ``k`` whose group (``comp``, per position) holds more than one value
    of ``target`` (rows with an empty ``target`` take no part). ``resolve``: ``reject_all`` flags
    every member; ``majority`` flags all but the rows carrying the group's most common value
    (when it is unique). Shared by ``label_conflict``, ``near_label_conflict`` and ``answer_conflict``."""
    k = k.with_columns(pl.Series("comp", comp, dtype=pl.Int64))
    # only groups of two or more can conflict; rows without a target are another rule's business
    k = k.filter(pl.len().over("comp") > 1).filter(pl.col(target).is_not_null() & (pl.col(target) != ""))
    k = k.with_columns(
        pl.col(target).n_unique().over("comp").alias("sets"),
        pl.col("line").min().over("comp").alias("first"),
        pl.len().over("comp").alias("rows"),
        pl.len().over("comp", target).alias("votes"),
    ).filter(pl.col("sets") > 1)
    if resolve == "majority":
        top = pl.col("votes").max().over("comp")
        unique_top = (pl.col("votes") == top).sum().over("comp") == top  # only one value has top votes
        k = k.filter(~((pl.col("votes") == top) & unique_top))
        verdict = verdict or f"the majority {what[:-1]} of the group is kept"
    else:
        verdict = verdict or "every member is rejected"
    return findings_for(
        k, rule=rule.name, severity=rule.severity, field=rule.field, value=pl.col(shown), partner=pl.col("first"),
        message=pl.format(
            "input matches line {} ({}) but {} {} occur among its {} rows; {}",
            pl.col("first"), pl.lit(how), pl.col("sets"), pl.lit(what), pl.col("rows"), pl.lit(verdict),
        ),
    )
