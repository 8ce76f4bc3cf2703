"""Numbers that say how good a split or a selection is (all plain Python, ready for manifest.json).

Split measures (Sechidis et al. 2011; Szymanski & Kajdanowicz 2017), folds S_1..S_k of data D:

* **LD**: per label, |fold odds - data odds| with odds = positives / negatives, averaged over folds
  then labels (0 is perfect). **LPD**: the same over label pairs that co-occur in D.
* **ED**: mean over folds of | |S_i| - wanted size |.
* **FZ**: folds where some label of D has no positive; **FLZ**: (fold, label) pairs with none.
  **FZLP/FLZLP**: the same for co-occurring pairs.

Selection evenness: coefficient of variation (population std / mean) and max/min ratio of per-label
counts over the labels present in the pool, plus the minimum count and the labels left at zero.

>>> import polars as pl, numpy as np
>>> q = split_quality(pl.Series([["a"], ["a", "b"], ["b"], ["a"]]), np.array([0, 0, 1, 1]))
>>> q["FZ"], q["rows"]
(0, {'train': 2, 'valid': 2})
>>> evenness(pl.Series([["a"], ["a"], ["b"]]))["max_min_ratio"]
2.0
"""

from __future__ import annotations

import numpy as np
import polars as pl
import scipy.sparse as sp

from curate.select.labels import LabelMatrix, as_csr, canonical, label_matrix, pair_fold_counts

FOLD_NAMES = ("train", "valid")


def _matrix(labels) -> LabelMatrix:
    if isinstance(labels, LabelMatrix):
        return labels
    if isinstance(labels, pl.Series):
        return label_matrix(labels)
    m = as_csr(labels)
    return LabelMatrix(m, [str(i) for i in range(m.shape[1])])


def _fold_counts(x: sp.csr_matrix, assignment: np.ndarray, k: int) -> np.ndarray:
    """k x C positives per fold and column."""
    lengths = np.diff(x.indptr)
    folds = np.repeat(assignment.astype(np.int64), lengths)
    c = x.shape[1]
    return np.bincount(folds * c + x.indices, minlength=k * c).reshape(k, c).astype(np.float64)


def _odds(pos, size):
    return pos / np.maximum(size - pos, 1.0)


def distribution(x: sp.csr_matrix, assignment: np.ndarray, k: int) -> float:
    """LD of the columns of ``x`` (LPD when the columns are label pairs); 0.0 when there are none.

    Columns absent from the data are skipped; a fold made only of positives counts its odds as S/1.
    """
    return _distribution(_fold_counts(x, assignment, k), assignment, k)


def _distribution(counts: np.ndarray, assignment: np.ndarray, k: int) -> float:
    """:func:`distribution` from the k x C fold counts."""
    total = counts.sum(axis=0)
    keep = total > 0
    if not keep.any():
        return 0.0
    n = len(assignment)
    sizes = np.bincount(assignment.astype(np.int64), minlength=k).astype(np.float64)
    data_odds = _odds(total[keep], float(n))
    fold_odds = _odds(counts[:, keep], sizes[:, None])
    return float(np.abs(fold_odds - data_odds[None, :]).mean(axis=0).mean())


def _zeros(counts: np.ndarray) -> tuple[int, int]:
    """(folds missing some present column, (fold, column) pairs with no positive) of k x C counts."""
    present = counts.sum(axis=0) > 0
    empty = (counts[:, present] == 0)
    return int(empty.any(axis=1).sum()), int(empty.sum())


def split_quality(labels, assignment: np.ndarray, wanted=None, fold_names=None) -> dict:
    """LD, LPD, ED, FZ, FLZ, FZLP, FLZLP, rows per fold and per-label counts per fold.

    ``labels`` is a ``List(String)`` series, a :class:`LabelMatrix` or a 0/1 matrix;
    ``assignment`` the fold id per row (0 train, 1 valid for a split); ``wanted`` the wanted fold
    sizes (default: the actual sizes, so ED = 0).
    """
    lm = _matrix(labels)
    x = canonical(lm.csr)
    assignment = np.asarray(assignment, dtype=np.int64)
    k = max(int(assignment.max()) + 1 if len(assignment) else 0, 2)
    names = list(fold_names) if fold_names else (list(FOLD_NAMES) if k == 2 else [f"fold{i}" for i in range(k)])
    sizes = np.bincount(assignment, minlength=k)
    wanted = sizes if wanted is None else np.asarray(wanted)
    label_counts = _fold_counts(x, assignment, k)
    pair_counts, pair_ids = pair_fold_counts(x, assignment, k)
    pair_counts = pair_counts.astype(np.float64)
    fz, flz = _zeros(label_counts)
    fzlp, flzlp = _zeros(pair_counts)
    counts = label_counts.astype(np.int64)
    pool = counts.sum(axis=0)
    per_label = {
        name: {"pool": int(pool[i]), **{names[f]: int(counts[f, i]) for f in range(k)}}
        for i, name in enumerate(lm.names)
    }
    return {
        "rows": {names[f]: int(sizes[f]) for f in range(k)},
        "LD": _distribution(label_counts, assignment, k),
        "LPD": _distribution(pair_counts, assignment, k),
        "ED": float(np.abs(sizes - wanted).mean()),
        "FZ": fz,
        "FLZ": flz,
        "FZLP": fzlp,
        "FLZLP": flzlp,
        "label_pairs": int(len(pair_ids)),
        "missing": {names[f]: [lm.names[i] for i in np.flatnonzero((counts[f] == 0) & (pool > 0))] for f in range(k)},
        "labels": per_label,
    }


def evenness_of_counts(counts, names=None) -> dict:
    """Evenness of per-label counts (only labels listed; pass the pool's labels so zeros count).

    >>> evenness_of_counts([2, 4])["cv"]
    0.3333333333333333
    """
    c = np.asarray(counts, dtype=np.float64)
    names = list(names) if names is not None else [str(i) for i in range(len(c))]
    if not len(c):
        return {"labels": 0, "cv": 0.0, "max_min_ratio": None, "min_count": 0, "max_count": 0,
                "mean_count": 0.0, "zero_count_labels": []}
    mean = float(c.mean())
    lo, hi = float(c.min()), float(c.max())
    return {
        "labels": len(c),
        "cv": float(c.std() / mean) if mean > 0 else 0.0,
        "max_min_ratio": hi / lo if lo > 0 else None,
        "min_count": int(lo),
        "max_count": int(hi),
        "mean_count": mean,
        "zero_count_labels": [names[i] for i in np.flatnonzero(c == 0)],
    }


def evenness(labels, pool=None) -> dict:
    """Evenness of the label counts of ``labels`` over the labels present in ``pool``.

    ``pool`` defaults to ``labels`` itself (then no label has count zero). ``max_min_ratio`` is
    None when some pool label is missing from the selection.
    """
    sel = _matrix(labels)
    ref = sel if pool is None else _matrix(pool)
    counts = dict(zip(sel.names, sel.counts.tolist(), strict=True))
    return evenness_of_counts([counts.get(name, 0) for name in ref.names], ref.names)
