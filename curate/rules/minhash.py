"""Near-duplicate search, the MinHash half: shingles, signatures, exact Jaccard, components.
(Banding, candidate pairs and the search itself are :mod:`curate.rules.lsh`.)

1. Texts are normalised (NFKC, lower case), split into words, and every ``ngram`` consecutive words
   form a shingle hashed to 64 bits (numpy, per word hashes combined positionally).
2. ``num_perm`` MinHash values per document come from multiply-add-shift hashing of the shingle
   hashes (a numba kernel, one pass per document; without numba numpy, one pass per permutation
   and ``np.minimum.reduceat``). Steps 1-2 run ``CHUNK_DOCS`` documents at a time, so only the
   signatures of all documents are held; shingles are rebuilt for the candidates verified.
3. (:mod:`curate.rules.lsh`) Signatures are cut into ``bands`` bands of ``rows`` values (chosen like datasketch's
   ``MinHashLSH`` for the threshold); documents sharing a band bucket are candidates (polars
   group-by on the band hash).
4. (:mod:`curate.rules.lsh`) Candidates whose signature estimate is far below the threshold (by more than 0.2) are dropped;
   the rest are verified with the exact Jaccard similarity of their shingle sets (polars joins),
   so no false positives survive; union-find turns pairs into groups.

Everything is seeded, so results are deterministic.

>>> texts = ["the quick brown fox jumps over the lazy dog today",
...          "the quick brown fox jumps over the lazy dog today!",
...          "an entirely different sentence about regulations and duties"]
>>> from curate.rules.lsh import near_duplicate_pairs
>>> near_duplicate_pairs(texts, threshold=0.8, ngram=3).rows()
[(0, 1, 1.0)]
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import polars as pl

from curate.rules._arrow import buffers as _buffers
from curate.rules._arrow import ordered_map
from curate.rules._minhash_kernel import K_LEN, K_SEED, P, kernel, kernels

_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)
WORD_PATTERN = r"\w+"
CHUNK_DOCS = 8192


@dataclass(frozen=True)
class Shingles:
    """Flat shingle hashes of a list of documents: ``hashes[offsets[i]:offsets[i+1]]`` is doc i."""

    hashes: np.ndarray  # uint64
    doc: np.ndarray  # int64, document index of each hash
    n_docs: int


def normalise(texts: pl.Series) -> pl.Series:
    """NFKC and lower case. ASCII texts (as many bytes as characters) are NFKC-stable, so only
    the others are normalised: the same output, without the cost on mostly-ASCII corpora."""
    texts = texts.fill_null("")
    wide = (texts.str.len_bytes() != texts.str.len_chars()).arg_true()
    if len(wide):
        texts = texts.scatter(wide, texts.gather(wide).str.normalize("NFKC"))
    return texts.str.to_lowercase()


def shingle(texts: list[str] | pl.Series, ngram: int = 3, seed: int = 1) -> Shingles:
    """Word ``ngram`` shingles of every text, hashed to uint64 (short texts give one shingle)."""
    series = pl.Series("t", texts, dtype=pl.String) if not isinstance(texts, pl.Series) else texts
    n_docs = series.len()
    words = (
        normalise(series)
        .str.extract_all(WORD_PATTERN)
        .alias("w")
        .to_frame()
        .with_row_index("doc")
        .explode("w")
        .drop_nulls("w")
    )
    if words.height == 0:
        return Shingles(np.zeros(0, np.uint64), np.zeros(0, np.int64), n_docs)
    doc = words["doc"].cast(pl.Int64).to_numpy()
    wh = word_hashes(words["w"], seed)
    n = wh.shape[0]
    k = max(1, ngram)
    # combine k consecutive word hashes with distinct odd multipliers (wrap-around uint64)
    mult = _odd_constants(k, seed)
    acc = np.zeros(n, dtype=np.uint64)
    valid_len = n - k + 1
    if valid_len > 0:
        acc = np.zeros(valid_len, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(k):
                acc += wh[j : j + valid_len] * mult[j]
                acc ^= acc >> np.uint64(29)
        ok = doc[: valid_len] == doc[k - 1 : k - 1 + valid_len]
        hashes, hdoc = acc[ok], doc[:valid_len][ok]
    else:
        hashes, hdoc = np.zeros(0, np.uint64), np.zeros(0, np.int64)
    # documents with fewer than k words: one shingle made of all their words
    counts = np.bincount(doc, minlength=n_docs)
    short = np.flatnonzero((counts > 0) & (counts < k))
    if short.size:
        sw = words.filter(pl.col("doc").is_in(short.tolist()))
        agg = sw.group_by("doc").agg(pl.col("w").str.join(" ")).sort("doc")
        extra = word_hashes(agg["w"], seed + 1)
        hashes = np.concatenate([hashes, extra])
        hdoc = np.concatenate([hdoc, agg["doc"].cast(pl.Int64).to_numpy()])
        order = np.argsort(hdoc, kind="stable")
        hashes, hdoc = hashes[order], hdoc[order]
    return Shingles(hashes, hdoc, n_docs)


def _finish(h: np.ndarray, length: np.ndarray, seed: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = h ^ (length.astype(np.uint64) * np.uint64(K_LEN)) ^ (np.uint64(seed) * np.uint64(K_SEED))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def word_hashes(words: pl.Series, seed: int) -> np.ndarray:
    """64-bit hash of each string's UTF-8 bytes: a polynomial in base ``P`` (wrapping uint64), then
    splitmix64 of it, the length and ``seed``. The compiled kernels compute the same values."""
    data, offsets = _buffers(words)
    n = offsets.size - 1
    out = np.empty(n, dtype=np.uint64)
    if n == 0:
        return out
    fast = kernels()
    if fast is not None:
        fast.hash_words(data, offsets, np.uint64(seed), out)
        return out
    lengths = np.diff(offsets)
    first, total = int(offsets[0]), int(offsets[-1] - offsets[0])
    h = np.zeros(n, dtype=np.uint64)
    if total:
        powers = np.cumprod(np.full(int(lengths.max()), P, dtype=np.uint64), dtype=np.uint64)
        powers = np.concatenate([np.ones(1, np.uint64), powers])
        owner = np.repeat(np.arange(n), lengths)
        from_end = offsets[1:][owner] - 1 - np.arange(first, first + total)
        with np.errstate(over="ignore"):
            terms = data[first : first + total].astype(np.uint64) * powers[from_end]
        nonempty = np.flatnonzero(lengths > 0)
        h[nonempty] = np.add.reduceat(terms, (offsets[:-1] - first)[nonempty])
    return _finish(h, lengths, seed)


@lru_cache(maxsize=16)
def _odd_constants(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(1, 2**63, size=n, dtype=np.uint64) | np.uint64(1)


def signatures(sh: Shingles, num_perm: int = 128, seed: int = 1, compiled: bool = True) -> np.ndarray:
    """MinHash signature matrix (n_docs x num_perm, uint32); empty documents get all-max rows.

    With numba installed (``compiled``) every permutation of a document is computed in one pass
    over its shingles (:mod:`curate.rules._minhash_kernel`); the numpy path gives equal output.
    """
    a, b = _permutations(num_perm, seed)
    out = np.full((sh.n_docs, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    if sh.hashes.size == 0:
        return out
    # fold each 64-bit shingle hash to 32 bits, then a 2-universal multiply-add-shift family
    x = (sh.hashes ^ (sh.hashes >> _SHIFT32)) & _MASK32
    starts = np.flatnonzero(np.r_[True, sh.doc[1:] != sh.doc[:-1]])
    docs = sh.doc[starts]
    fast = kernel() if compiled else None
    if fast is not None:
        fast(x, np.r_[starts, x.size].astype(np.int64), docs.astype(np.int64), a, b, out)
        return out
    buf = np.empty(x.size, dtype=np.uint64)
    mins = np.empty((num_perm, starts.size), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(num_perm):  # one contiguous pass per permutation is the fastest layout
            np.multiply(x, a[j], out=buf)
            buf += b[j]
            mins[j] = np.minimum.reduceat(buf, starts)
    # ``>> 32`` is monotone, so taking the high half after the minimum equals minimising it
    out[docs] = (mins >> _SHIFT32).astype(np.uint32).T
    return out


@lru_cache(maxsize=16)
def _permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + 7)
    a = rng.integers(1, 2**63, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=num_perm, dtype=np.uint64)
    return a, b


def chunk_signatures(texts: pl.Series, *, ngram: int = 3, num_perm: int = 128, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(signatures, active)`` of a few thousand texts (raw: normalised here). With numba, ASCII
    texts go through one fused pass over their bytes (:mod:`curate.rules._minhash_kernel`) and
    only the others are shingled; without it every text is. Equal output either way."""
    n = texts.len()
    fast = kernels()
    if fast is None:
        sh = shingle(texts, ngram=ngram, seed=seed)
        return signatures(sh, num_perm=num_perm, seed=seed), np.bincount(sh.doc, minlength=n) > 0
    k = max(1, ngram)
    a, b = _permutations(num_perm, seed)
    data, offsets = _buffers(texts)
    sig = np.empty((n, num_perm), dtype=np.uint32)
    nwords = np.empty(n, dtype=np.int64)
    fast.sketch_ascii(data, offsets, k, _odd_constants(k, seed), np.uint64(seed), a, b, sig, nwords)
    wide = np.flatnonzero(nwords < 0)
    if wide.size:
        sh = shingle(texts.gather(wide), ngram=ngram, seed=seed)
        sig[wide] = signatures(sh, num_perm=num_perm, seed=seed)
        nwords[wide] = np.bincount(sh.doc, minlength=wide.size)
    return sig, nwords > 0


