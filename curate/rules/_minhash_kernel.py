"""Compiled MinHash kernel (numba): every permutation of a document in one pass over its shingles.

Same arithmetic as the numpy path in :func:`curate.rules.minhash.signatures` (uint64 wrap-around
multiply-add, minimum, high 32 bits), so the signatures are equal bit for bit. Loaded lazily by
:func:`kernel`; ``None`` when numba is not installed (``pip install 'curate[fast]'``).
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def kernel():
    """The compiled ``minhash_rows(x, starts, rows, a, b, out)`` or None without numba.

    Document ``d`` owns ``x[starts[d]:starts[d + 1]]`` (32-bit folded shingle hashes); its
    signature goes to ``out[rows[d]]``."""
    try:
        import numba
    except ImportError:
        return None
    import numpy as np

    def minhash_rows(x, starts, rows, a, b, out):  # pragma: no cover - compiled
        num_perm = a.shape[0]
        top = np.uint64(0xFFFFFFFFFFFFFFFF)
        shift = np.uint64(32)
        mins = np.empty(num_perm, dtype=np.uint64)
        for d in range(starts.shape[0] - 1):
            for j in range(num_perm):
                mins[j] = top
            for i in range(starts[d], starts[d + 1]):
                xi = x[i]
                for j in range(num_perm):
                    v = xi * a[j] + b[j]
                    if v < mins[j]:
                        mins[j] = v
            r = rows[d]
            for j in range(num_perm):
                out[r, j] = np.uint32(mins[j] >> shift)

    try:  # cached next to this file, or in numba's user cache folder when that is read-only
        return numba.njit(cache=True, nogil=True)(minhash_rows)
    except Exception:  # no writable cache location: compile once per process
        return numba.njit(nogil=True)(minhash_rows)
