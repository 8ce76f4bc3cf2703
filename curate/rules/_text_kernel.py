"""Compiled per-text character statistics for ``mostly_non_text`` (numba), loaded lazily; ``None``
without numba (``pip install 'curate[fast]'``).

``text_stats_ascii`` makes one pass over the raw bytes of each ASCII text and gives what the
rule's regular expressions give there (for ASCII, ``\\s`` is ``[\\t\\n\\v\\f\\r ]`` and ``\\p{L}``
is ``[A-Za-z]``); texts holding a non-ASCII byte are marked ``-1`` and left to the expressions
(:mod:`curate.rules.textstats`).
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def kernel():
    try:
        import numba  # noqa: F401  (present: the kernels compile)
    except ImportError:
        return None
    import numpy as np

    # 1: whitespace (\s in ASCII), 2: letter (\p{L} in ASCII), 0: anything else, 3: not ASCII
    classes = np.zeros(256, dtype=np.uint8)
    classes[[9, 10, 11, 12, 13, 32]] = 1
    classes[65:91] = 2
    classes[97:123] = 2
    classes[128:] = 3

    def window(data, lo, hi, blob_chars, classes):  # (length, spaces, others, blob) of data[lo:hi]
        spaces = 0
        others = 0
        blobs = 0
        run = 0
        for i in range(lo, hi):  # branch-free: spaces are too frequent and too irregular to predict
            c = classes[data[i]]
            space = np.int64(c == 1)
            blobs += run * space * np.int64(run >= blob_chars)
            run = (run + 1) * (1 - space)
            spaces += space
            others += np.int64(c == 0)
        blobs += run * np.int64(run >= blob_chars)
        return hi - lo, spaces, others, blobs

    def text_stats_ascii(data, offsets, sample_chars, blob_chars, visible, other, blob, stripped):  # pragma: no cover
        for d in range(offsets.shape[0] - 1):
            lo, hi = offsets[d], offsets[d + 1]
            n = hi - lo
            if not ascii_only(data, lo, hi):
                visible[d] = -1
                continue
            first, last = lo, hi
            while first < hi and classes[data[first]] == 1:
                first += 1
            while last > first and classes[data[last - 1]] == 1:
                last -= 1
            stripped[d] = last - first
            if sample_chars == 0 or n <= sample_chars:
                length, spaces, others, blobs = window(data, lo, hi, blob_chars, classes)
            else:  # three windows joined by single spaces (which end any run)
                w = max(1, sample_chars // 3)
                mid = max(0, n // 2 - w // 2)
                end = max(0, n - w)
                l1, s1, o1, b1 = window(data, lo, lo + min(w, n), blob_chars, classes)
                l2, s2, o2, b2 = window(data, lo + mid, lo + min(mid + w, n), blob_chars, classes)
                l3, s3, o3, b3 = window(data, lo + end, lo + min(end + w, n), blob_chars, classes)
                length, spaces, others, blobs = l1 + l2 + l3 + 2, s1 + s2 + s3 + 2, o1 + o2 + o3, b1 + b2 + b3
            visible[d] = length - spaces
            other[d] = others
            blob[d] = blobs

    from curate.rules._minhash_kernel import is_ascii, njit

    ascii_only = njit(is_ascii)

    window = njit(window)
    return njit(text_stats_ascii)