def signature_chunks(texts: pl.Series, *, ngram: int = 3, num_perm: int = 128, seed: int = 1,
                     then: Callable[[int, np.ndarray, np.ndarray], Any] | None = None) -> Iterator[Any]:
    """``(start, signatures, active)`` of every ``CHUNK_DOCS`` texts from ``start``, in order,
    computed on all cores (:func:`ordered_map`): only a few chunks' shingles exist at once. With
    ``then``, ``then(start, signatures, active)`` is computed in the worker thread and yielded
    instead (the signatures then need not outlive their chunk)."""
    def work(start: int) -> Any:
        sig, active = chunk_signatures(texts.slice(start, CHUNK_DOCS), ngram=ngram, num_perm=num_perm, seed=seed)
        return (start, sig, active) if then is None else then(start, sig, active)

    for _, out in ordered_map(work, range(0, texts.len(), CHUNK_DOCS)):
        yield out


def _as_series(texts: list[str] | pl.Series) -> pl.Series:
    return pl.Series("t", texts, dtype=pl.String) if not isinstance(texts, pl.Series) else texts


_MIX = 0x9E3779B97F4A7C15


def shingle_sets(sh: Shingles) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each document's distinct shingles keyed by (document, shingle), and the set sizes."""
    with np.errstate(over="ignore"):
        key = sh.hashes ^ (sh.doc.astype(np.uint64) * np.uint64(_MIX))
    sets = pl.DataFrame({"doc": sh.doc, "h": sh.hashes, "key": key}).unique("key")
    return sets, sets.group_by("doc").agg(pl.len().alias("n"))


