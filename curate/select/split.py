"""The ``split`` stage: train/validation (and k-fold) by iterative multi-label stratification.

Options (YAML ``split:`` section): ``validation`` (int rows, or float fraction in (0, 1)), ``seed``
(default 0), ``order`` (1 = labels, 2 = labels and label pairs), ``method`` (``curate`` = the fast
vectorised implementation in :mod:`curate.select.stratify`, ``skmultilearn`` = the reference
library, sizes approximate) and ``production`` (rows of ``valid_production``, drawn by the pipeline
from the unused pool with :func:`curate.select.balance.select_natural`).

Near-duplicate ``groups`` stay whole: a group is stratified as one unit. Sizes are exact without
groups; with groups they are as close as the group sizes allow (``ED`` in the quality says how far).
A label carried by one row cannot be in both splits: it goes to train and is listed under
``single_row_labels`` in the quality dict.

>>> import polars as pl
>>> labels = pl.Series([["a"], ["a", "b"], ["b"], ["a"], ["b"], ["a", "b"]])
>>> result = split_train_valid(labels, split_options({"validation": 2, "seed": 1}))
>>> int(result.assignment.sum()), result.quality["FZ"]
(2, 0)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import scipy.sparse as sp

from curate.errors import ConfigError
from curate.select._skml import skml_assign
from curate.select.labels import (
    LabelMatrix,
    SelectionError,
    as_csr,
    combined_matrix,
    group_codes,
    label_matrix,
)
from curate.select.options import METHODS, SPLIT_PARAMS, split_options  # noqa: F401  (re-exported)
from curate.select.quality import split_quality
from curate.select.stratify import stratify

TRAIN, VALID = 0, 1
PARAMS = SPLIT_PARAMS


@dataclass(frozen=True)
class SplitResult:
    """``assignment``: int8 per pool row, TRAIN (0) or VALID (1); ``quality``: JSON-ready measures."""

    assignment: np.ndarray
    quality: dict[str, Any]


def validation_rows(validation: int | float, n: int) -> int:
    """Rows wanted in validation out of ``n`` (fractions round half up).

    >>> validation_rows(0.25, 10), validation_rows(3, 10)
    (3, 3)
    """
    if isinstance(validation, float):
        return int(np.floor(validation * n + 0.5))
    return int(validation)


def split_train_valid(
    labels: pl.Series, options: Mapping[str, Any], groups: np.ndarray | None = None
) -> SplitResult:
    """Stratified train/validation split of the pool rows (see the module docstring).

    Raises :class:`~curate.errors.SelectionError` on an empty pool or when validation would
    take every row (train would be empty).
    """
    lm = labels if isinstance(labels, LabelMatrix) else label_matrix(labels)
    n = lm.csr.shape[0]
    if n == 0:
        raise SelectionError("split: the pool is empty (no rows left after the rules and balance stages)")
    n_valid = validation_rows(options["validation"], n)
    if n_valid >= n:
        raise SelectionError(
            f"split: validation asks for {n_valid} rows but the pool has only {n}; "
            "train would be empty. Lower split.validation or give more rows."
        )
    codes = group_codes(groups, n)
    order, seed, method = options.get("order", 1), options.get("seed", 0), options.get("method", "curate")
    if method == "skmultilearn":
        assignment = _skml_with_groups(lm.csr, n_valid, order, seed, codes)
    else:
        assignment = stratified_folds(lm.csr, [n - n_valid, n_valid], seed, order, codes)
    quality = split_quality(lm, assignment, wanted=[n - n_valid, n_valid])
    single = [name for name, c in zip(lm.names, lm.counts.tolist(), strict=True) if c == 1]
    quality.update(
        method=method,
        order=order,
        seed=seed,
        requested={"train": n - n_valid, "valid": n_valid},
        single_row_labels=single,
        groups=_group_stats(codes),
    )
    quality.update(size_report(n_valid, int(assignment.sum()), n, codes, method))
    return SplitResult(assignment.astype(np.int8), quality)


def size_report(wanted: int, got: int, n: int, codes, method: str) -> dict[str, Any]:
    """``size_gap`` (rows each split is off its requested size) and ``warnings`` saying why.

    >>> r = size_report(50, 49, 100, np.repeat(np.arange(34), 3)[:100], "curate")  # 33 groups of 3
    >>> r["size_gap"], r["warnings"][0].split("; ")[1]
    ({'train': 1, 'valid': -1}, 'no combination of whole groups adds up to exactly 50 rows (closest: 49 or 51)')
    """
    gap = got - wanted
    out: dict[str, Any] = {"size_gap": {"train": -gap, "valid": gap}, "warnings": []}
    if not gap:
        return out
    head = f"validation has {got} rows, {abs(gap)} {'more' if gap > 0 else 'fewer'} than the requested {wanted}: "
    if method == "skmultilearn":
        out["warnings"].append(head + "scikit-multilearn does not keep sizes exact (method: curate does)")
    elif codes is not None:
        sizes = np.bincount(codes)
        lo, hi = _closest_sums(sizes, wanted)
        if lo != wanted:
            why = (f"no combination of whole groups adds up to exactly {wanted} rows (closest: "
                   + " or ".join(str(v) for v in sorted({lo, hi}) if v is not None) + ")")
        else:
            why = f"a combination of exactly {wanted} rows exists but the group placement missed it"
        out["warnings"].append(head + f"near-duplicate groups stay whole ({int((sizes > 1).sum())} groups of 2 or "
                               f"more rows, largest {int(sizes.max())}); " + why)
    return out


def _closest_sums(unit_sizes: np.ndarray, wanted: int) -> tuple[int | None, int | None]:
    """The largest sum <= ``wanted`` and the smallest >= it of a subset of ``unit_sizes``
    (bitset subset-sum, binary splitting of repeated sizes)."""
    total = int(unit_sizes.sum())
    bits = 1
    values, counts = np.unique(unit_sizes, return_counts=True)
    for value, count in zip(values.tolist(), counts.tolist(), strict=True):
        step = 1
        while count > 0:
            take = min(step, count)
            bits |= bits << (value * take)
            count -= take
            step *= 2
    reach = bin(bits)[:1:-1]  # reach[i] == "1": some subset sums to i
    lo = reach.rfind("1", 0, min(wanted, total) + 1)
    hi = reach.find("1", wanted) if wanted <= total else -1
    return (lo if lo >= 0 else None), (hi if hi >= 0 else None)


def stratified_folds(x: sp.csr_matrix, fold_sizes, seed: int, order: int = 1, codes=None) -> np.ndarray:
    """Fold id per row: curate's iterative stratification over labels (and pairs if order 2)."""
    m = combined_matrix(x, order)
    rng = np.random.default_rng(seed)
    if codes is None:
        return stratify(m, fold_sizes, rng, protect=x.shape[1])
    units, sizes = _group_matrix(m, codes)
    return stratify(units, fold_sizes, rng, unit_sizes=sizes, protect=x.shape[1])[codes]


