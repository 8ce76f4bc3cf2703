"""Refinement after the stratifier: swaps between folds that lower LD (and LPD for order 2).

The stratifier hands out each column's rows in one batch and cannot undo an early choice, so the
most frequent labels (handled last) absorb the rounding of everything before them. This pass
corrects that with swaps, the local search of the issue-14 prototype, vectorised:

* **Over distinct label sets.** Units (rows, or near-duplicate groups) with the same column
  counts and the same size are interchangeable, so the search runs on the D distinct rows of the
  matrix with a k x D count of how many units of each sit in each fold. Actual units are picked
  only at the end (seeded ``prio``), so the work per step does not grow with the rows.
* **A swap** moves t units of set A from fold f to fold g and t units of set B from g to f.
  Sizes stay as they are (A and B have the same size in rows). Its effect on the objective is
  computed exactly from the fold counts: per column, |fold odds - data odds| before and after,
  weighted 1 / (k * labels) for labels (the LD average) and ``pair_weight`` / (k * pairs) for
  label-pair columns (LPD), so a swap that helps LD but costs more LPD is not taken.
* **Each step** scores every set present in f (g) by the first-order change of moving it to g
  (f) (one sparse product), keeps the best ``candidates`` on each side (also by the bound that
  assumes their labels are cancelled by the partner), evaluates all candidate pairs with the
  exact overlap correction, then the best few exactly for every multiplicity t and applies the
  best (t identical swaps at once). Fold pairs are visited in turn for k-fold.
* **Coverage.** A swap never takes a fold's last positive of a label, so a fold that has a label
  keeps it: FZ and FLZ never grow. Label pairs are not guarded (with 10 folds and pairs seen a
  few times, nearly every swap would empty one and the search would stall; bibtex 10-fold LD
  stayed at 0.0036 instead of 0.0005).
* Stops when no fold pair has an improving swap, after ``max_steps`` swaps, or when the tries
  have read ``WORK`` entries of the distinct-set matrix (deterministic; bounds the time when
  nearly every row is a distinct set).

>>> import numpy as np, scipy.sparse as sp
>>> m = sp.csr_matrix(np.array([[1, 0]] * 4 + [[0, 1]] * 4))
>>> fold = np.array([1, 1, 1, 0, 0, 0, 0, 1])  # fold 1 holds 3 of the 4 rows of column 0
>>> refine(m, fold, 2, np.arange(8.0)).tolist()
[0, 1, 1, 0, 1, 0, 0, 1]
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

# Swaps improving the objective by less than this are not worth taking (float noise).
TOLERANCE = 1e-13
# Multiplicities tried per step (identical swaps at once): 1 .. MAX_REPEAT.
MAX_REPEAT = 512
# Exact evaluations per step, after ranking the candidate pairs by the overlap-corrected estimate.
EXACT = 8
# A removal that would empty a protected (fold, column) ranks as this much worse (the exact check
# then rejects it).
PENALTY = 1e3
# Work bound: tries x entries of the distinct-set matrix (each try reads it once); only inputs
# with tens of thousands of distinct label sets reach it (they still get 20 tries).
WORK = 100_000_000
# Weight of the LPD term against LD for order 2. With 1 the swaps trade pair balance for label
# balance (LPD 0.00009 against skml's 0.00005 on a 20k x 21 Zipf pool); with 16 LPD ends below
# skml's and LD stays below iterstrat's on every pool of issue 14 (benchmarks/split.py --acceptance).
PAIR_WEIGHT = 16.0


def refine(
    m: sp.csr_matrix,
    fold: np.ndarray,
    k: int,
    prio: np.ndarray,
    unit_sizes: np.ndarray | None = None,
    protect: int | None = None,
    pair_weight: float = PAIR_WEIGHT,
    max_steps: int | None = None,
    candidates: int = 48,
) -> np.ndarray:
    """Fold per unit after swaps that lower the weighted odds gap (see the module docstring).

    ``m`` (units x columns, counts), ``fold`` (int per unit, not modified), ``prio`` (random per
    unit: which interchangeable units move first), ``unit_sizes`` (rows per unit; None: 1 each),
    ``protect``: the first ``protect`` columns are labels (default all), the rest label pairs,
    weighted by ``pair_weight``. Fold sizes in rows are the same before and after, and no fold
    loses its last positive of a label.
    """
    m = sp.csr_matrix(m)
    m.sort_indices()
    n_units, n_cols = m.shape
    fold = np.asarray(fold, dtype=np.int64).copy()
    if n_units < 2 or n_cols == 0 or k < 2:
        return fold
    sizes = np.ones(n_units, np.int64) if unit_sizes is None else np.asarray(unit_sizes, np.int64)
    # without groups a row's label pairs follow from its labels: the labels identify the set
    by = protect if unit_sizes is None and protect is not None else None
    key, rep = distinct_rows(m, sizes, by)
    dm = m[rep].astype(np.float64)
    dm.sort_indices()
    n_sets = len(rep)
    cnt = np.bincount(fold * n_sets + key, minlength=k * n_sets).reshape(k, n_sets)
    st = _State(dm, sizes[rep], cnt, np.bincount(fold, weights=sizes, minlength=k), protect, pair_weight)
    limit = max_steps if max_steps is not None else 20 * n_cols + 1000
    tries = max(20, WORK // max(dm.nnz, 1))  # each try reads every distinct row once
    pairs = [(f, g) for f in range(k) for g in range(f + 1, k)]
    dirty = np.ones(len(pairs), dtype=bool)  # pairs whose folds changed since they last failed
    i = 0
    while st.steps < limit and dirty.any() and tries > 0:
        while not dirty[i % len(pairs)]:
            i += 1
        f, g = pairs[i % len(pairs)]
        dirty[i % len(pairs)] = False
        i += 1
        tries -= 1
        if _step(st, f, g, candidates):
            dirty |= [f in p or g in p for p in pairs]
    return _realise(fold, key, st.cnt, cnt, prio)


class _State:
    """The search state: units per (fold, set) ``cnt``, positives ``P`` (k x C), fold rows ``S``,
    column weights ``w`` and whole-data odds ``d``."""

    def __init__(self, dm, dsize, cnt, fold_rows, protect, pair_weight):
        self.dm, self.dsize = dm, dsize
        self.indptr, self.indices, self.data = dm.indptr, dm.indices, dm.data
        self.binary = bool(np.all(dm.data == 1))
        self.cnt = cnt.copy()
        self.P = np.asarray((dm.T @ cnt.T.astype(np.float64)).T)  # k x C
        self.S = fold_rows.astype(np.float64)
        self.steps = 0
        k, n_cols = self.P.shape
        total = self.P.sum(axis=0)
        n = self.S.sum()
        labels = n_cols if protect is None else int(protect)
        present = total > 0
        w = np.zeros(n_cols)
        n_labels, n_pairs = int(present[:labels].sum()), int(present[labels:].sum())
        if n_labels:
            w[:labels][present[:labels]] = 1.0 / (k * n_labels)
        if n_pairs:
            w[labels:][present[labels:]] = pair_weight / (k * n_pairs)
        self.w = w
        self.d = total / np.maximum(n - total, 1.0)
        self.guard = np.zeros(n_cols, dtype=bool)  # columns a fold never loses its last positive of
        self.guard[:labels] = True

    def phi(self, f, p, cols=None):
        """Weighted |odds - data odds| of fold ``f`` holding ``p`` positives (of ``cols``)."""
        if cols is None:
            return self.w * np.abs(p / np.maximum(self.S[f] - p, 1.0) - self.d)
        return self.w[cols] * np.abs(p / np.maximum(self.S[f] - p, 1.0) - self.d[cols])

    def rows(self, sets):
        """(position in ``sets``, column, count) of every entry of those distinct rows."""
        starts = self.indptr[sets]
        lengths = self.indptr[sets + 1] - starts
        owner = np.repeat(np.arange(len(sets)), lengths)
        pos = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(int(lengths.sum()))
        return owner, self.indices[pos], self.data[pos]


def _step(st: _State, f: int, g: int, candidates: int) -> bool:
    """Find the best swap between folds f and g and apply it; False when none improves."""
    here_f, here_g = st.P[f], st.P[g]
    base_f, base_g = st.phi(f, here_f), st.phi(g, here_g)
    to_g = st.phi(f, here_f - 1) - base_f + st.phi(g, here_g + 1) - base_g  # a positive f -> g
    to_f = st.phi(g, here_g - 1) - base_g + st.phi(f, here_f + 1) - base_f
    to_g += PENALTY * (st.guard & (here_f == 1))  # never empty a (fold, label)
    to_f += PENALTY * (st.guard & (here_g == 1))
    both = to_g + to_f  # a column in both sets does not move: its two terms cancel
    in_f, in_g = st.cnt[f] > 0, st.cnt[g] > 0
    if not in_f.any() or not in_g.any():
        return False
    # per set: first-order change, and the best case where the partner cancels its columns; for
    # the sets in f (moving to g) and those in g (moving to f)
    sf = _products(st.dm, in_f, np.stack([to_g, np.minimum(-to_f, to_g), np.minimum(to_g, 0.0)], axis=1))
    sg = _products(st.dm, in_g, np.stack([to_f, np.minimum(-to_g, to_f), np.minimum(to_f, 0.0)], axis=1))
    # no swap can gain more than every column moving the better way (exact for 0/1 rows)
    if sf[in_f, 2].min() + sg[in_g, 2].min() >= -TOLERANCE:
        return False
    side_a = _top(sf[:, 0], sf[:, 1], in_f, candidates)
    side_b = _top(sg[:, 0], sg[:, 1], in_g, candidates)
    est = sf[side_a, 0][:, None] + sg[side_b, 0][None, :] - _overlap(st, side_a, side_b, both)
    est[st.dsize[side_a][:, None] != st.dsize[side_b][None, :]] = np.inf
    est[side_a[:, None] == side_b[None, :]] = np.inf
    flat = est.ravel()
    pick = np.argpartition(flat, EXACT)[:EXACT] if len(flat) > EXACT else np.arange(len(flat))
    # for 0/1 rows the estimate is the exact change of one swap, and t swaps cannot gain when one
    # does not (the objective is convex in t)
    pick = pick[flat[pick] < (-TOLERANCE if st.binary else PENALTY / 2)]
    if not len(pick):
        return False
    a, b = side_a[pick // len(side_b)], side_b[pick % len(side_b)]
    gain, t = _exact(st, f, g, a, b)
    best = int(np.argmin(gain))
    if not gain[best] < -TOLERANCE:
        return False
    a, b, t = a[best:best + 1], b[best:best + 1], int(t[best])
    st.cnt[f, a] -= t
    st.cnt[g, a] += t
    st.cnt[g, b] -= t
    st.cnt[f, b] += t
    for sets, sign in ((a, -t), (b, t)):
        _, cols, vals = st.rows(sets)
        st.P[f, cols] += sign * vals
        st.P[g, cols] -= sign * vals
    st.steps += 1
    return True


def _products(dm, present: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``dm @ vectors`` for the present rows (the others are never read): all rows when most are
    present, else just those, the rest +inf (each row's sum runs over its entries in the same
    order either way, so the values are the same to the bit)."""
    rows = np.flatnonzero(present)
    if len(rows) * 2 >= len(present):
        return dm @ vectors
    out = np.full((len(present), vectors.shape[1]), np.inf)
    out[rows] = dm[rows] @ vectors
    return out