def exact_jaccard(sh: Shingles, pairs: pl.DataFrame,
                  sets: tuple[pl.DataFrame, pl.DataFrame] | None = None) -> pl.Series:
    """Exact Jaccard similarity of the shingle sets of each pair (row order of ``pairs``).

    Membership is tested with one uint64 key per (document, shingle), so the intersection is a
    single-column semi join. ``sets`` (:func:`shingle_sets`) can be passed when called repeatedly.
    """
    if pairs.height == 0:
        return pl.Series("jaccard", [], dtype=pl.Float64)
    mix = _MIX
    sets, sizes = sets or shingle_sets(sh)
    p = pairs.select("a", "b").with_row_index("pid")
    left = p.join(sets.select("doc", "h"), left_on="a", right_on="doc").with_columns(
        (pl.col("h") ^ (pl.col("b").cast(pl.UInt64) * pl.lit(mix, dtype=pl.UInt64))).alias("key")
    )
    inter = left.join(sets.select("key"), on="key", how="semi").group_by("pid").agg(pl.len().alias("i"))
    i = pl.col("i").fill_null(0)
    out = (
        p.join(inter, on="pid", how="left")
        .join(sizes.rename({"doc": "a", "n": "na"}), on="a", how="left")
        .join(sizes.rename({"doc": "b", "n": "nb"}), on="b", how="left")
        .sort("pid")
        .select((i / (pl.col("na").fill_null(0) + pl.col("nb").fill_null(0) - i)).fill_nan(0.0).alias("jaccard"))
    )
    return out["jaccard"]


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of an undirected graph: each node gets the smallest node of its
    component (vectorised min-label propagation with pointer jumping).

    >>> components(5, np.array([0, 3]), np.array([2, 4])).tolist()
    [0, 1, 0, 3, 3]
    """
    label = np.arange(n, dtype=np.int64)
    if a.size == 0:
        return label
    a = a.astype(np.int64)
    b = b.astype(np.int64)
    while True:
        m = np.minimum(label[a], label[b])
        new = label.copy()
        np.minimum.at(new, a, m)
        np.minimum.at(new, b, m)
        while True:  # pointer jumping
            jumped = new[new]
            if np.array_equal(jumped, new):
                break
            new = jumped
        if np.array_equal(new, label):
            return label
        label = new


_LSH_NAMES = ("CandidatePairs", "KEYS_SCHEMA", "MAX_BUCKET_PAIRS", "PAIRS_SCHEMA", "PRE_REJECT_MARGIN", "Sketcher",
              "band_keys", "candidate_pairs", "keys_of", "lsh_params", "near_duplicate_pairs", "optimal_bands",
              "pairs_from_keys")


def __getattr__(name: str) -> Any:
    """The LSH half (:mod:`curate.rules.lsh`) under its old address."""
    if name in _LSH_NAMES:
        from curate.rules import lsh

        return getattr(lsh, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

