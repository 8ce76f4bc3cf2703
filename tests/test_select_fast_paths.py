"""The linear-time paths of the selection code give exactly what the plain (sorting) ones give."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp

from curate.select import labels as labels_mod
from curate.select.labels import group_codes, label_matrix, pair_fold_counts, pair_matrix
from curate.select.quality import split_quality
from curate.select.stratify import _unit_order


def random_labels(rng, n: int, n_labels: int, most: int) -> sp.csr_matrix:
    """0/1 CSR with 0..most labels a row (so empty and single-label rows too)."""
    lengths = rng.integers(0, min(most, n_labels) + 1, size=n)
    rows = np.repeat(np.arange(n), lengths)
    cols = np.concatenate([rng.choice(n_labels, size=m, replace=False) for m in lengths] or [[]]).astype(int)
    x = sp.csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(n, n_labels))
    x.sort_indices()
    return x


def reference_pairs(x: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(dense n x P pair matrix, P x 2 ids) by brute force, pairs in ascending (a, b) order."""
    rows = [sorted(x.indices[x.indptr[i]:x.indptr[i + 1]].tolist()) for i in range(x.shape[0])]
    ids = sorted({pair for r in rows for pair in combinations(r, 2)})
    where = {pair: j for j, pair in enumerate(ids)}
    dense = np.zeros((x.shape[0], len(ids)), dtype=np.int8)
    for i, r in enumerate(rows):
        for pair in combinations(r, 2):
            dense[i, where[pair]] = 1
    return dense, np.array(ids, dtype=np.int64).reshape(-1, 2)


@pytest.mark.parametrize("n_labels", [1, 2, 7, 60, 3000])
@pytest.mark.parametrize("seed", [0, 1])
def test_pair_matrix_matches_brute_force(n_labels, seed):
    x = random_labels(np.random.default_rng(seed), 300, n_labels, 8)
    p, ids = pair_matrix(x)
    dense, ref_ids = reference_pairs(x)
    assert ids.dtype == np.int64 and np.array_equal(ids, ref_ids)
    assert p.dtype == np.int8 and p.shape == dense.shape
    assert np.array_equal(p.toarray(), dense)
    assert p.has_sorted_indices and np.all(np.diff(p.indices[p.indptr[0]:p.indptr[1]]) > 0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_pair_matrix_bitmap_equals_sorting(monkeypatch, seed):
    """A huge label space (L^2 = 25M codes) dedupes by sorting; force the bitmap and compare."""
    x = random_labels(np.random.default_rng(seed), 2000, 5000, 6)
    general, general_ids = pair_matrix(x)
    monkeypatch.setattr(labels_mod, "BITMAP_SPACE", 5000 * 5000)
    fast, fast_ids = pair_matrix(x)
    assert np.array_equal(fast_ids, general_ids)
    for a in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(fast, a), getattr(general, a))
    assert (fast - general).nnz == 0


def test_pair_matrix_without_pairs():
    p, ids = pair_matrix(sp.csr_matrix(np.array([[1, 0], [0, 0], [0, 1]])))
    assert p.shape == (3, 0) and ids.shape == (0, 2)
    p, ids = pair_matrix(sp.csr_matrix((0, 4), dtype=np.int8))
    assert p.shape == (0, 0) and ids.shape == (0, 2)


@pytest.mark.parametrize("n_labels, k", [(5, 2), (40, 3), (1200, 2)])
def test_pair_fold_counts_both_paths(monkeypatch, n_labels, k):
    rng = np.random.default_rng(n_labels)
    x = random_labels(rng, 500, n_labels, 7)
    fold = rng.integers(0, k, size=500)
    p, ids = pair_matrix(x)
    expected = np.stack([np.asarray(p[fold == f].sum(axis=0)).ravel() for f in range(k)])
    for count_space in (labels_mod.COUNT_SPACE, 0):  # 0: always through the pair matrix
        monkeypatch.setattr(labels_mod, "COUNT_SPACE", count_space)
        counts, got_ids = pair_fold_counts(x, fold, k)
        assert np.array_equal(got_ids, ids)
        assert counts.dtype == np.int64 and np.array_equal(counts, expected)


def test_split_quality_same_through_either_pair_path(monkeypatch):
    rng = np.random.default_rng(3)
    x = random_labels(rng, 400, 30, 5)
    a = rng.integers(0, 2, size=400)
    q = split_quality(x, a)
    monkeypatch.setattr(labels_mod, "COUNT_SPACE", 0)
    assert split_quality(x, a) == q
    assert q["label_pairs"] == len(pair_matrix(x)[1])


