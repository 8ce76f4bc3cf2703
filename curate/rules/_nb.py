"""Every compiled kernel of the rules (numba), at module level so that numba's on-disk cache holds.

Importing this module imports numba: callers reach it through :func:`kernels`, which returns
``None`` without numba (``pip install 'curate[fast]'``) and the callers then take their numpy or
polars path, with equal results (each kernel's test compares the two).

Kernels are plain module functions calling each other through module globals. A kernel built
inside a function (a closure over other compiled functions or arrays) is compiled again in every
process: numba keys its cache on the closure's contents, and a compiled function pickles
differently in each process (that cost ~1.3 s per run).

Byte kernels read a string column's Arrow buffers (:func:`curate.rules._arrow.buffers`): document
``d`` is ``data[offsets[d]:offsets[d + 1]]``. Those that handle only ASCII texts mark the others
(``-1``) and leave them to the general path.

Loops run over a row's slice from 0 (``seg = data[lo:hi]; for j in range(seg.shape[0])``), not
over ``range(lo, hi)``: numba must otherwise allow for negative indices (wraparound) and LLVM
does not vectorise; the slice form is about ten times faster on the byte scans.
"""

from __future__ import annotations

import numba
import numpy as np

from curate.rules._minhash_kernel import K_LEN, K_SEED, P


def _jit(fn):
    """``numba.njit`` without the GIL, cached next to this module (or in numba's user cache folder
    when that is read-only), else compiled once per process."""
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except Exception:  # no writable cache location
        return numba.njit(nogil=True)(fn)


_P = np.uint64(P)
_K_LEN = np.uint64(K_LEN)
_K_SEED = np.uint64(K_SEED)
_TOP = np.uint64(0xFFFFFFFFFFFFFFFF)
_SHIFT = np.uint64(32)
_MASK32 = np.uint64(0xFFFFFFFF)
_SPACE = np.uint64(32)

# ASCII word characters (\w: [0-9A-Za-z_]) lower-cased; 0 for every other byte
_WORD = np.zeros(256, dtype=np.uint8)
_WORD[48:58] = np.arange(48, 58)
_WORD[97:123] = np.arange(97, 123)
_WORD[95] = 95
_WORD[65:91] = np.arange(97, 123)
# 1: whitespace (\s in ASCII: tab, newline, vertical tab, form feed, carriage return, space),
# 2: letter (\p{L} in ASCII), 0: anything else ASCII, 3: not ASCII
_CLASS = np.zeros(256, dtype=np.uint8)
_CLASS[[9, 10, 11, 12, 13, 32]] = 1
_CLASS[65:91] = 2
_CLASS[97:123] = 2
_CLASS[128:] = 3
# ASCII lower case (other bytes unchanged)
_LOWER = np.arange(256, dtype=np.uint8)
_LOWER[65:91] = np.arange(97, 123)


@_jit
def is_ascii(data, lo, hi):  # pragma: no cover - compiled
    """True when ``data[lo:hi]`` holds no byte over 127 (no branch per byte)."""
    seg = data[lo:hi]
    bits = np.uint8(0)
    for j in range(seg.shape[0]):
        bits |= seg[j]
    return bits < 128


@_jit
def finish(h, length, seed):  # pragma: no cover - compiled
    """splitmix64 of the polynomial ``h``, the length and the seed."""
    z = h ^ (np.uint64(length) * _K_LEN) ^ (np.uint64(seed) * _K_SEED)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@_jit
def power(n):  # pragma: no cover - compiled
    """``P ** n`` (wrapping), by squaring."""
    result = np.uint64(1)
    base = _P
    while n > 0:
        if n & 1:
            result *= base
        base *= base
        n >>= 1
    return result


@_jit
def minhash_rows(x, starts, rows, a, b, out):  # pragma: no cover - compiled
    """Document ``d`` owns ``x[starts[d]:starts[d + 1]]`` (32-bit folded shingle hashes); its
    signature (every permutation in one pass over its shingles) goes to ``out[rows[d]]``."""
    num_perm = a.shape[0]
    mins = np.empty(num_perm, dtype=np.uint64)
    for d in range(starts.shape[0] - 1):
        for j in range(num_perm):
            mins[j] = _TOP
        seg = x[starts[d]:starts[d + 1]]
        for i in range(seg.shape[0]):
            xi = seg[i]
            for j in range(num_perm):
                v = xi * a[j] + b[j]
                if v < mins[j]:
                    mins[j] = v
        r = rows[d]
        for j in range(num_perm):
            out[r, j] = np.uint32(mins[j] >> _SHIFT)


