"""Property tests: exact sizes, determinism, group integrity, FZ = 0 when every label has >= 2."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.select.quality import split_quality
from curate.select.split import kfold_assign, split_options, split_train_valid

LABELS = [f"l{i}" for i in range(8)]

label_lists = st.lists(st.lists(st.sampled_from(LABELS), max_size=4), min_size=2, max_size=80)


@settings(max_examples=120, deadline=None)
@given(rows=label_lists, frac=st.floats(0.05, 0.95), seed=st.integers(0, 2**31), order=st.sampled_from([1, 2]))
def test_exact_sizes_and_determinism(rows, frac, seed, order):
    labels = pl.Series(rows, dtype=pl.List(pl.String))
    n = len(rows)
    n_valid = min(max(int(round(frac * n)), 0), n - 1)
    opts = split_options({"validation": n_valid, "seed": seed, "order": order})
    a = split_train_valid(labels, opts).assignment
    assert int(a.sum()) == n_valid and len(a) == n
    assert np.array_equal(a, split_train_valid(labels, opts).assignment)


@settings(max_examples=120, deadline=None)
@given(rows=label_lists, seed=st.integers(0, 2**31), data=st.data())
def test_fz_zero_when_every_label_has_two(rows, seed, data):
    # make every label that occurs occur at least twice
    rows = rows + [r for r in rows if r]
    labels = pl.Series(rows, dtype=pl.List(pl.String))
    n = len(rows)
    n_labels = len({x for r in rows for x in r})
    lo = min(n_labels, n // 2)
    n_valid = data.draw(st.integers(max(lo, 1), max(n - max(lo, 1), 1)))
    if n_valid >= n:
        return
    for order in (1, 2):
        q = split_train_valid(labels, split_options({"validation": n_valid, "seed": seed, "order": order})).quality
        assert q["FZ"] == 0, (order, q["missing"])


@settings(max_examples=80, deadline=None)
@given(rows=label_lists, seed=st.integers(0, 2**31), data=st.data())
def test_groups_never_split(rows, seed, data):
    n = len(rows)
    groups = np.array(data.draw(st.lists(st.integers(0, max(n // 2, 1)), min_size=n, max_size=n)), dtype=np.int64)
    labels = pl.Series(rows, dtype=pl.List(pl.String))
    n_valid = data.draw(st.integers(1, n - 1))
    r = split_train_valid(labels, split_options({"validation": n_valid, "seed": seed}), groups=groups)
    for g in np.unique(groups):
        assert len(set(r.assignment[groups == g].tolist())) == 1
    largest = int(np.bincount(groups).max())
    assert abs(int(r.assignment.sum()) - n_valid) <= largest


@settings(max_examples=60, deadline=None)
@given(rows=label_lists, k=st.integers(2, 5), seed=st.integers(0, 2**31))
def test_kfold_sizes_and_coverage(rows, k, seed):
    if len(rows) < k:
        return
    labels = pl.Series(rows, dtype=pl.List(pl.String))
    folds = kfold_assign(labels, k, seed)
    sizes = np.bincount(folds, minlength=k)
    assert sizes.max() - sizes.min() <= 1
    counts = {}
    for r in rows:
        for x in set(r):
            counts[x] = counts.get(x, 0) + 1
    if counts and min(counts.values()) >= k and len(counts) * 2 <= min(sizes):
        assert split_quality(labels, folds)["FZ"] == 0
