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

import numpy as np
import polars as pl
import scipy.sparse as sp

from curate.errors import SelectionError

# Label-pair codes a * L + b are deduplicated with a presence bitmap when the code space L^2 is at
# most this or 4x the number of codes (np.unique sorts; ~6x slower at 1M rows x 100 labels).
BITMAP_SPACE = 1 << 22
# pair_fold_counts counts straight into k * L^2 counters up to this many.
COUNT_SPACE = 1 << 20


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
    if flat.null_count():  # null labels inside lists
        keep = flat.is_not_null().to_numpy()
        flat = flat.filter(keep)
        lengths = np.bincount(np.repeat(np.arange(n, dtype=np.int64), lengths)[keep], minlength=n)
    names = sorted(flat.unique().to_list())
    if not names:
        return LabelMatrix(sp.csr_matrix((n, 0), dtype=np.int8), [])
    cols = flat.cast(pl.Enum(names)).to_physical().to_numpy()
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    if not _ascending_rows(cols, indptr):  # e.g. label_names lists are sorted and unique already
        keys = np.sort(np.repeat(np.arange(n, dtype=np.int64), lengths) * len(names) + cols)  # np.unique is slower
        keys = keys[np.concatenate(([True], keys[1:] != keys[:-1]))]  # drop repeated labels of a row
        rows, cols = keys // len(names), keys % len(names)
        np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    data = np.ones(len(cols), dtype=np.int8)
    csr = sp.csr_matrix((data, cols, indptr), shape=(n, len(names)))
    csr.has_sorted_indices = True
    return LabelMatrix(csr, names)


def _ascending_rows(cols: np.ndarray, indptr: np.ndarray) -> bool:
    """True when ``cols`` strictly increase within every row of the CSR layout ``indptr``."""
    if len(cols) < 2:
        return True
    up = cols[1:] > cols[:-1]
    starts = indptr[1:-1]
    up[starts[(starts > 0) & (starts < len(cols))] - 1] = True  # a row start may go down
    return bool(up.all())


def as_csr(y) -> sp.csr_matrix:
    """A 0/1 int8 CSR copy of a dense or sparse indicator matrix, indices sorted per row."""
    m = sp.csr_matrix(y, dtype=np.int8, copy=True)
    m.data[:] = 1
    m.eliminate_zeros()
    m.sort_indices()
    return m


def canonical(x) -> sp.csr_matrix:
    """``x`` itself when it already is what :func:`as_csr` would return (a 0/1 int8 ``csr_matrix``
    with sorted indices), else :func:`as_csr` of it. For read-only use: saves a copy."""
    if type(x) is sp.csr_matrix and x.dtype == np.int8 and x.has_sorted_indices and bool(np.all(x.data == 1)):
        return x
    return as_csr(x)


def _code_dtype(n_labels: int) -> type:
    return np.int32 if n_labels * n_labels < 2**31 else np.int64


def _pair_blocks(x: sp.csr_matrix):
    """For each row length m >= 2: (rows of that length, rows x m(m-1)/2 pair codes).

    Pair (a, b), a < b, is coded a * L + b; ``x`` has sorted indices, so the codes of a row come
    in ascending order (``np.triu_indices`` lists position pairs lexicographically).
    """
    n_labels = x.shape[1]
    lengths = np.diff(x.indptr)
    indices = x.indices.astype(_code_dtype(n_labels), copy=False)
    for m in np.flatnonzero(np.bincount(lengths)[2:]) + 2:
        rows = np.flatnonzero(lengths == m)
        block = indices[x.indptr[rows][:, None] + np.arange(m)]  # rows x m label ids (sorted)
        a_pos, b_pos = np.triu_indices(m, 1)
        yield rows, block[:, a_pos] * n_labels + block[:, b_pos]