def _top(score, bound, present, n: int) -> np.ndarray:
    """Indices of present sets: the n best by ``score`` and the n best by ``bound``."""
    idx = np.flatnonzero(present)
    if len(idx) <= 2 * n:
        return idx
    pick = [idx[_smallest(s if len(idx) == len(s) else s[idx], n)] for s in (score, bound)]
    return np.unique(np.concatenate(pick))


def _smallest(values: np.ndarray, n: int) -> np.ndarray:
    """Positions of the n smallest values: ``np.argpartition(values, n)[:n]``. When the n-th and
    the (n+1)-th smallest differ, those n are the only answer, and they are found among the values
    under a bound taken from a sample (a few thousand instead of every value); on a tie at the
    boundary the whole array is partitioned, as before, so the choice stays argpartition's."""
    step = len(values) // (64 * n)
    if step >= 4:
        sample = values[::step]
        bound = np.partition(sample, n)[n]  # n + 1 sampled values are <= it: so are n + 1 values
        below = np.flatnonzero(values <= bound)
        part = np.argpartition(values[below], n)
        chosen, rest = values[below][part[:n]], values[below][part[n:]]
        if chosen.max() < rest.min():
            return below[part[:n]]
    return np.argpartition(values, n)[:n]


def _overlap(st: _State, side_a, side_b, both) -> np.ndarray:
    """len(a) x len(b): sum of ``both`` over the columns each pair of sets shares (a's counts)."""
    n_cols = len(both)
    _, ca, va = st.rows(side_a)
    _, cb, _ = st.rows(side_b)
    ma = sp.csr_matrix((va * both[ca], ca, _indptr(st, side_a)), shape=(len(side_a), n_cols))
    mb = sp.csr_matrix((np.ones(len(cb)), cb, _indptr(st, side_b)), shape=(len(side_b), n_cols))
    return (ma @ mb.T).toarray()


