"""Property tests: exact sizes, determinism, group integrity, FZ = 0 when every label has >= 2."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import curate.select.stratify as stratify_module
from curate.select.quality import split_quality
from curate.select.split import kfold_assign, split_options, split_train_valid
from curate.select.stratify import allocate

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


def _fz(rows, validation, seed, order):
    labels = pl.Series(rows, dtype=pl.List(pl.String))
    q = split_train_valid(labels, split_options({"validation": validation, "seed": seed, "order": order})).quality
    return q["FZ"], q["missing"]


def _no_repair(*args, **kwargs):
    raise AssertionError("the coverage guards should have handled this without the final repair")


@pytest.mark.parametrize("order", [1, 2])
def test_fz_zero_regression_lacked_label_in_batch(order, monkeypatch):
    # hypothesis find: valid (8 rows) missed l3 (4 rows). In the l5 batch valid lacked l3, two of
    # whose rows were in the batch and two outside; no room was reserved for it (it was "in the
    # batch"), the deal gave valid's last free row to an l5-only row and l3 came too late.
    monkeypatch.setattr(stratify_module, "_cover", _no_repair)
    rows = [["l0"], ["l0"], ["l1"], ["l1"], ["l2"], ["l2"], ["l3"], ["l5"], ["l3", "l5"], ["l4", "l5"]]
    rows = rows + [r for r in rows if r]
    assert _fz(rows, 8, 4, order) == (0, {"train": [], "valid": []})


@pytest.mark.parametrize("order", [1, 2])
def test_fz_zero_regression_fold_smaller_than_label_count(order, monkeypatch):
    # train has 4 rows for 6 labels: it can only cover them with multi-label rows, so it must not
    # reserve a row per lacked label (that starved it of l2 and l5)
    monkeypatch.setattr(stratify_module, "_cover", _no_repair)
    rows = [[], ["l0", "l4"], ["l0", "l1", "l3"], ["l2", "l3", "l5"], ["l1", "l2", "l4", "l5"]]
    rows = rows + [r for r in rows if r]
    assert _fz(rows, 5, 4, order)[0] == 0


def test_label_need_outranks_label_pair():
    # one row left: fold 0 needs it for a label (its last chance), fold 1 lacks the batch's column,
    # a label pair (minor): the label wins, whichever fold wants the pair more
    rng = np.random.default_rng(0)
    for want in ([0.12, 0.88], [0.88, 0.12]):
        assert allocate(want, 1, [5, 8], [1.0, 0.0], rng, [True, False], False, [True, False], True).tolist() == [1, 0]
    # the batch's column is a label fold 1 lacks: a real conflict, left to the wants as before
    assert allocate([0.12, 0.88], 1, [5, 8], [1.0, 0.0], rng, [True, False], False, [True, False], False).tolist() == [0, 1]


def test_fz_zero_regression_label_lost_to_pair_batches():
    # order 2: pair batches sent two of l1's three rows to valid; the last one was then given to
    # valid as well, for a pair valid lacked, although train needed it for l1
    rows = [[], [], [1, 3, 4], [], [0, 4], [4], [], [], [0, 1, 3], [], [], [0, 2, 5], [], [], [3], [0, 1, 2, 5],
            [0, 3, 4]]
    assert _fz([[f"l{j}" for j in r] for r in rows], 10, 1349092486, 2)[0] == 0


def test_fz_zero_regression_repaired_by_swap():
    # the greedy pass leaves train without l3 (both l3 rows in valid, each valid's only row of
    # another label); swapping [l0, l3] for train's [l0] repairs it
    rows = [["l0", "l3"], ["l0"], [], ["l2", "l3"], ["l1"], [], [], ["l0", "l1", "l2"]]
    assert _fz(rows, 4, 1900813699, 2)[0] == 0


repeated_sets = st.lists(st.lists(st.sampled_from(LABELS), min_size=1, max_size=3), min_size=1, max_size=10)


@settings(max_examples=100, deadline=None)
@given(sets=repeated_sets, extra=label_lists, k=st.integers(2, 4), seed=st.integers(0, 2**31), data=st.data())
def test_fz_zero_when_label_sets_repeat_k_times(sets, extra, k, seed, data):
    # the documented guarantee: every label rides on a label set that occurs on k rows, and every
    # fold has a row per label -> no fold misses a label (orders 1 and 2)
    rows = [r for r in sets for _ in range(k)]
    known = {x for r in rows for x in r}
    rows += [[x for x in r if x in known] for r in extra[:20]]
    n_labels = len(known)
    rows += [[]] * max(k * n_labels - len(rows), 0)
    labels = pl.Series(rows, dtype=pl.List(pl.String))
    n = len(rows)
    for order in (1, 2):
        if k == 2:
            n_valid = data.draw(st.integers(n_labels, n - n_labels))
            q = split_train_valid(labels, split_options({"validation": n_valid, "seed": seed, "order": order})).quality
        else:
            q = split_quality(labels, kfold_assign(labels, k, seed, order=order))
        assert q["FZ"] == 0, (k, order, q["missing"])
