"""Compiled MinHash kernels (numba), loaded lazily; ``None`` without numba (``pip install 'curate[fast]'``).

- ``minhash_rows``: every permutation of a document in one pass over its shingles. Same arithmetic
  as the numpy path in :func:`curate.rules.minhash.signatures` (uint64 wrap-around multiply-add,
  minimum, high 32 bits), so the signatures are equal bit for bit.
- ``hash_words``: :func:`curate.rules.minhash.word_hashes` of a list of byte strings.
- ``sketch_ascii``: tokenise, hash words, build shingles and their MinHash in one pass over the
  raw bytes of ASCII documents, with no intermediate arrays; documents holding a non-ASCII byte
  are left to the general path (marked ``-1``). Same words as ``\\w+`` on the lower-cased text
  (for ASCII text ``\\w`` is ``[0-9A-Za-z_]`` and NFKC changes nothing), same hashes as
  :func:`curate.rules.minhash.shingle`, so the signatures equal the general path's.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace

P = 0x100000001B3  # polynomial base of the byte hash (the FNV prime)
K_LEN = 0x9E3779B97F4A7C15
K_SEED = 0xC2B2AE3D27D4EB4F


def is_ascii(data, lo, hi):  # pragma: no cover - compiled by the kernels that call it
    """True when ``data[lo:hi]`` holds no byte over 127 (no branch per byte)."""
    bits = 0
    for i in range(lo, hi):
        bits |= data[i]
    return bits < 128


def njit(fn, **kw):
    """``numba.njit(fn)`` without the GIL, cached next to the module (or in numba's user cache
    folder when that is read-only), else compiled once per process."""
    import numba

    try:
        return numba.njit(cache=True, nogil=True, **kw)(fn)
    except Exception:  # no writable cache location
        return numba.njit(nogil=True, **kw)(fn)


@lru_cache(maxsize=1)
def kernels() -> SimpleNamespace | None:
    try:
        import numba  # noqa: F401  (present: the kernels compile)
    except ImportError:
        return None
    import numpy as np

    p = np.uint64(P)
    k_len = np.uint64(K_LEN)
    k_seed = np.uint64(K_SEED)
    top = np.uint64(0xFFFFFFFFFFFFFFFF)
    shift = np.uint64(32)
    mask32 = np.uint64(0xFFFFFFFF)

    jit = njit

    def _finish(h, length, seed):  # splitmix64 of the polynomial, the length and the seed
        z = h ^ (np.uint64(length) * k_len) ^ (np.uint64(seed) * k_seed)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))

    finish = jit(_finish)

    def minhash_rows(x, starts, rows, a, b, out):  # pragma: no cover - compiled
        num_perm = a.shape[0]
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

    def hash_words(data, offsets, seed, out):  # pragma: no cover - compiled
        for w in range(offsets.shape[0] - 1):
            h = np.uint64(0)
            for i in range(offsets[w], offsets[w + 1]):
                h = h * p + np.uint64(data[i])
            out[w] = finish(h, offsets[w + 1] - offsets[w], seed)

    # ASCII word characters (\w: [0-9A-Za-z_]) lower-cased; 0 for every other byte
    lower = np.zeros(256, dtype=np.uint8)
    for c in (*range(48, 58), *range(97, 123), 95):
        lower[c] = c
    for c in range(65, 91):
        lower[c] = c + 32

    def _power(n):  # P ** n (wrapping), by squaring
        result = np.uint64(1)
        base = p
        while n > 0:
            if n & 1:
                result *= base
            base *= base
            n >>= 1
        return result

    power = jit(_power)
    ascii_only = jit(is_ascii)

    def sketch_ascii(data, offsets, ngram, mult, seed, a, b, out, nwords):  # pragma: no cover - compiled
        num_perm = a.shape[0]
        mins = np.empty(num_perm, dtype=np.uint64)
        ring = np.zeros(ngram, dtype=np.uint64)
        for d in range(offsets.shape[0] - 1):
            lo, hi = offsets[d], offsets[d + 1]
            if not ascii_only(data, lo, hi):
                nwords[d] = -1
                continue
            for j in range(num_perm):
                mins[j] = top
            count = 0
            joined = np.uint64(0)  # polynomial of the words joined by single spaces (short texts)
            joined_len = 0
            h = np.uint64(0)
            length = 0
            for i in range(lo, hi + 1):
                c = lower[data[i]] if i < hi else 0  # 0: not a word character
                if c != 0:
                    h = h * p + np.uint64(c)
                    length += 1
                    continue
                if length == 0:
                    continue
                wh = finish(h, length, seed)
                if count < ngram:
                    if count == 0:
                        joined = h
                        joined_len = length
                    else:
                        joined = (joined * p + np.uint64(32)) * power(length) + h
                        joined_len += 1 + length
                    ring[count] = wh
                else:
                    for j in range(ngram - 1):
                        ring[j] = ring[j + 1]
                    ring[ngram - 1] = wh
                count += 1
                h = np.uint64(0)
                length = 0
                if count >= ngram:
                    acc = np.uint64(0)
                    for j in range(ngram):
                        acc += ring[j] * mult[j]
                        acc ^= acc >> np.uint64(29)
                    x = (acc ^ (acc >> shift)) & mask32
                    for j in range(num_perm):
                        v = x * a[j] + b[j]
                        if v < mins[j]:
                            mins[j] = v
            if 0 < count < ngram:
                hs = finish(joined, joined_len, seed + 1)
                x = (hs ^ (hs >> shift)) & mask32
                for j in range(num_perm):
                    v = x * a[j] + b[j]
                    if v < mins[j]:
                        mins[j] = v
            nwords[d] = count
            for j in range(num_perm):
                out[d, j] = np.uint32(mins[j] >> shift)

    return SimpleNamespace(minhash_rows=jit(minhash_rows), hash_words=jit(hash_words), sketch_ascii=jit(sketch_ascii))


def kernel():
    """The compiled ``minhash_rows(x, starts, rows, a, b, out)`` or None without numba.

    Document ``d`` owns ``x[starts[d]:starts[d + 1]]`` (32-bit folded shingle hashes); its
    signature goes to ``out[rows[d]]``."""
    k = kernels()
    return None if k is None else k.minhash_rows
