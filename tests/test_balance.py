"""Balanced selection against the practitioners' capped baseline, on real label sets."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.errors import ConfigError
from curate.select.balance import balance_options, select_balanced, select_natural
from curate.select.baseline import capped_baseline
from curate.select.labels import SelectionError, label_matrix
from curate.select.quality import evenness, evenness_of_counts
from curate.select.uniform import even_select

DATA = Path(__file__).parent / "data"


def labels_of(name: str) -> pl.Series:
    return pl.read_ndjson(DATA / name, schema={"labels": pl.List(pl.String)})["labels"]


def synthetic(n: int, n_labels: int, seed: int = 0) -> pl.Series:
    """Zipf label frequencies, 3 labels a row, neighbouring labels co-occur."""
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, n_labels + 1)
    first = rng.choice(n_labels, size=n, p=p / p.sum())
    rows = np.stack([first, (first + rng.integers(1, 3, n)) % n_labels, (first + rng.integers(3, 6, n)) % n_labels], 1)
    return pl.Series([[f"s{j}" for j in r] for r in rows.tolist()])


def balance(labels, **opts):
    return select_balanced(labels, balance_options(opts))


@pytest.mark.parametrize(
    "name", ["mulan_yeast_labels.jsonl", "mulan_emotions_labels.jsonl", "eurlex57k_level1_labels.jsonl", "synthetic"]
)
def test_at_least_as_even_as_capped_baseline(name):
    labels = synthetic(3000, 21) if name == "synthetic" else labels_of(name)
    r = balance(labels, size=150, seed=1)
    ours, base = r.stats["evenness"], r.stats["baseline"]["evenness"]
    assert len(r.indices) == 150
    if r.stats["baseline"]["selected"] == 150:
        assert ours["cv"] <= base["cv"] + 1e-12
        assert ours["min_count"] >= base["min_count"]
    else:  # the baseline stopped at cap 50 short of 150 rows: compare at the size it reached
        lm = label_matrix(labels)
        size = r.stats["baseline"]["selected"]
        rows = even_select(lm.csr, size, np.random.default_rng(1))
        ours_same = evenness(labels.gather(rows), labels)
        assert ours_same["cv"] <= base["cv"] and ours_same["min_count"] >= base["min_count"]
    # much more even than the pool itself
    assert ours["cv"] < r.stats["pool_evenness"]["cv"]


def test_stats_are_plain_json_and_complete():
    r = balance(labels_of("eurlex57k_level1_labels.jsonl"), size=150, seed=7)
    text = json.dumps(r.stats, allow_nan=False)
    assert '"baseline"' in text
    s = r.stats
    assert {"cv", "max_min_ratio", "min_count", "zero_count_labels"} <= set(s["evenness"])
    assert {"cv", "max_min_ratio", "min_count"} <= set(s["baseline"]["evenness"])
    assert s["selected"] == 150 and s["unused"] == 150 and s["pool_rows"] == 300
    assert sum(v["selected"] for v in s["labels"].values()) == label_matrix(
        labels_of("eurlex57k_level1_labels.jsonl").gather(r.indices)
    ).csr.nnz


def test_deterministic_sorted_and_leaves_global_rng_alone():
    labels = labels_of("mulan_yeast_labels.jsonl")
    np.random.seed(5)
    before = np.random.get_state()[1].copy()
    a = balance(labels, size=200, seed=3).indices
    assert np.array_equal(np.random.get_state()[1], before)
    assert np.array_equal(a, balance(labels, size=200, seed=3).indices)
    assert not np.array_equal(a, balance(labels, size=200, seed=4).indices)
    assert a.dtype == np.int64 and np.all(np.diff(a) > 0)


def test_natural_keeps_pool_proportions():
    labels = labels_of("mulan_yeast_labels.jsonl")
    picked = select_natural(labels, 600, seed=0)
    assert len(picked) == 600 and np.all(np.diff(picked) > 0)
    pool = label_matrix(labels)
    sub = pool.csr[picked]
    frac_pool = pool.counts / pool.csr.shape[0]
    frac_sub = np.bincount(sub.indices, minlength=len(pool.names)) / 600
    assert np.abs(frac_pool - frac_sub).max() < 0.01
    r = balance(labels, size=600, strategy="natural", seed=0)
    assert np.array_equal(r.indices, picked)


def test_cap_and_min_per_label():
    labels = labels_of("mulan_yeast_labels.jsonl")
    r = balance(labels, size=150, cap=60, seed=0)
    assert r.stats["evenness"]["max_count"] <= 60
    # the cap can make the size unreachable: fewer rows, and a warning says so
    r = balance(labels, size=150, cap=3, seed=0)
    assert len(r.indices) < 150 and any("cap" in w for w in r.stats["warnings"])
    assert r.stats["evenness"]["max_count"] <= 3
    eur = labels_of("eurlex57k_level1_labels.jsonl")
    r = balance(eur, size=60, min_per_label=4, seed=0)
    for name, c in r.stats["labels"].items():
        assert c["selected"] >= min(4, c["pool"]), name


def test_small_and_empty_pools():
    labels = pl.Series([["a"], ["b"], ["a", "b"]])
    r = balance(labels, size=10)
    assert r.indices.tolist() == [0, 1, 2] and r.stats["warnings"]
    with pytest.raises(SelectionError, match="pool is empty"):
        balance(pl.Series([], dtype=pl.List(pl.String)), size=5)
    with pytest.raises(ConfigError, match="The 'size' parameter of balance must be an int in the range \\[1, inf\\)"):
        balance_options({"size": 0})
    with pytest.raises(ConfigError, match="'strategy' parameter of balance must be one of"):
        balance_options({"size": 5, "strategy": "random"})


def test_capped_baseline_follows_the_recipe():
    x = label_matrix(synthetic(2000, 21, seed=2)).csr
    picked, cap = capped_baseline(x, 150, np.random.default_rng(0))
    counts = np.bincount(x[picked].indices, minlength=21)
    assert len(picked) == 150 and counts.max() <= cap
    smaller, _ = capped_baseline(x, 150, np.random.default_rng(0))
    assert np.array_equal(picked, smaller)


def test_evenness_numbers():
    e = evenness_of_counts([10, 20, 30], ["a", "b", "c"])
    assert e["cv"] == pytest.approx(np.std([10, 20, 30]) / 20)
    assert e["max_min_ratio"] == 3.0 and e["min_count"] == 10
    z = evenness(pl.Series([["a"]]), pool=pl.Series([["a"], ["b"]]))
    assert z["zero_count_labels"] == ["b"] and z["max_min_ratio"] is None


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.lists(st.sampled_from("abcdef"), max_size=3), min_size=1, max_size=60),
    size=st.integers(1, 70),
    seed=st.integers(0, 2**31),
    strategy=st.sampled_from(["uniform", "natural"]),
)
def test_selection_properties(rows, size, seed, strategy):
    labels = pl.Series(rows, dtype=pl.List(pl.String))
    r = balance(labels, size=size, seed=seed, strategy=strategy)
    idx = r.indices
    assert len(idx) == min(size, len(rows))
    assert len(np.unique(idx)) == len(idx) and (len(idx) == 0 or (idx.min() >= 0 and idx.max() < len(rows)))
    assert np.array_equal(idx, balance(labels, size=size, seed=seed, strategy=strategy).indices)
    json.dumps(r.stats, allow_nan=False)
