"""Label lists as a sparse 0/1 matrix, label-pair columns, and the selection error.

Every selection step works on a CSR matrix with one row per pool row and one column per label
(names sorted, so column order never depends on row order).

>>> import polars as pl
>>> m = label_matrix(pl.Series([["b", "a"], [], ["a"]]))
>>> m.names, m.csr.toarray().tolist()
(['a', 'b'], [[1, 1], [0, 0], [1, 0]])
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import polars as pl
import scipy.sparse as sp

from curate.errors import SelectionError


@dataclass(frozen=True)
class LabelMatrix:
    """``csr``: n x L int8 matrix (1 = row carries the label); ``names``: the L label names."""

    csr: sp.csr_matrix
    names: list[str]

    @property
    def counts(self) -> np.ndarray:
        """Rows carrying each label (int64, length L)."""
        return np.bincount(self.csr.indices, minlength=len(self.names)).astype(np.int64)


def label_matrix(labels: pl.Series) -> LabelMatrix:
    """Build the CSR label matrix of a ``List(String)`` series (nulls and duplicates are ignored).

    >>> lm = label_matrix(pl.Series([["b", "a", "b"], None, ["c"]]))
    >>> lm.names, lm.csr.toarray().tolist()
    (['a', 'b', 'c'], [[1, 1, 0], [0, 0, 0], [0, 0, 1]])
    """
    n = labels.len()
    lists = labels.cast(pl.List(pl.String))
    lengths = lists.list.len().fill_null(0).to_numpy()
    flat = lists.to_frame("labels").select(pl.col("labels").list.explode(keep_nulls=False, empty_as_null=False)).to_series()
    rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
    keep = flat.is_not_null().to_numpy()
    flat, rows = flat.filter(keep), rows[keep]
    names = sorted(flat.unique().to_list())
    if not names:
        return LabelMatrix(sp.csr_matrix((n, 0), dtype=np.int8), [])
    codes = flat.cast(pl.Enum(names)).to_physical().to_numpy().astype(np.int64)
    keys = np.sort(rows * len(names) + codes)  # by row, then label (np.unique is far slower here)
    keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]  # drop repeated labels of a row
    rows, cols = keys // len(names), keys % len(names)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    data = np.ones(len(cols), dtype=np.int8)
    return LabelMatrix(sp.csr_matrix((data, cols, indptr), shape=(n, len(names))), names)


def as_csr(y) -> sp.csr_matrix:
    """A 0/1 int8 CSR copy of a dense or sparse indicator matrix, indices sorted per row."""
    m = sp.csr_matrix(y, dtype=np.int8, copy=True)
    m.data[:] = 1
    m.eliminate_zeros()
    m.sort_indices()
    return m


def pair_matrix(x: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """Columns for label pairs that co-occur: returns (n x P 0/1 CSR, P x 2 array of label ids).

    A row with m labels carries m(m-1)/2 pairs; pairs (a, a) are not included.

    >>> import scipy.sparse as sp
    >>> p, ids = pair_matrix(sp.csr_matrix([[1, 1, 1], [1, 1, 0]]))
    >>> ids.tolist(), p.toarray().tolist()
    ([[0, 1], [0, 2], [1, 2]], [[1, 1, 1], [1, 0, 0]])
    """
    x = as_csr(x)
    n, n_labels = x.shape
    lengths = np.diff(x.indptr)
    rows_out, codes_out = [], []
    for m in np.unique(lengths[lengths >= 2]):
        rows = np.flatnonzero(lengths == m)
        starts = x.indptr[rows]
        block = x.indices[starts[:, None] + np.arange(m)[None, :]]  # rows x m label ids (sorted)
        a_pos, b_pos = np.array(list(combinations(range(int(m)), 2))).T
        codes = block[:, a_pos].astype(np.int64) * n_labels + block[:, b_pos]
        rows_out.append(np.repeat(rows, len(a_pos)))
        codes_out.append(codes.ravel())
    if not codes_out:
        return sp.csr_matrix((n, 0), dtype=np.int8), np.zeros((0, 2), dtype=np.int64)
    rows = np.concatenate(rows_out)
    uniq, cols = np.unique(np.concatenate(codes_out), return_inverse=True)
    pairs = np.stack([uniq // n_labels, uniq % n_labels], axis=1)
    data = np.ones(len(rows), dtype=np.int8)
    out = sp.csr_matrix((data, (rows, cols.ravel())), shape=(n, len(uniq)))
    out.sort_indices()
    return out, pairs


def combined_matrix(x: sp.csr_matrix, order: int) -> sp.csr_matrix:
    """Columns to stratify on: the labels (order 1) or labels plus co-occurring pairs (order 2)."""
    x = as_csr(x)
    if order == 1:
        return x
    pairs, _ = pair_matrix(x)
    return sp.hstack([x, pairs], format="csr", dtype=np.int8)


def group_codes(groups: np.ndarray | None, n: int) -> np.ndarray | None:
    """Dense group codes 0..G-1 in order of first appearance, or None when no group has 2+ rows."""
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise SelectionError(f"groups has {groups.shape[0] if groups.ndim else 0} entries; the pool has {n} rows")
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    if len(first) == n:
        return None
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.ravel()]