@_jit
def hash_words(data, offsets, seed, out):  # pragma: no cover - compiled
    """:func:`curate.rules.minhash.word_hashes` of every string."""
    for w in range(offsets.shape[0] - 1):
        seg = data[offsets[w]:offsets[w + 1]]
        h = np.uint64(0)
        for i in range(seg.shape[0]):
            h = h * _P + np.uint64(seg[i])
        out[w] = finish(h, seg.shape[0], seed)


@_jit
def sketch_ascii(data, offsets, ngram, mult, seed, a, b, out, nwords):  # pragma: no cover - compiled
    """Tokenise, hash words, build shingles and their MinHash over the bytes of each ASCII
    document (same words as ``\\w+`` on the lower-cased text, same hashes as
    :func:`curate.rules.minhash.shingle`); ``nwords[d]`` = its word count, ``-1`` if not ASCII.
    The words are hashed first, then the shingles folded and minimised: keeping the branchy
    tokeniser apart from the arithmetic is ~12% faster than doing both per word."""
    num_perm = a.shape[0]
    mins = np.empty(num_perm, dtype=np.uint64)
    words = np.empty(64, dtype=np.uint64)
    for d in range(offsets.shape[0] - 1):
        lo, hi = offsets[d], offsets[d + 1]
        if not is_ascii(data, lo, hi):
            nwords[d] = -1
            continue
        seg = data[lo:hi]
        n = seg.shape[0]
        if n // 2 + 2 > words.shape[0]:  # words are separated: at most (n + 1) // 2 of them
            words = np.empty(n // 2 + 2, dtype=np.uint64)
        count = 0
        joined = np.uint64(0)  # polynomial of the first words joined by single spaces (short texts)
        joined_len = 0
        h = np.uint64(0)
        length = 0
        for i in range(n + 1):
            c = _WORD[seg[i]] if i < n else 0  # 0: not a word character
            if c != 0:
                h = h * _P + np.uint64(c)
                length += 1
                continue
            if length == 0:
                continue
            if count < ngram:
                if count == 0:
                    joined = h
                    joined_len = length
                else:
                    joined = (joined * _P + _SPACE) * power(length) + h
                    joined_len += 1 + length
            words[count] = finish(h, length, seed)
            count += 1
            h = np.uint64(0)
            length = 0
        for j in range(num_perm):
            mins[j] = _TOP
        if count >= ngram:
            for k in range(count - ngram + 1):
                acc = np.uint64(0)
                for j in range(ngram):
                    acc += words[k + j] * mult[j]
                    acc ^= acc >> np.uint64(29)
                x = (acc ^ (acc >> _SHIFT)) & _MASK32
                for j in range(num_perm):
                    mins[j] = min(mins[j], x * a[j] + b[j])
        elif count > 0:  # fewer words than a shingle: the joined words are the one shingle
            hs = finish(joined, joined_len, seed + 1)
            x = (hs ^ (hs >> _SHIFT)) & _MASK32
            for j in range(num_perm):
                mins[j] = min(mins[j], x * a[j] + b[j])
        nwords[d] = count
        for j in range(num_perm):
            out[d, j] = np.uint32(mins[j] >> _SHIFT)


@_jit
def band_keys(sig, bands, rows, mult, out):  # pragma: no cover - compiled
    """``out[band, d]``: the LSH bucket key of each band of signature row ``d`` (the arithmetic
    of :func:`curate.rules.lsh._band_key`)."""
    golden = np.uint64(0x9E3779B97F4A7C15)
    for d in range(sig.shape[0]):
        for band in range(bands):
            key = np.uint64(band) * golden
            base = band * rows
            for j in range(rows):
                key = (key ^ np.uint64(sig[d, base + j])) * mult[j]
                key ^= key >> np.uint64(31)
            out[band, d] = key


@_jit
def _window(data, lo, hi, blob_chars):  # pragma: no cover - compiled
    """(length, spaces, others, blob) of ``data[lo:hi]``."""
    seg = data[lo:hi]
    spaces = 0
    others = 0
    blobs = 0
    run = 0
    for i in range(seg.shape[0]):  # branch-free: spaces are too frequent and too irregular to predict
        c = _CLASS[seg[i]]
        space = np.int64(c == 1)
        blobs += run * space * np.int64(run >= blob_chars)
        run = (run + 1) * (1 - space)
        spaces += space
        others += np.int64(c == 0)
    blobs += run * np.int64(run >= blob_chars)
    return hi - lo, spaces, others, blobs


@_jit
def text_stats_ascii(data, offsets, sample_chars, blob_chars, visible, other, blob, stripped):  # pragma: no cover
    """``mostly_non_text`` statistics of each ASCII text (:mod:`curate.rules.textstats`): what the
    rule's regular expressions give there (for ASCII, ``\\s`` is ``[\\t\\n\\v\\f\\r ]`` and ``\\p{L}``
    is ``[A-Za-z]``); ``visible[d] = -1`` for a text holding a non-ASCII byte."""
    for d in range(offsets.shape[0] - 1):
        lo, hi = offsets[d], offsets[d + 1]
        n = hi - lo
        if not is_ascii(data, lo, hi):
            visible[d] = -1
            continue
        seg = data[lo:hi]
        first, last = 0, n
        while first < n and _CLASS[seg[first]] == 1:
            first += 1
        while last > first and _CLASS[seg[last - 1]] == 1:
            last -= 1
        stripped[d] = last - first
        if sample_chars == 0 or n <= sample_chars:
            length, spaces, others, blobs = _window(data, lo, hi, blob_chars)
        else:  # three windows joined by single spaces (which end any run)
            w = max(1, sample_chars // 3)
            mid = max(0, n // 2 - w // 2)
            end = max(0, n - w)
            l1, s1, o1, b1 = _window(data, lo, lo + min(w, n), blob_chars)
            l2, s2, o2, b2 = _window(data, lo + mid, lo + min(mid + w, n), blob_chars)
            l3, s3, o3, b3 = _window(data, lo + end, lo + min(end + w, n), blob_chars)
            length, spaces, others, blobs = l1 + l2 + l3 + 2, s1 + s2 + s3 + 2, o1 + o2 + o3, b1 + b2 + b3
        visible[d] = length - spaces
        other[d] = others
        blob[d] = blobs


@_jit
def plain_rows(data, offsets, out):  # pragma: no cover - compiled
    """``out[d] = 1`` when text ``d`` holds only printable ASCII, tab, newline and carriage return
    (comparisons, not a table: the loop vectorises)."""
    for d in range(offsets.shape[0] - 1):
        seg = data[offsets[d]:offsets[d + 1]]
        bad = np.uint8(0)
        for i in range(seg.shape[0]):
            c = seg[i]
            bad |= np.uint8((c < 32) & (c != 9) & (c != 10) & (c != 13)) | np.uint8(c > 126)
        out[d] = 1 - bad


@_jit
def _space(c):  # pragma: no cover - compiled
    """1 for ASCII whitespace (``\\s``: tab, newline, vertical tab, form feed, carriage return,
    space), by comparisons (a table lookup would keep the callers' loops from vectorising)."""
    return np.uint8((c == 32) | (np.uint8(c - np.uint8(9)) <= np.uint8(4)))


@_jit
def normalise_ascii(data, offsets, out, out_offsets, wide):  # pragma: no cover - compiled
    """:func:`curate.rules.workspace.normalised_text` of each ASCII text (lower case, every
    whitespace run one space, stripped) written to ``out`` / ``out_offsets`` (Arrow large_string
    buffers; ``out`` needs two bytes more than ``data``); ``wide[d] = 1`` for a text holding a
    non-ASCII byte (left empty here).

    A first pass (vectorised) finds whether the text's whitespace is already normal (single
    spaces between words): then the text is copied in lower case (vectorised); else a branch-free
    pass writes both bytes and advances only for those that count."""
    pos = 0
    out_offsets[0] = 0
    for d in range(offsets.shape[0] - 1):
        seg = data[offsets[d]:offsets[d + 1]]
        n = seg.shape[0]
        bits = np.uint8(0)
        odd = np.uint8(0)  # whitespace other than a single space between words
        for i in range(1, n):
            c = seg[i]
            bits |= c
            odd |= _space(c) & (np.uint8(c != 32) | _space(seg[i - 1]))
        if n:
            bits |= seg[0]
            odd |= _space(seg[0]) | _space(seg[n - 1])
        if bits >= 128:
            wide[d] = 1
            out_offsets[d + 1] = pos
            continue
        if odd == 0:
            dst = out[pos:pos + n]
            for i in range(n):
                c = seg[i]
                dst[i] = c + np.uint8(32) * np.uint8(np.uint8(c - np.uint8(65)) <= np.uint8(25))
            pos += n
            out_offsets[d + 1] = pos
            continue
        start = pos
        gap = 0  # whitespace after some text: one space if more text follows
        for i in range(n):
            c = seg[i]
            space = np.int64(_CLASS[c] == 1)
            keep = 1 - space
            out[pos] = 32
            pos += gap * keep
            out[pos] = _LOWER[c]
            pos += keep
            gap = space * np.int64(pos > start)
        out_offsets[d + 1] = pos
