"""Iterative stratification (Sechidis et al. 2011), vectorised per label, with exact fold sizes.

The loop is the paper's: take the column (label, or label pair for second order) with the fewest
unassigned examples, hand its unassigned examples to the folds that want that column most, update
the wants, repeat. Two changes make it fast and exact:

* **Per-column batches.** How many of the column's examples each fold gets is computed at once by
  water-filling the folds' wants (the same counts the one-by-one loop reaches), capped by each
  fold's remaining room so that sizes come out exact.
* **Which examples go where** is not random: the batch is sorted by each example's next-rarest
  columns and dealt to the folds in an evenly spread pattern (systematic sampling), so the columns
  still to come are split in proportion as well. This is what lowers LD below the original's.
* **Coverage guards**: a fold without a positive of the column gets one when another fold can
  spare it; a fold keeps room in reserve for each label it still lacks (if the deal leaves it
  without one that sits in the batch and it would have no room left for it, the batch is dealt
  again with that room reserved too); a fold lacking a column whose last examples are all in this
  batch is given one of them, and a fold's need for a label outranks another's for a label pair.
  A fold with a row per label that still lacks one at the end gets it by a swap that leaves both
  folds every label they had and the sizes no further from the wanted ones (exact stays exact).
* **What is guaranteed.** FZ = 0 (no groups) when every label has at least k examples, every fold
  has at least one row per label, and every label is carried by a label set that occurs on at
  least k rows (for instance k rows with that label alone): then the swap always exists. In general a split with
  FZ = 0 need not exist (labels a, b, c on rows {a, b}, {b, c}, {a, c}: one of two folds gets at
  most one of those rows) and deciding whether it does is hypergraph colouring (NP-hard), so
  beyond that the guards are a heuristic. With groups a swap may not move the sizes further from
  the wanted ones, so FZ = 0 is not guaranteed either.
* **Order 2**: label-pair columns correct only ``PAIR_DAMPING`` of their drift per batch.
* **Refinement**: the batches cannot undo an early choice (the most frequent labels come last and
  absorb the rounding), so :func:`curate.select.refine.refine` then swaps units between folds
  while LD (+ weighted LPD) falls; sizes, coverage and groups are kept.

Work per column is proportional to its examples (CSC inverted lists, incremental counts), so the
whole run is O(nnz + C^2) with C columns. Rows are "units": a near-duplicate group is one unit whose
label counts are the sums of its members' and whose size is its member count.

>>> import numpy as np, scipy.sparse as sp
>>> y = sp.csr_matrix(np.array([[1, 0], [1, 1], [0, 1], [1, 0], [0, 1], [1, 1]]))
>>> stratify(y, [4, 2], np.random.default_rng(0)).tolist().count(1)
2
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

from curate.select.refine import refine

# Columns outside ``protect`` (label pairs) correct only this fraction of their drift per batch:
# full correction makes pair batches swing the labels they carry (LD 1e-3 at 1M rows, order 2).
PAIR_DAMPING = 0.5


def stratify(
    m: sp.csr_matrix,
    fold_sizes,
    rng: np.random.Generator,
    unit_sizes: np.ndarray | None = None,
    protect: int | None = None,
    refine_swaps: bool = True,
) -> np.ndarray:
    """Fold id (int64) per row of ``m`` (units x columns, non-negative counts).

    ``fold_sizes`` are the wanted fold sizes in rows; they must sum to ``unit_sizes.sum()``
    (or the number of units). With unit sizes of 1 the sizes are met exactly. The first
    ``protect`` columns (default: all) are the ones every fold should see: each fold keeps one row
    of room in reserve for every such column it still lacks, while other folds have room to give,
    and a fold that ends without one is repaired by a swap (see the module docstring).
    ``refine_swaps`` (default True) runs :func:`curate.select.refine.refine` at the end.
    """
    m = sp.csr_matrix(m)
    m.sort_indices()
    n_units, n_cols = m.shape
    sizes = np.ones(n_units, np.int64) if unit_sizes is None else np.asarray(unit_sizes, np.int64)
    cap = np.asarray(fold_sizes, dtype=np.int64).copy()
    sizes_wanted = cap.copy()
    k = len(cap)
    total = int(sizes.sum())
    if cap.sum() != total:
        raise ValueError(f"fold sizes sum to {cap.sum()}, the units hold {total} rows")
    fold = np.full(n_units, -1, dtype=np.int64)
    if n_units == 0:
        return fold
    done = np.zeros(n_units, dtype=bool)  # fold >= 0; gathering from it is cheaper
    ratio = cap / max(total, 1)
    data = m.data.astype(np.float64)
    col_total = np.bincount(m.indices, weights=data, minlength=n_cols)
    want = ratio[:, None] * col_total[None, :]  # k x C: positives each fold still wants
    remaining = col_total.copy()
    col_rank = rng.permutation(n_cols).astype(np.float64)
    prio = rng.random(n_units)  # random tie-break among equally suited units
    csc = m.tocsc()
    csc.sort_indices()
    sentinel = np.inf
    unit = bool(np.all(sizes == 1) and np.all(m.data == 1))  # then every count below is a row count
    coverable = col_total >= k
    guarded = coverable.copy()
    if protect is not None:
        guarded[protect:] = False
    lacking = np.broadcast_to(guarded, (k, n_cols)).copy()  # fold lacks a guarded column
    lacks = bool(lacking.any())
    nothing = np.zeros(k, dtype=np.int64)

    while True:
        key = np.where(remaining > 0, remaining * (n_cols + 1) + col_rank, sentinel)
        c = int(np.argmin(key)) if n_cols else 0
        if not n_cols or key[c] == sentinel:
            break
        lo, hi = csc.indptr[c], csc.indptr[c + 1]
        units = csc.indices[lo:hi]
        free = ~done[units]
        units = units[free]
        weights = np.ones(len(units)) if unit else csc.data[lo:hi][free].astype(np.float64)
        pos, owner, starts = _gather(m.indptr, units)
        cols = m.indices[pos]
        have = ratio * col_total[c] - want[:, c]
        needy = urgent = None
        # a fold missing a column whose last examples are all here needs a row too
        in_batch = np.bincount(cols, minlength=n_cols)
        last = np.flatnonzero(_last_chance(in_batch, c, remaining, coverable))
        if len(last):
            have_last = ratio[:, None] * col_total[last] - want[:, last]
            needy = (have_last < 0.5).any(axis=1)
            if protect is not None:  # needy for a label, not only for label pairs
                urgent = (have_last[:, last < protect] < 0.5).any(axis=1)
        # room in reserve for each lacked column with examples outside this batch (``full``); the
        # first deal reserves only for those absent from the batch, trusting it to supply the rest
        reserve = full = nothing
        if lacks:
            outside = remaining > in_batch
            reserve = (lacking & (outside & (in_batch == 0))).sum(axis=1)
            full = (lacking & outside).sum(axis=1)
        target = want[:, c]
        minor = protect is not None and c >= protect
        if minor:  # pairs: damped correction (spares the labels)
            share = ratio * weights.sum()
            target = share + PAIR_DAMPING * (target - share)
        strict = np.zeros(k, dtype=bool)  # folds that reserve ``full``
        for _ in range(k + 1):
            room = np.maximum(cap - np.where(strict, full, reserve), 0)
            if room.sum() < weights.sum():
                if strict.any():
                    break  # cannot reserve more: keep the last deal
                room = cap  # reserving is impossible: plain room
            drift = (sizes_wanted - cap) - ratio * (total - cap.sum())  # rows held beyond their share
            quota = allocate(target, float(weights.sum()), room, have, rng, needy, col_total[c] < k, urgent, minor,
                             drift)
            if unit:
                chosen = _interleave(owner, starts, cols, c, remaining, quota, prio[units])
                if needy is not None and len(units) > 1:  # make sure the needy fold gets such a row
                    _rescue(chosen, owner, cols, last, have_last, rng)
            else:
                chosen = _fill(rng.random((len(units), k)), weights, sizes[units], quota, cap, prio[units])
            cells = chosen[owner] * n_cols + cols
            if unit:  # all weights 1: integer counts, the same sums
                got = np.bincount(cells, minlength=k * n_cols).reshape(k, n_cols).astype(np.float64)
                used = np.bincount(chosen, minlength=k)
            else:
                got = np.bincount(cells, weights=data[pos], minlength=k * n_cols).reshape(k, n_cols)
                used = np.bincount(chosen, weights=sizes[units], minlength=k).astype(np.int64)
            # a fold the deal left without a lacked column of the batch needs room for it later:
            # if it has none, deal again with that fold reserving ``full`` (when its room allows a
            # row for every column it lacks; a smaller fold relies on rows with several of them)
            if not lacks or not (cap - used < full).any():
                break
            uncovered = (lacking & outside & (in_batch > 0) & (got <= 0)).sum(axis=1)
            bad = (cap - used < reserve + uncovered) & (full > reserve) & ~strict
            bad &= cap >= (lacking & (remaining > 0)).sum(axis=1)
            if not bad.any():
                break
            strict |= bad
        fold[units] = chosen
        done[units] = True
        cap -= used
        want -= got
        if lacks:
            lacking &= got <= 0
            lacks = bool(lacking.any())
        remaining -= got.sum(axis=0)
        remaining[c] = 0.0

    left = np.flatnonzero(fold < 0)
    if len(left):
        room = cap.astype(np.float64)
        chosen = _fill(rng.random((len(left), k)), sizes[left].astype(np.float64), sizes[left], room, cap, prio[left])
        fold[left] = chosen
    if lacks:  # the greedy pass can paint itself into a corner: repair by swaps
        can_hold = np.asarray(fold_sizes, dtype=np.int64) >= guarded.sum()  # a row per guarded column
        held = ratio[:, None] * col_total[None, :] - want
        excess = np.bincount(fold, weights=sizes, minlength=k).astype(np.int64) - np.asarray(fold_sizes, np.int64)
        _cover(fold, m, csc, sizes, excess, held, guarded, can_hold, prio)
    if refine_swaps:
        fold = refine(m, fold, k, prio, None if unit_sizes is None else sizes, protect)
    return fold


def allocate(
    want, amount: float, cap, have, rng: np.random.Generator, needy=None, spare_all=False, urgent=None, minor=False,
    drift=None,
) -> np.ndarray:
    """Integer quota per fold for ``amount`` positives: water-fill ``want`` within ``cap``.

    Rounding: folds with the largest remainders get the leftover units; equal remainders go
    first to the fold with the lowest ``drift`` (rows it holds beyond its share of the rows dealt
    so far), then the roomiest, then at random.
    Folds that hold no positive yet (``have`` < 0.5), or that are ``needy`` (they lack another
    column whose last examples are in this batch), get at least one while the others can spare
    (a fold can always spare when ``spare_all``: the column is too rare to reach every fold).
    A label pair (``minor``) column forces no "at least one" for a fold that only lacks the
    pair itself: that rule sent the validation fold rows over its target at 100 labels.
    A protected column outranks the others (label pairs): a fold that lacks this column when it
    is not ``minor``, or that is ``urgent`` (needy for a protected column; default ``needy``), may
    take the only positive of a fold without such a need, and never gives its only one to it.

    >>> allocate([1.33, 0.67], 2, [10, 5], [0, 0], np.random.default_rng(0)).tolist()
    [1, 1]
    >>> allocate([6.0, 4.0], 10, [3, 100], [0, 0], np.random.default_rng(0)).tolist()
    [3, 7]
    """
    want = [float(w) for w in want]
    cap = [int(v) for v in cap]
    have = [float(h) for h in have]
    needy = [False] * len(want) if needy is None else [bool(v) for v in needy]
    urgent = needy if urgent is None else [bool(v) for v in urgent]
    k = len(want)
    drift = [0.0] * k if drift is None else [float(v) for v in drift]
    amount = int(round(amount))
    x = [0.0] * k
    free = [j for j in range(k) if cap[j] > 0]
    budget = float(amount)
    for _ in range(k):
        if not free or budget <= 0:
            break
        for j, v in zip(free, _water([want[j] for j in free], budget), strict=True):
            x[j] = v
        over = [j for j in free if x[j] > cap[j]]
        if not over:
            break
        for j in over:
            x[j] = float(cap[j])
            budget -= cap[j]
        free = [j for j in free if j not in over]
    base = [min(math.floor(x[j] + 1e-9), cap[j]) for j in range(k)]
    short = amount - sum(base)
    if short > 0:
        tie = rng.random(k)
        for j in sorted(range(k), key=lambda j: (round(base[j] - x[j], 9), drift[j], -cap[j], tie[j])):
            if short and base[j] < cap[j]:
                base[j] += 1
                short -= 1
        for j in range(k):  # caps hold every row by construction; guard anyway
            add = max(min(short, cap[j] - base[j]), 0)
            base[j] += add
            short -= add
    strong = [urgent[j] or (have[j] < 0.5 and not spare_all and not minor) for j in range(k)]
    for j in sorted(range(k), key=lambda j: -want[j]):
        lacks = have[j] < 0.5 and not spare_all and not minor  # pairs: no forced "at least one"
        if base[j] == 0 and (lacks or needy[j]) and cap[j] >= 1:
            donors = [
                i for i in range(k)
                if base[i] >= 2 or (base[i] >= 1 and (
                    (have[i] >= 0.5 or (spare_all and needy[j])) and (strong[j] or not strong[i])
                    or (strong[j] and not strong[i])
                ))
            ]
            if donors:
                i = max(donors, key=lambda d: (base[d], -d))
                base[i] -= 1
                base[j] += 1
    return np.asarray(base, dtype=np.int64)


def _water(want: list[float], budget: float) -> list[float]:
    """Non-negative x with sum ``budget`` minimising max(want - x): x = max(0, want - t)."""
    order = sorted(want, reverse=True)
    total, t = 0.0, 0.0
    for i, w in enumerate(order, start=1):
        total += w
        t = (total - budget) / i
        if i == len(order) or t >= order[i]:
            break
    return [max(w - t, 0.0) for w in want]


def _interleave(owner, starts, cols, c, remaining, quota, prio) -> np.ndarray:
    """Fold per unit (all of weight 1): sort the units by their rarest other columns, then deal
    the sorted list to the folds in an evenly spread pattern with exactly ``quota[j]`` each.

    Dealing a sorted list is systematic sampling: every group of units sharing their next-rarest
    column is split in proportion too, so later columns start closer to their targets.
    ``owner``/``starts``: batch unit of each (unit, column) entry and where each unit's entries start.
    """
    n = len(prio)
    if n == 1:
        return np.array([int(np.argmax(quota))], dtype=np.int64)
    order = _unit_order(owner, starts, cols, c, remaining, prio)
    if len(quota) == 2:  # fold 1 at evenly spaced positions
        seq = np.zeros(n, dtype=np.int64)
        if quota[1]:
            seq[((np.arange(quota[1]) + 0.5) * (n / quota[1])).astype(np.int64)] = 1
    else:
        points = np.concatenate([(np.arange(q) + 0.5) / q for q in quota if q > 0])
        folds = np.concatenate([np.full(q, j) for j, q in enumerate(quota) if q > 0])
        seq = folds[np.lexsort((folds, points))]
    out = np.empty(n, dtype=np.int64)
    out[order] = seq
    return out


def _unit_order(owner, starts, cols, c, remaining, prio) -> np.ndarray:
    """Order of a batch's units by (remaining count of their rarest other column, of their second
    rarest, ``prio``), ties by position: ``np.lexsort`` of those three keys.

    Large batches with few distinct counts get the same order from small integer keys: dense
    ranks of the counts give a 16-bit (rarest, second) key; sort by priority, then radix-sort
    that key stably (several times faster than ``lexsort`` on floats).
    """
    if len(prio) >= max(len(remaining), 64):
        values = remaining.copy()
        values[c] = np.inf
        distinct = np.unique(values)
        if len(distinct) <= 256:
            return _small_key_order(owner, starts, np.searchsorted(distinct, values).astype(np.uint16)[cols],
                                    len(distinct), prio)
    rank = np.where(cols == c, np.inf, remaining[cols])
    first = np.minimum.reduceat(rank, starts)
    second = np.minimum.reduceat(np.where(rank == first[owner], np.inf, rank), starts)
    return np.lexsort((prio, second, first))


def _small_key_order(owner, starts, rank, n_ranks: int, prio) -> np.ndarray:
    """:func:`_unit_order` with the counts given as dense ranks < ``n_ranks`` <= 256 (column c last)."""
    first = np.minimum.reduceat(rank, starts)
    second = np.minimum.reduceat(np.where(rank == first[owner], n_ranks - 1, rank), starts)
    key = first * n_ranks + second  # uint16
    by_prio = np.argsort(prio)
    ranked = prio[by_prio]
    if (ranked[1:] == ranked[:-1]).any():  # equal priorities keep their positions, as in lexsort
        by_prio = np.argsort(prio, kind="stable")
    return by_prio[np.argsort(key[by_prio], kind="stable")]


def _last_chance(in_batch, c, remaining, coverable) -> np.ndarray:
    """Coverable columns (other than ``c``) whose remaining examples all sit in this batch."""
    last = (in_batch > 0) & (in_batch >= remaining - 1e-9) & coverable
    last[c] = False
    return last


def _rescue(chosen, owner, cols, last, have, rng) -> None:
    """Last chance for the batch's other columns: if a fold holds no positive of a column and
    every remaining example of it is in this batch, swap one such row into that fold (in exchange
    for a row of that fold, so quotas and sizes stay as they are). Edits ``chosen`` in place."""
    k = have.shape[0]
    is_last = np.zeros(int(cols.max()) + 1, dtype=bool)
    is_last[last] = True
    for i, j in enumerate(last):
        for f in range(k):
            if have[f, i] >= 0.5:
                continue
            rows_j = np.unique(owner[cols == j])
            if (chosen[rows_j] == f).any():
                continue
            per_fold = np.bincount(chosen[rows_j], minlength=k) + (have[:, i] >= 0.5)
            donors = rows_j[per_fold[chosen[rows_j]] >= 2]
            takers = np.flatnonzero(chosen == f)
            if not len(donors) or not len(takers):
                continue
            # prefer giving away a row of f that carries no last-chance column
            carries = np.bincount(owner[is_last[cols]], minlength=len(chosen))[takers]
            b = takers[np.lexsort((rng.random(len(takers)), carries))[0]]
            a = donors[rng.integers(len(donors))]
            chosen[b], chosen[a] = chosen[a], f


def _cover(fold, m, csc, sizes, excess, held, guarded, room, prio, tries: int = 32) -> None:
    """Last resort for a fold with ``room`` (k bools) that ended without a ``guarded`` column: swap
    a unit carrying it with a unit of the lacking fold, such that both folds keep every guarded
    column they hold and their distance from the wanted sizes does not grow (``excess``: rows
    above them; with exact sizes, units of the same size). Among the first ``tries`` carriers
    (those whose fold can spare them first, then by ``prio``) take the swap whose two units
    differ in the fewest columns. Every swap fills one more (fold, column) and empties none.
    ``held`` (k x C) counts each fold's positives; it, ``excess`` and ``fold`` are updated in place.
    """
    data = m.data.astype(np.float64)
    progress = True
    while progress:
        progress = False
        for f, j in np.argwhere((held < 0.5) & guarded & room[:, None]):
            progress |= _swap_in(fold, m, csc, data, sizes, excess, held, guarded, prio, tries, f, j)


def _swap_in(fold, m, csc, data, sizes, excess, counts, guarded, prio, tries, f, j) -> bool:
    """One swap of :func:`_cover` that gives fold ``f`` a unit of column ``j``; False if none."""
    carriers = csc.indices[csc.indptr[j]:csc.indptr[j + 1]]
    pos, owner, _ = _gather(m.indptr, carriers)
    cols = m.indices[pos]
    # carriers whose fold keeps every guarded column without them first (then the unit f gives
    # back need not carry anything in particular), ties by priority
    losses = guarded[cols] & (counts[fold[carriers][owner], cols] - data[pos] < 0.5)
    losses = np.bincount(owner, weights=losses, minlength=len(carriers))
    carriers = carriers[np.lexsort((prio[carriers], losses))][:tries]
    mine = np.flatnonzero(fold == f)
    mpos, mowner, _ = _gather(m.indptr, mine)
    mcols, mdata = m.indices[mpos], data[mpos]
    length = np.bincount(mowner, minlength=len(mine))
    best = None
    for r in carriers:
        g, lo, hi = fold[r], m.indptr[r], m.indptr[r + 1]
        gain = np.zeros(m.shape[1])
        gain[m.indices[lo:hi]] = data[lo:hi]
        # guarded columns g would lose with r: the unit it gets back must carry them
        lost = np.zeros(m.shape[1])
        lost[m.indices[lo:hi]] = guarded[m.indices[lo:hi]] & (counts[g, m.indices[lo:hi]] - data[lo:hi] < 0.5)
        covers = np.bincount(mowner, weights=lost[mcols], minlength=len(mine)) == lost.sum()
        # and f must keep every guarded column the unit it gives away carries (r's added)
        dropped = guarded[mcols] & (counts[f, mcols] + gain[mcols] - mdata < 0.5)
        keeps = np.bincount(mowner, weights=dropped, minlength=len(mine)) == 0
        shift = sizes[r] - sizes[mine]  # rows f gains (g loses) by the swap
        level = np.abs(excess[f] + shift) + np.abs(excess[g] - shift) <= abs(excess[f]) + abs(excess[g])
        ok = np.flatnonzero(covers & keeps & level)
        if not len(ok):
            continue
        shared = np.bincount(mowner, weights=gain[mcols] > 0, minlength=len(mine))[ok]
        differ = length[ok] - 2 * shared + (hi - lo)
        i = ok[np.lexsort((prio[mine[ok]], differ))[0]]
        key = (differ.min(), prio[r])
        if best is None or key < best[0]:
            best = (key, r, mine[i])
    if best is None:
        return False
    _, a, b = best
    home = fold[a]
    for u, src, dst in ((a, home, f), (b, f, home)):
        lo, hi = m.indptr[u], m.indptr[u + 1]
        counts[src, m.indices[lo:hi]] -= data[lo:hi]
        counts[dst, m.indices[lo:hi]] += data[lo:hi]
    fold[a], fold[b] = f, home
    excess[f] += sizes[a] - sizes[b]
    excess[home] -= sizes[a] - sizes[b]
    return True


def _gather(indptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions into a CSR's indices/data for ``rows``, the batch row each belongs to, and where
    each row's positions start."""
    starts = indptr[rows]
    lengths = indptr[rows + 1] - starts
    owner = np.repeat(np.arange(len(rows)), lengths)
    offsets = np.cumsum(lengths) - lengths
    pos = np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()))
    return pos, owner, offsets