def kfold_assign(labels, k: int, seed: int, order: int = 1, groups: np.ndarray | None = None) -> np.ndarray:
    """Fold id (0..k-1, int64) per row for k-fold cross-validation; fold sizes differ by at most 1.

    >>> import polars as pl
    >>> folds = kfold_assign(pl.Series([["a"], ["b"]] * 6), k=3, seed=0)
    >>> sorted(folds.tolist()).count(0)
    4
    """
    x = labels.csr if isinstance(labels, LabelMatrix) else (
        label_matrix(labels).csr if isinstance(labels, pl.Series) else as_csr(labels)
    )
    n = x.shape[0]
    if not isinstance(k, int) or isinstance(k, bool) or k < 2:
        raise ConfigError(f"The 'k' parameter of kfold must be an int in the range [2, inf). Got {k!r} instead.")
    if n < k:
        raise SelectionError(f"kfold: {k} folds need at least {k} rows; the pool has {n}")
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    return stratified_folds(x, sizes, seed, order, group_codes(groups, n))


def _group_matrix(m: sp.csr_matrix, codes: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray]:
    """Per-group column counts (sum over members) and group sizes."""
    n_groups = int(codes.max()) + 1
    agg = sp.csr_matrix(
        (np.ones(len(codes), dtype=np.int32), (codes, np.arange(len(codes)))), shape=(n_groups, len(codes))
    )
    return sp.csr_matrix(agg @ m.astype(np.int32)), np.bincount(codes, minlength=n_groups)


def _skml_with_groups(x, n_valid: int, order: int, seed: int, codes) -> np.ndarray:
    if codes is None:
        return skml_assign(x, n_valid, order, seed)
    units, _ = _group_matrix(as_csr(x), codes)
    return skml_assign(as_csr(units), round(n_valid * units.shape[0] / x.shape[0]), order, seed)[codes]


def _group_stats(codes) -> dict[str, int]:
    if codes is None:
        return {"multi_row_groups": 0, "rows_in_groups": 0}
    sizes = np.bincount(codes)
    multi = sizes[sizes > 1]
    return {"multi_row_groups": int(len(multi)), "rows_in_groups": int(multi.sum())}
