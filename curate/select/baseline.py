"""The practitioners' capped baseline for balanced selection (the number curate must beat).

From the RFT build hour's ``balanced_sampling_150.ipynb``: for cap = 1, 2, ... (stop at 50), walk the
labels rarest first, shuffle each label's rows, and add a row only if *all* its labels are still
under the cap; stop raising the cap once at least ``size`` rows are chosen, then drop random extras
down to ``size``. Pure Python over the rows it visits: it is a yardstick, not the default.

>>> import numpy as np, scipy.sparse as sp
>>> x = sp.csr_matrix(np.array([[1, 0], [1, 0], [1, 0], [0, 1]]))
>>> picked, cap = capped_baseline(x, 2, np.random.default_rng(0))
>>> cap, len(picked), bool(x[picked].toarray()[:, 1].sum() == 1)
(1, 2, True)
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

MAX_CAP = 50


def capped_baseline(x: sp.csr_matrix, size: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Sorted row positions chosen by the capped greedy, and the cap it stopped at."""
    x = sp.csr_matrix(x)
    n, n_labels = x.shape
    size = min(size, n)
    counts = np.bincount(x.indices, minlength=n_labels)
    present = np.flatnonzero(counts > 0)
    rarest = present[np.argsort(counts[present], kind="stable")]
    csc = x.tocsc()
    members = [csc.indices[csc.indptr[j]:csc.indptr[j + 1]] for j in range(n_labels)]
    row_labels = np.split(x.indices, x.indptr[1:-1])
    row_labels = [r.tolist() for r in row_labels]
    chosen: list[int] = []
    cap = 0
    while cap < MAX_CAP:
        cap += 1
        used = np.zeros(n, dtype=bool)
        have = [0] * n_labels
        chosen = []
        for label in rarest:
            if have[label] >= cap:
                continue
            for row in rng.permutation(members[label]).tolist():
                if used[row]:
                    continue
                labs = row_labels[row]
                if all(have[j] < cap for j in labs):
                    used[row] = True
                    chosen.append(row)
                    for j in labs:
                        have[j] += 1
                    if have[label] >= cap:
                        break
        if len(chosen) >= size:
            break
    picked = np.asarray(chosen, dtype=np.int64)
    if len(picked) > size:
        picked = rng.choice(picked, size=size, replace=False)
    return np.sort(picked), cap