def _fill(scores, weights, sizes, quota, cap, prio) -> np.ndarray:
    """Give each fold j the units that suit it best until it holds ``quota[j]`` weight.

    Folds are filled one after another (largest quota first); each takes a prefix of the remaining
    units sorted by preference (its score minus the mean score of the folds still open), with the
    prefix length chosen to hit the quota without breaking any fold's room in rows.
    """
    n, k = scores.shape
    out = np.full(n, -1, dtype=np.int64)
    open_folds = list(np.argsort(-np.asarray(quota, dtype=np.float64), kind="stable"))
    pending = np.arange(n)
    cap = np.asarray(cap, dtype=np.int64)
    while len(open_folds) > 1 and len(pending):
        j = open_folds.pop(0)
        others = open_folds
        pref = scores[pending, j] - scores[pending][:, others].mean(axis=1)
        order = pending[np.lexsort((prio[pending], -pref))]
        cw = np.concatenate([[0.0], np.cumsum(weights[order])])
        cs = np.concatenate([[0], np.cumsum(sizes[order])])
        rest_room = int(cap[others].sum())
        feasible = (cs <= cap[j]) & (cs[-1] - cs <= rest_room)
        miss = np.abs(cw - quota[j])
        if feasible.any():
            miss = np.where(feasible, miss, np.inf)
        else:  # groups too big to fit exactly: least overflow, then closest quota
            over = np.maximum(cs - cap[j], 0) + np.maximum(cs[-1] - cs - rest_room, 0)
            miss = over * (cw[-1] + 1.0) + miss
        p = int(np.argmin(miss))
        out[order[:p]] = j
        pending = order[p:]
    if len(pending):
        out[pending] = open_folds[0] if open_folds else 0
    return out