def _indptr(st: _State, sets) -> np.ndarray:
    out = np.zeros(len(sets) + 1, dtype=st.indptr.dtype)
    np.cumsum(st.indptr[sets + 1] - st.indptr[sets], out=out[1:])
    return out


def _exact(st: _State, f: int, g: int, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(best change of the objective, its multiplicity t) for swapping t units of set a[i] (in f)
    with t units of b[i] (in g); +inf where every t would empty a (fold, label)."""
    n, n_cols = len(a), st.P.shape[1]
    oa, ca, va = st.rows(a)
    ob, cb, vb = st.rows(b)
    code = np.concatenate([oa * n_cols + ca, ob * n_cols + cb])
    codes, where = np.unique(code, return_inverse=True)
    delta = np.bincount(where.ravel(), weights=np.concatenate([-va, vb]), minlength=len(codes))
    keep = delta != 0
    row, col, delta = codes[keep] // n_cols, codes[keep] % n_cols, delta[keep]
    most = np.minimum(st.cnt[f, a], st.cnt[g, b])
    ts = np.arange(1, min(int(most.max()), MAX_REPEAT) + 1, dtype=np.float64)
    pf, pg = st.P[f, col], st.P[g, col]
    nf = pf[None, :] + ts[:, None] * delta[None, :]  # T x entries
    ng = pg[None, :] - ts[:, None] * delta[None, :]
    change = st.phi(f, nf, col) - st.phi(f, pf, col) + st.phi(g, ng, col) - st.phi(g, pg, col)
    bad = st.guard[col] & (((pf >= 1) & (nf < 1)) | ((pg >= 1) & (ng < 1)))
    n_t = len(ts)
    cell = (np.arange(n_t)[:, None] * n + row[None, :]).ravel()
    total = np.bincount(cell, weights=change.ravel(), minlength=n_t * n).reshape(n_t, n)
    broken = np.bincount(cell, weights=bad.ravel(), minlength=n_t * n).reshape(n_t, n) > 0
    total[broken | (ts[:, None] > most[None, :])] = np.inf
    best_t = np.argmin(total, axis=0)
    return total[best_t, np.arange(n)], best_t + 1


def _realise(fold, key, final, initial, prio) -> np.ndarray:
    """Move units so that fold f holds ``final[f, d]`` units of set d: from each fold that lost
    units of a set, its lowest-``prio`` ones go to the folds that gained, in fold order."""
    k, n_sets = final.shape
    loss = np.maximum(initial - final, 0)
    gain = np.maximum(final - initial, 0)
    if not loss.any():
        return fold
    kf = key * k + fold
    units = np.flatnonzero(loss.T.ravel()[kf] > 0)
    order = units[np.lexsort((prio[units], kf[units]))]
    kf = kf[order]
    starts = np.flatnonzero(np.concatenate(([True], kf[1:] != kf[:-1])))
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.append(starts, len(order))))
    movers = order[rank < loss.T.ravel()[kf]]  # by set, then fold, then prio
    targets = np.repeat(np.tile(np.arange(k), n_sets), gain.T.ravel())  # by set, then fold
    out = fold.copy()
    out[movers] = targets
    return out


def distinct_rows(m: sp.csr_matrix, sizes: np.ndarray, by: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(id of its distinct (row, size) per unit, one representative unit per id).

    ``by``: only the first ``by`` columns tell rows apart (the rest must follow from them, as
    label pairs follow from labels). Rows are hashed twice (random odd 64-bit column weights,
    wrapping sums): ids come from the first hash, and if the second disagrees within an id (a
    collision; odds about D^2 / 2^65 for D sets) every unit is its own set.

    >>> import scipy.sparse as sp
    >>> key, rep = distinct_rows(sp.csr_matrix([[1, 0], [0, 1], [1, 0]]), np.ones(3, np.int64))
    >>> key.tolist(), rep.tolist()
    ([0, 1, 0], [0, 1])
    """
    n, n_cols = m.shape
    rng = np.random.default_rng(0x5EED)
    ones = bool(np.all(m.data == 1))
    hashes = []
    for _ in range(2):
        weights = rng.integers(1, 2**63, size=n_cols + 1, dtype=np.uint64) | np.uint64(1)
        if by is not None:
            weights[by:n_cols] = 0
        vals = weights[m.indices] if ones else m.data.astype(np.uint64) * weights[m.indices]
        cs = np.zeros(len(vals) + 1, dtype=np.uint64)
        np.cumsum(vals, out=cs[1:])
        hashes.append(cs[m.indptr[1:]] - cs[m.indptr[:-1]] + sizes.astype(np.uint64) * weights[-1])
    # rep: each id's first (smallest) unit
    _, rep, key = np.unique(hashes[0], return_index=True, return_inverse=True)
    key, rep = key.astype(np.int64).ravel(), rep.astype(np.int64)
    if not np.array_equal(hashes[1], hashes[1][rep][key]):
        return np.arange(n, dtype=np.int64), np.arange(n, dtype=np.int64)
    return key, rep