def _dense_codes(codes: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """(sorted distinct codes as int64, position of each code among them) for codes in [0, space).

    Small spaces use a presence bitmap (linear time); huge ones fall back to sorting.
    """
    if space <= max(BITMAP_SPACE, 4 * len(codes)):
        present = np.zeros(space, dtype=bool)
        present[codes] = True
        uniq = np.flatnonzero(present).astype(np.int64, copy=False)
        remap = np.empty(space, dtype=np.int32 if len(uniq) < 2**31 else np.int64)
        remap[uniq] = np.arange(len(uniq), dtype=remap.dtype)
        return uniq, remap[codes]
    uniq, inverse = np.unique(codes, return_inverse=True)
    return uniq.astype(np.int64), inverse.ravel()


def _pair_ids(uniq: np.ndarray, n_labels: int) -> np.ndarray:
    return np.stack([uniq // n_labels, uniq % n_labels], axis=1)


def pair_matrix(x: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """Columns for label pairs that co-occur: returns (n x P 0/1 CSR, P x 2 array of label ids).

    A row with m labels carries m(m-1)/2 pairs; pairs (a, a) are not included. Columns are in
    ascending (a, b) order.

    >>> import scipy.sparse as sp
    >>> p, ids = pair_matrix(sp.csr_matrix([[1, 1, 1], [1, 1, 0]]))
    >>> ids.tolist(), p.toarray().tolist()
    ([[0, 1], [0, 2], [1, 2]], [[1, 1, 1], [1, 0, 0]])
    """
    x = canonical(x)
    n, n_labels = x.shape
    lengths = np.diff(x.indptr).astype(np.int64)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths * (lengths - 1) // 2, out=indptr[1:])
    if not indptr[-1]:
        return sp.csr_matrix((n, 0), dtype=np.int8), np.zeros((0, 2), dtype=np.int64)
    codes = np.empty(int(indptr[-1]), dtype=_code_dtype(n_labels))
    for rows, block in _pair_blocks(x):  # into row order: each row's codes ascending
        codes[indptr[rows][:, None] + np.arange(block.shape[1])] = block
    uniq, cols = _dense_codes(codes, n_labels * n_labels)
    data = np.ones(len(cols), dtype=np.int8)
    out = sp.csr_matrix((data, cols, indptr), shape=(n, len(uniq)))
    out.has_sorted_indices = True  # ascending codes, and the code -> column map is monotonic
    return out, _pair_ids(uniq, n_labels)


def pair_fold_counts(x: sp.csr_matrix, fold: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of each fold carrying each co-occurring pair: (k x P int64, P x 2 label ids).

    Columns as in :func:`pair_matrix` (the same counts as summing its rows per fold), without
    building the matrix when k * L^2 counters are few.

    >>> import scipy.sparse as sp
    >>> counts, ids = pair_fold_counts(sp.csr_matrix([[1, 1, 1], [1, 1, 0]]), np.array([0, 1]), 2)
    >>> counts.tolist(), ids.tolist()
    ([[1, 1, 1], [1, 0, 0]], [[0, 1], [0, 2], [1, 2]])
    """
    x = canonical(x)
    fold = np.asarray(fold, dtype=np.int64)
    n_labels = x.shape[1]
    space = n_labels * n_labels
    if k * space > COUNT_SPACE:
        pairs, ids = pair_matrix(x)
        per_row = np.repeat(fold, np.diff(pairs.indptr))
        p = pairs.shape[1]
        return np.bincount(per_row * p + pairs.indices, minlength=k * p).reshape(k, p), ids
    counts = np.zeros(k * space, dtype=np.int64)
    for rows, block in _pair_blocks(x):
        counts += np.bincount((fold[rows][:, None] * space + block).ravel(), minlength=k * space)
    counts = counts.reshape(k, space)
    uniq = np.flatnonzero(counts.any(axis=0))
    return counts[:, uniq], _pair_ids(uniq, n_labels)


def combined_matrix(x: sp.csr_matrix, order: int) -> sp.csr_matrix:
    """Columns to stratify on: the labels (order 1) or labels plus co-occurring pairs (order 2)."""
    x = canonical(x)
    if order == 1:
        return x
    pairs, _ = pair_matrix(x)
    return sp.hstack([x, pairs], format="csr", dtype=np.int8)


def group_codes(groups: np.ndarray | None, n: int) -> np.ndarray | None:
    """Dense group codes 0..G-1 in order of first appearance, or None when no group has 2+ rows.

    >>> group_codes(np.array([7, 3, 7, 5]), 4).tolist(), group_codes(np.array([2, 1]), 2)
    ([0, 1, 0, 2], None)
    """
    if groups is None:
        return None
    groups = np.asarray(groups)
    if groups.shape != (n,):
        raise SelectionError(f"groups has {groups.shape[0] if groups.ndim else 0} entries; the pool has {n} rows")
    if groups.dtype.kind in "iu" and n:
        lo, hi = int(groups.min()), int(groups.max())
        if hi - lo < max(4 * n, 1 << 16):  # ids in a small range: count instead of sorting
            return _dense_group_codes((groups.astype(np.uint64 if groups.dtype.kind == "u" else np.int64) - lo)
                                      .astype(np.intp), hi - lo + 1)
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    if len(first) == n:
        return None
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse.ravel()]


def _dense_group_codes(ids: np.ndarray, span: int) -> np.ndarray | None:
    """:func:`group_codes` of ids in [0, span) in linear time."""
    if np.bincount(ids, minlength=span).max() <= 1:
        return None
    n = len(ids)
    first = np.full(span, n, dtype=np.int64)
    np.minimum.at(first, ids, np.arange(n, dtype=np.int64))  # first row of each id
    starts = np.zeros(n, dtype=bool)
    starts[first[first < n]] = True
    return (np.cumsum(starts) - 1)[first[ids]]
