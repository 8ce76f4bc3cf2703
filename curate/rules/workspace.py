"""Derived columns that several dataset rules share, computed once per evaluation.

The workspace holds the frame sorted by ``line`` (so "first" always means "smallest line", whatever
the input order), normalised text and label keys, and near-duplicate components. Rules that group
rows register their grouping here; :meth:`Workspace.groups` merges them into the groups table.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np
import polars as pl

from curate.frame import GROUPS_SCHEMA, ID, LABEL_NAMES, LABELS, LINE, TEXT
from curate.rules import minhash

LABEL_SEP = "\x1f"


def normalised_text(expr: pl.Expr) -> pl.Expr:
    """NFKC, lower case, whitespace collapsed and stripped."""
    return (
        expr.str.normalize("NFKC")
        .str.to_lowercase()
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )


def ensure_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Add missing core columns as nulls so rules can rely on them (useful for partial frames)."""
    add = []
    if LINE not in frame.columns:
        add.append(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(LINE))
    if ID not in frame.columns:
        add.append(pl.lit(None, dtype=pl.String).alias(ID))
    if TEXT not in frame.columns:
        add.append(pl.lit(None, dtype=pl.String).alias(TEXT))
    if LABELS not in frame.columns:
        add.append(pl.lit(None, dtype=pl.List(pl.String)).alias(LABELS))
    if add:
        frame = frame.with_columns(add)
    if LABEL_NAMES not in frame.columns:
        frame = frame.with_columns(pl.col(LABELS).alias(LABEL_NAMES))
    casts = {LINE: pl.Int64, ID: pl.String, TEXT: pl.String, LABELS: pl.List(pl.String), LABEL_NAMES: pl.List(pl.String)}
    wrong = {k: v for k, v in casts.items() if frame.schema[k] != v}
    return frame.cast(wrong) if wrong else frame


class Workspace:
    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = ensure_columns(frame).sort(LINE, nulls_last=True)
        self._groupings: list[np.ndarray] = []
        self._near: dict[tuple[Any, ...], np.ndarray] = {}

    @property
    def height(self) -> int:
        return self.frame.height

    @cached_property
    def keys(self) -> pl.DataFrame:
        """``line``, ``id``, ``exact`` (text), ``norm`` (normalised text), ``labels`` (label key)."""
        return self.frame.select(
            pl.col(LINE),
            pl.col(ID),
            pl.col(TEXT).fill_null("").alias("exact"),
            normalised_text(pl.col(TEXT).fill_null("")).alias("norm"),
            pl.col(LABEL_NAMES)
            .fill_null([])
            .list.sort()
            .list.unique(maintain_order=True)
            .list.join(LABEL_SEP)
            .alias("labels"),
            pl.col(LABEL_NAMES).fill_null([]).list.sort().list.join(", ").alias("shown_labels"),
        )

    def near_components(self, *, threshold: float, ngram: int, num_perm: int, seed: int) -> np.ndarray:
        """Per row (position in :attr:`frame`), the smallest row position of its near-duplicate
        component. Rows with identical normalised text are always in one component."""
        key = (threshold, ngram, num_perm, seed)
        if key in self._near:
            return self._near[key]
        keys = self.keys
        n = keys.height
        if n == 0:
            self._near[key] = np.zeros(0, dtype=np.int64)
            return self._near[key]
        # one representative (smallest position) per distinct normalised text
        rep = (
            keys.select(pl.col("norm"))
            .with_row_index("pos")
            .with_columns(pl.col("pos").min().over("norm").alias("rep"))
        )
        rep_pos = rep["rep"].cast(pl.Int64).to_numpy()
        uniq = np.flatnonzero(rep_pos == np.arange(n))
        texts = keys["norm"].gather(uniq)
        non_empty = (texts.str.len_chars() > 0).to_numpy()
        pairs = minhash.near_duplicate_pairs(
            texts.filter(pl.Series(non_empty)) if not non_empty.all() else texts,
            threshold=threshold,
            ngram=ngram,
            num_perm=num_perm,
            seed=seed,
        )
        kept = uniq[non_empty]
        a = np.concatenate([np.arange(n), kept[pairs["a"].to_numpy()]]) if pairs.height else np.arange(n)
        b = np.concatenate([rep_pos, kept[pairs["b"].to_numpy()]]) if pairs.height else rep_pos
        comp = minhash.components(n, a, b)
        self._near[key] = comp
        return comp

    def add_grouping(self, component: np.ndarray) -> None:
        """Record that rows sharing ``component`` (per-position labels) belong together."""
        self._groupings.append(np.asarray(component, dtype=np.int64))

    def groups(self) -> pl.DataFrame:
        """One row per line in a group of two or more; ``group`` is the group's smallest line."""
        n = self.height
        if not self._groupings or n == 0:
            return pl.DataFrame(schema=GROUPS_SCHEMA)
        idx = np.arange(n)
        a = np.concatenate([idx for _ in self._groupings])
        b = np.concatenate(self._groupings)
        comp = minhash.components(n, a, b)
        sizes = np.bincount(comp, minlength=n)
        member = sizes[comp] > 1
        lines = self.frame[LINE].to_numpy()
        out = pl.DataFrame(
            {"line": lines[member], "group": lines[comp[member]]}, schema=GROUPS_SCHEMA
        )
        return out.sort("line")
