"""Stratified train/validation split and k-fold on real MULAN / EUR-Lex labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from curate.errors import ConfigError, CurateError
from curate.select.balance import balance_options, select_balanced
from curate.select.labels import SelectionError, label_matrix, pair_matrix
from curate.select.quality import split_quality
from curate.select.split import TRAIN, VALID, kfold_assign, split_options, split_train_valid

DATA = Path(__file__).parent / "data"


def labels_of(name: str) -> pl.Series:
    return pl.read_ndjson(DATA / name, schema={"labels": pl.List(pl.String)})["labels"]


@pytest.fixture(scope="module")
def yeast() -> pl.Series:
    return labels_of("mulan_yeast_labels.jsonl")


@pytest.fixture(scope="module")
def emotions() -> pl.Series:
    return labels_of("mulan_emotions_labels.jsonl")


@pytest.fixture(scope="module")
def eurlex() -> pl.Series:
    return labels_of("eurlex57k_level1_labels.jsonl")


def split(labels, **opts):
    return split_train_valid(labels, split_options(opts))


@pytest.mark.parametrize("validation, wanted", [(800, 800), (0.25, 604), (1, 1)])
def test_sizes_are_exact(yeast, validation, wanted):
    r = split(yeast, validation=validation, seed=3)
    assert r.assignment.dtype == np.int8
    assert int((r.assignment == VALID).sum()) == wanted
    assert int((r.assignment == TRAIN).sum()) == yeast.len() - wanted
    assert r.quality["ED"] == 0.0
    assert r.quality["rows"] == {"train": yeast.len() - wanted, "valid": wanted}


@pytest.mark.parametrize("order", [1, 2])
def test_deterministic_and_seeded(yeast, order):
    a = split(yeast, validation=500, seed=7, order=order).assignment
    b = split(yeast, validation=500, seed=7, order=order).assignment
    c = split(yeast, validation=500, seed=8, order=order).assignment
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("method", ["curate", "skmultilearn"])
def test_global_random_state_untouched(emotions, method):
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    split(emotions, validation=200, seed=1, method=method)
    assert np.array_equal(np.random.get_state()[1], before)


def test_skml_method_is_seeded(emotions):
    a = split(emotions, validation=200, seed=4, method="skmultilearn").assignment
    b = split(emotions, validation=200, seed=4, method="skmultilearn").assignment
    assert np.array_equal(a, b)


@pytest.mark.parametrize("name", ["mulan_yeast_labels.jsonl", "mulan_emotions_labels.jsonl", "eurlex57k_level1_labels.jsonl"])
def test_label_distribution_at_least_as_good_as_skml(name):
    labels = labels_of(name)
    n_valid = round(labels.len() / 3)
    ours1 = split(labels, validation=n_valid, seed=0).quality
    ours2 = split(labels, validation=n_valid, seed=0, order=2).quality
    skml = [split(labels, validation=n_valid, seed=s, method="skmultilearn", order=2).quality for s in range(3)]
    assert ours1["LD"] <= min(q["LD"] for q in skml)
    assert ours2["LPD"] <= min(q["LPD"] for q in skml)
    assert ours1["FZ"] == ours2["FZ"] == 0
    assert ours1["ED"] == ours2["ED"] == 0.0


def test_label_distribution_close_to_iterstrat(yeast):
    iterstrat = pytest.importorskip("iterstrat.ml_stratifiers")
    x = label_matrix(yeast).csr
    n, n_valid = x.shape[0], 806
    theirs = []
    for seed in range(3):
        sss = iterstrat.MultilabelStratifiedShuffleSplit(n_splits=1, test_size=n_valid / n, random_state=seed)
        _, test = next(sss.split(np.zeros(n), x.toarray()))
        a = np.zeros(n, dtype=np.int64)
        a[test] = 1
        theirs.append(split_quality(x, a)["LD"])
    ours = [split(yeast, validation=n_valid, seed=s).quality["LD"] for s in range(3)]
    assert np.mean(ours) <= 1.1 * np.mean(theirs)


def test_eurlex_150_balanced_then_100_50(eurlex):
    picked = select_balanced(eurlex, balance_options({"size": 150, "seed": 7})).indices
    subset = eurlex.gather(picked)
    r = split(subset, validation=50, seed=7)
    q = r.quality
    assert q["rows"] == {"train": 100, "valid": 50}
    twice = [name for name, c in q["labels"].items() if c["pool"] >= 2]
    assert twice and all(q["labels"][name]["train"] > 0 and q["labels"][name]["valid"] > 0 for name in twice)
    assert q["FZ"] == 0 or q["single_row_labels"]
    assert 0 <= q["LD"] < 0.1
    json.dumps(q, allow_nan=False)


def test_quality_matches_skml_measures(emotions):
    measures = pytest.importorskip("skmultilearn.model_selection.measures")
    x = label_matrix(emotions).csr
    a = split(emotions, validation=150, seed=2).assignment
    folds = [np.flatnonzero(a == 0), np.flatnonzero(a == 1)]
    q = split_quality(x, a)
    dense = x.toarray()
    assert q["LD"] == pytest.approx(measures.label_combination_distribution(dense, folds, 1), abs=1e-9)
    # FLZ / FLZLP by brute force
    pairs, _ = pair_matrix(x)
    for m, key in ((x, "FLZ"), (pairs, "FLZLP")):
        d = m.toarray()
        present = d.sum(axis=0) > 0
        zeros = sum(int(((d[f].sum(axis=0) == 0) & present).sum()) for f in folds)
        assert q[key] == zeros


def test_single_row_label_goes_to_train():
    labels = pl.Series([["a"], ["a"], ["b"], ["b"], ["a"], ["b"], ["rare"], ["a", "b"]])
    r = split(labels, validation=3, seed=0)
    assert r.assignment[6] == TRAIN
    assert r.quality["single_row_labels"] == ["rare"]
    assert r.quality["missing"]["valid"] == ["rare"]


def test_groups_stay_together(yeast):
    rng = np.random.default_rng(0)
    groups = np.arange(yeast.len())
    for g in range(300):  # 300 groups of 2-4 near-duplicates
        groups[rng.choice(yeast.len(), size=rng.integers(2, 5), replace=False)] = 10_000 + g
    r = split_train_valid(yeast, split_options({"validation": 600, "seed": 1}), groups=groups)
    for g in np.unique(groups):
        assert len(set(r.assignment[groups == g].tolist())) == 1
    assert abs(int(r.assignment.sum()) - 600) <= 4
    assert r.quality["FZ"] == 0
    assert r.quality["groups"]["multi_row_groups"] > 0


@pytest.mark.parametrize("order", [1, 2])
def test_kfold(yeast, order):
    folds = kfold_assign(yeast, k=5, seed=0, order=order)
    sizes = np.bincount(folds)
    assert len(sizes) == 5 and sizes.max() - sizes.min() <= 1
    q = split_quality(yeast, folds)
    assert q["FZ"] == 0
    assert np.array_equal(folds, kfold_assign(yeast, k=5, seed=0, order=order))


def test_bad_input_messages(yeast):
    with pytest.raises(SelectionError, match="pool is empty"):
        split(pl.Series([], dtype=pl.List(pl.String)), validation=1)
    with pytest.raises(SelectionError, match="validation asks for 3000 rows but the pool has only 2417"):
        split(yeast, validation=3000)
    with pytest.raises(ConfigError, match="fraction"):
        split_options({"validation": 1.5})
    with pytest.raises(ConfigError, match="'order' parameter of split"):
        split_options({"validation": 10, "order": 3})
    with pytest.raises(ConfigError, match="unknown option 'valid'"):
        split_options({"valid": 10})
    with pytest.raises(SelectionError, match="groups has 3 entries"):
        split_train_valid(yeast, split_options({"validation": 10}), groups=np.arange(3))
    assert issubclass(SelectionError, CurateError)


def test_no_labels_and_zero_validation():
    r = split(pl.Series([[], [], [], []], dtype=pl.List(pl.String)), validation=0.5)
    assert int(r.assignment.sum()) == 2 and r.quality["LD"] == 0.0
    r = split(pl.Series([["a"], ["b"]]), validation=0)
    assert r.assignment.tolist() == [0, 0]


def test_groups_that_make_the_size_impossible_are_reported():
    # 33 near-duplicate groups of 3 rows and one single row: 50 validation rows cannot be met
    labels = pl.Series([["a"] if i % 2 else ["b"] for i in range(100)])
    groups = np.repeat(np.arange(34), 3)[:100]
    r = split_train_valid(labels, split_options({"validation": 50, "seed": 0}), groups=groups)
    got = int(r.assignment.sum())
    assert got in (49, 51)
    q = r.quality
    assert q["size_gap"] == {"train": 50 - got, "valid": got - 50}
    assert len(q["warnings"]) == 1
    assert f"validation has {got} rows" in q["warnings"][0]
    assert "no combination of whole groups adds up to exactly 50 rows (closest: 49 or 51)" in q["warnings"][0]
    # the HTML report shows it next to the split quality
    from curate.report.html import _quality

    assert "no combination of whole groups" in _quality({"split": q})
    # exact sizes: no gap, no warning
    exact = split(labels, validation=50, seed=0).quality
    assert exact["size_gap"] == {"train": 0, "valid": 0} and exact["warnings"] == []
    json.dumps(q, allow_nan=False)


def test_skml_size_miss_is_reported(emotions):
    q = split(emotions, validation=200, seed=1, method="skmultilearn").quality
    gap = q["rows"]["valid"] - 200
    assert q["size_gap"]["valid"] == gap
    assert (gap == 0) == (q["warnings"] == [])
    if gap:
        assert "scikit-multilearn does not keep sizes exact" in q["warnings"][0]