def reference_label_matrix(labels: pl.Series) -> tuple[np.ndarray, list[str]]:
    lists = [sorted({v for v in (row or []) if v is not None}) for row in labels.to_list()]
    names = sorted({v for row in lists for v in row})
    dense = np.zeros((len(lists), len(names)), dtype=np.int8)
    for i, row in enumerate(lists):
        dense[i, [names.index(v) for v in row]] = 1
    return dense, names


@pytest.mark.parametrize("rows", [
    [["a", "b"], ["c"], [], None, ["a"]],  # sorted and unique: no sort needed
    [["b", "a"], ["c"], [], None, ["a"]],  # unsorted
    [["a", "a"], ["b", "c", "b"], ["a"]],  # repeated labels
    [["a", None], [None], ["b"], []],  # null labels
    [["z"], ["a"], ["é", "e"], ["ab", "a"]],  # row boundaries go down
    [[], None],
])
def test_label_matrix_matches_reference(rows):
    labels = pl.Series(rows, dtype=pl.List(pl.String))
    lm = label_matrix(labels)
    dense, names = reference_label_matrix(labels)
    assert lm.names == names
    assert np.array_equal(lm.csr.toarray(), dense.reshape(len(rows), len(names)))
    if names:
        assert lm.csr.has_sorted_indices
        assert all(np.all(np.diff(lm.csr.indices[s:e]) > 0) for s, e in zip(lm.csr.indptr[:-1], lm.csr.indptr[1:], strict=True))


def test_label_matrix_sorted_and_shuffled_lists_agree():
    rng = np.random.default_rng(5)
    names = [f"label {i:03d}" for i in range(80)]
    rows = [sorted(rng.choice(names, size=rng.integers(0, 7), replace=False).tolist()) for _ in range(3000)]
    a = label_matrix(pl.Series(rows, dtype=pl.List(pl.String)))
    b = label_matrix(pl.Series([r[::-1] + r[:1] for r in rows], dtype=pl.List(pl.String)))
    assert a.names == b.names
    for attr in ("indptr", "indices", "data"):
        assert np.array_equal(getattr(a.csr, attr), getattr(b.csr, attr))


def reference_group_codes(groups) -> np.ndarray | None:
    seen: dict = {}
    codes = [seen.setdefault(g, len(seen)) for g in groups.tolist()]
    return None if len(seen) == len(codes) else np.array(codes, dtype=np.int64)


@pytest.mark.parametrize("groups", [
    np.array([5, 3, 5, 9, 3, 3]),
    np.array([-4, 7, -4, 0], dtype=np.int8),  # int8: the range does not fit in int8
    np.array([2**64 - 1, 2**64 - 3, 2**64 - 1], dtype=np.uint64),
    np.array([10**15, -(10**15), 10**15]),  # wide range: sorted by np.unique
    np.array(["b", "a", "b"]),
    np.arange(1000)[::-1],  # all distinct
    np.random.default_rng(0).integers(0, 50, size=200),
])
def test_group_codes_first_appearance(groups):
    got = group_codes(groups, len(groups))
    expected = reference_group_codes(groups)
    if expected is None:
        assert got is None
    else:
        assert got.dtype == np.int64 and np.array_equal(got, expected)


def reference_unit_order(owner, cols, c, remaining, prio) -> np.ndarray:
    rank = np.where(cols == c, np.inf, remaining[cols])
    starts = np.flatnonzero(np.concatenate(([True], owner[1:] != owner[:-1])))
    first = np.minimum.reduceat(rank, starts)
    second = np.minimum.reduceat(np.where(rank == first[owner], np.inf, rank), starts)
    return np.lexsort((prio, second, first))


@pytest.mark.parametrize("n_units, n_cols, n_values", [(5000, 50, 6), (5000, 300, 30), (3000, 400, 10_000), (30, 10, 3)])
@pytest.mark.parametrize("seed", [0, 1])
def test_unit_order_matches_lexsort(n_units, n_cols, n_values, seed):
    """Radix path (few distinct counts), lexsort path (many, or a small batch), tied priorities."""
    rng = np.random.default_rng(seed)
    c = int(rng.integers(n_cols))
    lengths = rng.integers(1, 6, size=n_units)
    cols = np.concatenate([np.sort(np.append(rng.choice(np.delete(np.arange(n_cols), c), m - 1, replace=False), c))
                           for m in lengths])
    owner = np.repeat(np.arange(n_units), lengths)
    starts = np.cumsum(lengths) - lengths
    remaining = rng.integers(0, n_values, size=n_cols).astype(np.float64)
    prio = rng.random(n_units)
    prio[rng.integers(n_units, size=n_units // 10)] = 0.5  # ties: kept in position order
    assert np.array_equal(_unit_order(owner, starts, cols, c, remaining, prio),
                          reference_unit_order(owner, cols, c, remaining, prio))
