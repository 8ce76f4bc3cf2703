"""The swap refinement after the stratifier (curate/select/refine.py): it only ever improves the
objective, keeps sizes, coverage and groups, is deterministic, and beats skml order 2 on pairs."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.select.labels import as_csr, combined_matrix, label_matrix
from curate.select.quality import split_quality
from curate.select.refine import PAIR_WEIGHT, _realise, distinct_rows, refine
from curate.select.split import _group_matrix
from curate.select.stratify import stratify

LABELS = [f"l{i}" for i in range(7)]
label_lists = st.lists(st.lists(st.sampled_from(LABELS), max_size=4), min_size=4, max_size=90)


def _zipf_pool(n: int, n_labels: int, mean: float, seed: int) -> sp.csr_matrix:
    """Rows with 1 + Poisson(mean - 1) labels drawn without replacement, label i weighted 1/(i+1)."""
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, n_labels + 1)
    card = np.clip(rng.poisson(mean - 1, n) + 1, 1, n_labels)
    keys = np.log(p / p.sum())[None, :] + rng.gumbel(size=(n, n_labels))
    cols = np.argsort(-keys, axis=1)[np.arange(n_labels)[None, :] < card[:, None]]
    return as_csr(sp.csr_matrix((np.ones(len(cols)), (np.repeat(np.arange(n), card), cols)), shape=(n, n_labels)))


def _before_after(x, fold_sizes, seed, order, codes=None):
    """(assignment per row without refinement, with refinement), both from the same stratifier run."""
    m = combined_matrix(x, order)
    sizes = None
    if codes is not None:
        m, sizes = _group_matrix(m, codes)
    k = len(fold_sizes)
    rng = np.random.default_rng(seed)
    before = stratify(m, fold_sizes, rng, unit_sizes=sizes, protect=x.shape[1], refine_swaps=False)
    prio = np.random.default_rng(seed + 1).random(m.shape[0])
    after = refine(m, before, k, prio, unit_sizes=sizes, protect=x.shape[1])
    if codes is not None:
        return before[codes], after[codes]
    return before, after


def _objective(q, order):
    return q["LD"] + (PAIR_WEIGHT * q["LPD"] if order == 2 else 0.0)


@settings(max_examples=120, deadline=None)
@given(rows=label_lists, seed=st.integers(0, 2**31), k=st.integers(2, 4), order=st.sampled_from([1, 2]), data=st.data())
def test_refinement_never_worsens_and_keeps_sizes_and_coverage(rows, seed, k, order, data):
    x = label_matrix(pl.Series(rows, dtype=pl.List(pl.String))).csr
    n = x.shape[0]
    if k == 2:
        n_valid = data.draw(st.integers(1, n - 1))
        fold_sizes = [n - n_valid, n_valid]
    else:
        fold_sizes = [n // k + (i < n % k) for i in range(k)]
    before, after = _before_after(x, fold_sizes, seed, order)
    assert np.bincount(after, minlength=k).tolist() == np.bincount(before, minlength=k).tolist() == fold_sizes
    qb, qa = split_quality(x, before), split_quality(x, after)
    # order 1 minimises LD itself; order 2 minimises LD + PAIR_WEIGHT * LPD
    assert _objective(qa, order) <= _objective(qb, order) + 1e-12
    if order == 1:
        assert qa["LD"] <= qb["LD"] + 1e-12
    # no fold loses its last positive of a label
    for key in ("FZ", "FLZ"):
        assert qa[key] <= qb[key], key


@settings(max_examples=80, deadline=None)
@given(rows=label_lists, seed=st.integers(0, 2**31), order=st.sampled_from([1, 2]), data=st.data())
def test_refinement_keeps_groups_whole_and_group_sizes(rows, seed, order, data):
    n = len(rows)
    groups = np.array(data.draw(st.lists(st.integers(0, max(n // 3, 1)), min_size=n, max_size=n)), dtype=np.int64)
    codes = np.unique(groups, return_inverse=True)[1].ravel()
    x = label_matrix(pl.Series(rows, dtype=pl.List(pl.String))).csr
    unit_sizes = np.bincount(codes)
    # wanted sizes reachable with these groups: a random subset of the groups is the validation
    picked = np.array(data.draw(st.lists(st.booleans(), min_size=len(unit_sizes), max_size=len(unit_sizes))))
    n_valid = int(unit_sizes[picked].sum())
    if n_valid in (0, n):
        return
    before, after = _before_after(x, [n - n_valid, n_valid], seed, order, codes)
    for g in np.unique(codes):
        assert len(set(after[codes == g].tolist())) == 1
    assert int(after.sum()) == int(before.sum())
    qb, qa = split_quality(x, before), split_quality(x, after)
    assert _objective(qa, order) <= _objective(qb, order) + 1e-12
    assert qa["FZ"] <= qb["FZ"] and qa["FLZ"] <= qb["FLZ"]


@settings(max_examples=60, deadline=None)
@given(rows=label_lists, seed=st.integers(0, 2**31), order=st.sampled_from([1, 2]))
def test_refinement_is_deterministic(rows, seed, order):
    x = label_matrix(pl.Series(rows, dtype=pl.List(pl.String))).csr
    n = x.shape[0]
    sizes = [n - n // 3, n // 3]
    assert np.array_equal(_before_after(x, sizes, seed, order)[1], _before_after(x, sizes, seed, order)[1])


def test_refinement_lowers_ld_on_a_skewed_pool():
    # the stratifier leaves the frequent labels rows off; the swaps bring LD to the rounding floor
    x = _zipf_pool(6000, 21, 2.0, seed=3)
    before, after = _before_after(x, [4000, 2000], 0, 1)
    qb, qa = split_quality(x, before), split_quality(x, after)
    assert qa["LD"] < 0.5 * qb["LD"]
    wanted = x.sum(axis=0).A1 / 3  # valid's share of every label, within 1 row after refinement
    got = np.asarray(x[after == 1].sum(axis=0)).ravel()
    assert np.abs(got - wanted).max() <= 1.0


def test_distinct_rows_match_numpy_unique():
    rng = np.random.default_rng(0)
    dense = (rng.random((500, 6)) < 0.3).astype(np.int8)
    sizes = rng.integers(1, 3, 500)
    key, rep = distinct_rows(sp.csr_matrix(dense), sizes)
    _, inverse = np.unique(np.column_stack([dense, sizes]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    assert len(rep) == inverse.max() + 1
    # the same partition of the units, and each representative carries its set
    assert np.array_equal(inverse[rep][key], inverse)
    assert np.array_equal(dense[rep[key]], dense) and np.array_equal(sizes[rep[key]], sizes)
    # only the first 3 columns are hashed when the others follow from them (label pairs)
    derived = np.column_stack([dense[:, :3], dense[:, 0] & dense[:, 1], dense[:, 1] & dense[:, 2]])
    key3, rep3 = distinct_rows(sp.csr_matrix(derived), np.ones(500, np.int64), by=3)
    assert np.array_equal(derived[rep3[key3]], derived)
    assert len(rep3) == len(np.unique(derived, axis=0))


def test_realise_moves_the_lowest_priority_units():
    key = np.array([0, 0, 0, 1, 1, 1])
    fold = np.array([0, 0, 1, 1, 1, 0])
    initial = np.array([[2, 1], [1, 2]])
    final = np.array([[1, 2], [2, 1]])  # one unit of set 0 to fold 1, one of set 1 to fold 0
    prio = np.array([0.9, 0.1, 0.5, 0.7, 0.2, 0.3])
    out = _realise(fold, key, final, initial, prio)
    assert out.tolist() == [0, 1, 1, 1, 0, 0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_order2_beats_skml_order2_on_a_small_pool(seed):
    pytest.importorskip("skmultilearn")
    from curate.select._skml import skml_assign
    from curate.select.split import stratified_folds

    x = _zipf_pool(2000, 12, 2.5, seed=10 + seed)
    n, n_valid = x.shape[0], 667
    ours = split_quality(x, stratified_folds(x, [n - n_valid, n_valid], seed, 2))
    skml = split_quality(x, skml_assign(x, n_valid, 2, seed))
    assert ours["LPD"] <= skml["LPD"]
    assert ours["LD"] <= skml["LD"]
    assert ours["rows"]["valid"] == n_valid and ours["FZ"] == 0


def test_smallest_picks_what_argpartition_picks():
    """The sampled bound finds the same n smallest as a full argpartition when the boundary is
    not tied, and defers to argpartition when it is."""
    from curate.select.refine import _smallest

    rng = np.random.default_rng(4)
    for size, n in ((1_000_000, 48), (50_000, 48), (200, 48), (100_000, 1)):
        values = rng.normal(size=size)
        got = set(_smallest(values, n).tolist())
        assert got == set(np.argpartition(values, n)[:n].tolist()) and len(got) == n
    tied = np.concatenate([np.zeros(100), np.ones(100_000)])  # 100 equal values across the boundary
    rng.shuffle(tied)
    assert set(_smallest(tied, 48).tolist()) == set(np.argpartition(tied, 48)[:48].tolist())
    steps = np.repeat(np.arange(2_000.0), 50)  # ties everywhere, none at the boundary of 50
    assert set(_smallest(steps, 50).tolist()) == set(range(50))
