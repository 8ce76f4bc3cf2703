"""scikit-multilearn's IterativeStratification as a split method (the reference implementation).

scikit-multilearn 0.2.0 draws its tie-breaks from the *global* ``np.random`` and cannot take a
``random_state`` (it raises on scikit-learn >= 0.24). We seed the global generator for the call and
restore its previous state afterwards, so the caller's random state is left exactly as it was.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from curate._deps import optional_import


def skml_assign(x: sp.csr_matrix, n_valid: int, order: int, seed: int) -> np.ndarray:
    """0 (train) / 1 (valid) per row of ``x`` from skml's IterativeStratification; sizes are approximate."""
    n = x.shape[0]
    out = np.zeros(n, dtype=np.int64)
    if n_valid == 0 or n == 0:
        return out
    if n_valid == n:
        return out + 1
    mod = optional_import("skmultilearn.model_selection", "skml")
    frac = n_valid / n
    state = np.random.get_state()
    try:
        np.random.seed(seed)
        strat = mod.IterativeStratification(
            n_splits=2, order=order, sample_distribution_per_fold=[frac, 1.0 - frac]
        )
        _, valid_idx = next(strat.split(np.zeros((n, 1)), sp.csr_matrix(x, dtype=np.int64)))
    finally:
        np.random.set_state(state)
    out[np.asarray(valid_idx, dtype=np.int64)] = 1
    return out
