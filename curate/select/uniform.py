"""curate's even selection: least-squares greedy plus swap search over distinct label sets.

Rows with the same label set are interchangeable for evenness, so the search runs over the U
distinct label sets (with how many rows each offers) and only at the end draws the actual rows.
The objective is f(c) = sum_j (c_j - t_j)^2 with t_j = min(T, pool count of j): every label aims at
a common level T, and labels the pool cannot supply that often aim at all they have. T starts at
the level the pool's mean cardinality allows and is re-estimated from the result (a few rounds).

1. ``floor`` first: for labels under ``min_per_label``, add the label set that hurts f least.
2. Greedy: add the label set with the largest drop in f (vectorised: one sparse mat-vec a step).
3. Swaps: drop the selected set whose removal helps f most (or hurts least), add the best set;
   keep the swap if f falls. Floors and the per-label ``cap`` are never broken.

>>> import numpy as np, scipy.sparse as sp
>>> x = sp.csr_matrix(np.array([[1, 0]] * 6 + [[0, 1]] * 2 + [[1, 1]]))
>>> rows = even_select(x, 4, np.random.default_rng(0))
>>> x[rows].toarray().sum(axis=0).tolist()
[2, 2]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def label_sets(x: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    """(U x L matrix of the distinct label sets, set id per row)."""
    x = sp.csr_matrix(x)
    n, n_labels = x.shape
    keys = np.zeros((n, 3), dtype=np.uint64)
    keys[:, 0] = np.diff(x.indptr)
    if x.nnz:
        salt = np.random.default_rng(12345).integers(1, 2**63, size=(2, n_labels), dtype=np.uint64)
        starts = x.indptr[:-1]
        nonempty = keys[:, 0] > 0
        for i in range(2):  # order-free hashes of the label set (wrapping sums of random words)
            keys[nonempty, i + 1] = np.add.reduceat(salt[i][x.indices], starts[nonempty])
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    return x[first], inverse.ravel().astype(np.int64)


class _State:
    def __init__(self, sets, avail, target, cap, floor):
        self.sets, self.avail, self.target = sets, avail, target
        self.cap, self.floor = cap, floor
        self.taken = np.zeros(sets.shape[0], dtype=np.int64)
        self.counts = np.zeros(sets.shape[1], dtype=np.float64)
        self.setsT = sets.T.tocsr()

    def add_scores(self) -> np.ndarray:
        g = 2.0 * (self.counts - self.target) + 1.0
        s = self.sets @ g
        bad = self.taken >= self.avail
        if self.cap is not None:
            full = (self.counts >= self.cap).astype(np.float64)
            bad |= (self.sets @ full) > 0
        return np.where(bad, np.inf, s)

    def remove_scores(self) -> np.ndarray:
        g = -2.0 * (self.counts - self.target) + 1.0
        s = self.sets @ g
        bad = self.taken <= 0
        low = (self.counts <= np.maximum(self.floor, 1.0)).astype(np.float64)  # never empty a label
        bad |= (self.sets @ low) > 0
        return np.where(bad, np.inf, s)

    def move(self, u: int, step: int) -> None:
        self.taken[u] += step
        row = self.sets.indices[self.sets.indptr[u]:self.sets.indptr[u + 1]]
        self.counts[row] += step

    def loss(self) -> float:
        return float(((self.counts - self.target) ** 2).sum())


def _cv(st: _State, present: np.ndarray) -> float:
    c = st.counts[present]
    return float(c.std() / c.mean()) if len(c) and c.mean() > 0 else 0.0


def _build(st: _State, size: int, pool: np.ndarray, tie: np.ndarray) -> None:
    """Stages 1 and 2: floors (rarest label first), then least-squares greedy up to ``size``."""
    for j in np.argsort(pool, kind="stable"):
        while st.counts[j] < st.floor[j] and st.taken.sum() < size:
            has = st.setsT.indices[st.setsT.indptr[j]:st.setsT.indptr[j + 1]]
            scores = st.add_scores()[has]
            if not np.isfinite(scores).any():
                break
            st.move(int(has[np.lexsort((tie[has], scores))[0]]), 1)
    while st.taken.sum() < size:
        scores = st.add_scores()
        u = int(np.lexsort((tie, scores))[0])
        if not np.isfinite(scores[u]):
            break
        st.move(u, 1)


def _swaps(st: _State, present: np.ndarray, pool: np.ndarray, tie: np.ndarray, max_swaps: int, width: int = 6) -> None:
    """Stage 3: swap one selected label set for another while the CV falls (floors and cap kept)."""
    for _ in range(max_swaps):
        before = _cv(st, present)
        st.target = np.minimum(st.counts[present].mean() if present.any() else 0.0, pool)
        rem = st.remove_scores()
        improved = False
        for out in np.lexsort((tie, rem))[:width]:
            if not np.isfinite(rem[out]):
                break
            st.move(int(out), -1)
            add = st.add_scores()
            add[out] = np.inf
            for best in np.lexsort((tie, add))[:width]:
                if not np.isfinite(add[best]):
                    break
                st.move(int(best), 1)
                if _cv(st, present) < before - 1e-12:
                    improved = True
                    break
                st.move(int(best), -1)
            if improved:
                break
            st.move(int(out), 1)
        if not improved:
            break


def even_select(
    x: sp.csr_matrix,
    size: int,
    rng: np.random.Generator,
    cap: int | None = None,
    min_per_label: int = 0,
    reference: np.ndarray | None = None,
    levels: int = 8,
) -> np.ndarray:
    """Sorted row positions of an even selection of ``size`` rows (fewer if ``cap`` forbids more).

    Runs the greedy for ``levels`` target levels around the one the pool's mean cardinality
    allows, and, when ``reference`` rows are given (the capped baseline), also swap-polishes that
    selection with its minimum count as a floor. The winner is the lowest CV among the candidates
    that are at least as even as the reference with a minimum count at least as high.
    """
    x = sp.csr_matrix(x)
    n, n_labels = x.shape
    size = min(size, n)
    sets, set_of_row = label_sets(x)
    avail = np.bincount(set_of_row, minlength=sets.shape[0])
    pool = np.bincount(x.indices, minlength=n_labels).astype(np.float64)
    tie = rng.random(sets.shape[0])
    present = pool > 0
    floor = np.minimum(float(min_per_label), pool)
    base_level = size * (x.nnz / max(n, 1)) / max(int(present.sum()), 1)
    candidates = []
    for level in base_level * np.geomspace(0.5, 2.5, levels):
        st = _State(sets, avail, np.minimum(level, pool), cap, floor)
        _build(st, size, pool, tie)
        _swaps(st, present, pool, tie, 4 * size)
        candidates.append(st)
    ref_key = None
    if reference is not None and len(reference):
        ref = np.bincount(set_of_row[np.asarray(reference, dtype=np.int64)], minlength=sets.shape[0])
        st = _State(sets, avail, np.zeros(n_labels), cap, floor)
        for u in np.flatnonzero(ref):
            st.move(int(u), int(ref[u]))
        ref_key = (_cv(st, present), float(st.counts[present].min()) if present.any() else 0.0)
        st.floor = np.maximum(floor, np.minimum(ref_key[1], st.counts))
        _build(st, size, pool, tie)
        _swaps(st, present, pool, tie, 4 * size)
        candidates.append(st)

    def key(st: _State):
        cv = _cv(st, present)
        low = float(st.counts[present].min()) if present.any() else 0.0
        ok = ref_key is None or (cv <= ref_key[0] + 1e-12 and low >= ref_key[1])
        return (not ok, -int(st.taken.sum()), cv, -low)

    best = min(candidates, key=key)
    return rows_for(best.taken, set_of_row, rng)


def rows_for(taken: np.ndarray, set_of_row: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Draw ``taken[u]`` random rows of each label set u; sorted row positions."""
    prio = rng.random(len(set_of_row))
    order = np.lexsort((prio, set_of_row))
    sorted_sets = set_of_row[order]
    starts = np.searchsorted(sorted_sets, np.arange(len(taken)))
    rank = np.arange(len(order)) - starts[sorted_sets]
    return np.sort(order[rank < taken[sorted_sets]])
