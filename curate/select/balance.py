"""The ``balance`` stage: choose ``size`` pool rows whose label counts are as even as possible.

Options (YAML ``balance:`` section): ``size`` (rows wanted), ``strategy`` (``uniform``, the default:
even label counts, see :mod:`curate.select.uniform`; ``natural``: a stratified sample keeping the
pool's proportions), ``cap`` (no label above this count, or null), ``min_per_label`` (each label at
least this often where the pool has that many), ``seed``.

``stats`` carries the evenness of curate's selection *and* of the practitioners' capped baseline
(:mod:`curate.select.baseline`) on the same pool, so the manifest shows both. A pool smaller than
``size`` is taken whole (``stats["warnings"]`` says so); an empty pool raises SelectionError.

>>> import polars as pl
>>> labels = pl.Series([["a"]] * 8 + [["b"]] * 2 + [["a", "b"]] * 2)
>>> result = select_balanced(labels, balance_options({"size": 4, "seed": 1}))
>>> result.stats["evenness"]["cv"], result.indices.dtype.name
(0.0, 'int64')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from curate.errors import SelectionError
from curate.select.baseline import capped_baseline
from curate.select.labels import LabelMatrix, label_matrix
from curate.select.options import BALANCE_PARAMS, STRATEGIES, balance_options  # noqa: F401  (re-exported)
from curate.select.quality import evenness_of_counts
from curate.select.stratify import stratify
from curate.select.uniform import even_select

PARAMS = BALANCE_PARAMS


@dataclass(frozen=True)
class BalanceResult:
    """``indices``: sorted int64 positions into the pool; ``stats``: JSON-ready numbers."""

    indices: np.ndarray
    stats: dict[str, Any]


def select_natural(labels, size: int, seed: int) -> np.ndarray:
    """Sorted positions of a ``size``-row stratified sample that keeps the pool's label proportions.

    >>> import polars as pl
    >>> select_natural(pl.Series([["a"], ["a"], ["b"], ["b"]]), 2, seed=0).size
    2
    """
    lm = _matrix(labels)
    n = lm.csr.shape[0]
    size = max(0, min(int(size), n))
    if size in (0, n):
        return np.arange(size, dtype=np.int64)
    fold = stratify(lm.csr, [size, n - size], np.random.default_rng(seed))
    return np.flatnonzero(fold == 0).astype(np.int64)


def select_balanced(labels: pl.Series, options: Mapping[str, Any]) -> BalanceResult:
    """Choose ``options["size"]`` rows (see the module docstring); never touches global random state."""
    lm = _matrix(labels)
    n = lm.csr.shape[0]
    if n == 0:
        raise SelectionError("balance: the pool is empty (every row was rejected); nothing to select")
    size, seed = int(options["size"]), int(options.get("seed", 0))
    strategy = options.get("strategy", "uniform")
    cap, floor = options.get("cap"), int(options.get("min_per_label", 0))
    warnings = []
    if size > n:
        warnings.append(f"balance asked for {size} rows but the pool has {n}: all {n} are used")
    rng = np.random.default_rng(seed)
    base_picked, base_cap = capped_baseline(lm.csr, size, np.random.default_rng(seed))
    if strategy == "natural":
        picked = select_natural(lm, size, seed)
    else:
        reference = base_picked if cap is None or base_cap <= cap else None
        picked = even_select(lm.csr, size, rng, cap=cap, min_per_label=floor, reference=reference)
    pool_counts = lm.counts
    present = pool_counts > 0
    names = [nm for nm, p in zip(lm.names, present, strict=True) if p]
    sel_counts = _counts(lm, picked)
    base_counts = _counts(lm, base_picked)
    if len(picked) < min(size, n):
        warnings.append(f"balance: the cap of {cap} per label allows only {len(picked)} rows")
    short = [nm for nm, c in zip(lm.names, sel_counts.tolist(), strict=True) if floor and c < floor]
    if short:
        warnings.append(f"balance: {len(short)} labels are under min_per_label={floor}: {', '.join(short[:10])}")
    stats = {
        "strategy": strategy,
        "seed": seed,
        "requested_size": size,
        "pool_rows": n,
        "selected": int(len(picked)),
        "unused": int(n - len(picked)),
        "evenness": evenness_of_counts(sel_counts[present], names),
        "baseline": {
            "method": "capped_greedy",
            "cap": base_cap,
            "selected": int(len(base_picked)),
            "evenness": evenness_of_counts(base_counts[present], names),
        },
        "pool_evenness": evenness_of_counts(pool_counts[present], names),
        "labels": {
            nm: {"pool": int(p), "selected": int(s), "baseline": int(b)}
            for nm, p, s, b in zip(lm.names, pool_counts.tolist(), sel_counts.tolist(), base_counts.tolist(), strict=True)
        },
        "warnings": warnings,
    }
    return BalanceResult(np.asarray(picked, dtype=np.int64), stats)


def _matrix(labels) -> LabelMatrix:
    return labels if isinstance(labels, LabelMatrix) else label_matrix(labels)


def _counts(lm: LabelMatrix, rows: np.ndarray) -> np.ndarray:
    sub = lm.csr[np.asarray(rows, dtype=np.int64)]
    return np.bincount(sub.indices, minlength=len(lm.names)).astype(np.int64)
