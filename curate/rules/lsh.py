"""LSH over MinHash signatures: band keys, candidate pairs, the near-duplicate search.

The signature half (shingles, word hashes, signatures, exact Jaccard, components) is
:mod:`curate.rules.minhash`; this module keys each chunk's signatures into LSH bands
(:class:`Sketcher`), turns shared band keys into candidate pairs, and verifies them
(:func:`near_duplicate_pairs`). A distributed engine computes :func:`band_keys` per block and groups
them like :func:`pairs_from_keys` (:data:`CandidatePairs`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import polars as pl

from curate.rules import minhash
from curate.rules._arrow import repeated
from curate.rules.minhash import (
    Shingles,
    _as_series,
    _odd_constants,
    chunk_signatures,
    components,
    exact_jaccard,
    kernels,
    shingle,
    shingle_sets,
    signature_chunks,
)

MAX_BUCKET_PAIRS = 64
PRE_REJECT_MARGIN = 0.2


class Sketcher:
    """LSH band keys of a list of documents for one ``(ngram, num_perm, seed)``, without holding
    their signatures: each chunk's signatures become the band keys of every planned ``(bands,
    rows)`` at once, then are dropped. Signatures and shingles are rebuilt for the documents a
    caller verifies."""

    def __init__(self, texts: list[str] | pl.Series, *, ngram: int = 3, num_perm: int = 128, seed: int = 1) -> None:
        self.texts = _as_series(texts)
        self.ngram, self.num_perm, self.seed = ngram, num_perm, seed
        self.planned: set[tuple[int, int]] = set()
        self._keys: dict[tuple[int, int], pl.DataFrame] = {}

    def keys(self, bands: int, rows: int) -> pl.DataFrame:
        """The band keys (:data:`KEYS_SCHEMA`) that two or more documents share."""
        if (bands, rows) not in self._keys:
            self._compute(sorted((self.planned | {(bands, rows)}) - set(self._keys)))
        return self._keys[(bands, rows)]

    def pairs(self, bands: int, rows: int) -> pl.DataFrame:
        return pairs_from_keys(self.keys(bands, rows))

    def _compute(self, configs: list[tuple[int, int]]) -> None:
        def keys(start: int, sig: np.ndarray, on: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
            sig = sig[on]  # in the worker thread: only the chunk's band keys reach this one
            return start + np.flatnonzero(on), [band_key_matrix(sig, bands, rows) for bands, rows in configs]

        chunks = list(signature_chunks(self.texts, ngram=self.ngram, num_perm=self.num_perm, seed=self.seed, then=keys))
        doc = np.concatenate([d for d, _ in chunks]) if chunks else np.zeros(0, np.int64)
        for c, (bands, rows) in enumerate(configs):
            parts = []
            for band in range(bands):  # one band's keys at a time: no second copy of the key matrices
                key = np.concatenate([m[c][band] for _, m in chunks]) if chunks else np.zeros(0, np.uint64)
                shared = repeated(key)
                parts.append(pl.DataFrame({"doc": doc[shared], "band": np.full(int(shared.sum()), band, np.int32),
                                           "k": key[shared]}, schema=KEYS_SCHEMA))
            for _, matrices in chunks:
                matrices[c] = None  # this setting's keys are done
            self._keys[(bands, rows)] = pl.concat(parts) if parts else pl.DataFrame(schema=KEYS_SCHEMA)

    def signatures(self, docs: np.ndarray) -> np.ndarray:
        """Signature rows of ``docs`` (sorted unique document indices)."""
        out = np.empty((docs.size, self.num_perm), dtype=np.uint32)
        for start in range(0, docs.size, minhash.CHUNK_DOCS):
            part = self.texts.gather(docs[start : start + minhash.CHUNK_DOCS])
            out[start : start + part.len()] = chunk_signatures(part, ngram=self.ngram, num_perm=self.num_perm,
                                                               seed=self.seed)[0]
        return out

    def shingles(self, docs: np.ndarray) -> Shingles:
        """Shingles of ``docs`` (document indices) keyed by their index in the whole list."""
        docs = np.unique(np.asarray(docs, dtype=np.int64))
        sh = shingle(self.texts.gather(docs), ngram=self.ngram, seed=self.seed)
        return Shingles(sh.hashes, docs[sh.doc], self.texts.len())


def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5, fn_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimising the weighted false positive/negative areas, as datasketch does."""
    xs = np.linspace(0.0, 1.0, 2001)

    def area(f: np.ndarray, lo: float, hi: float) -> float:
        m = (xs >= lo) & (xs <= hi)
        return float(np.trapezoid(f[m], xs[m])) if m.sum() > 1 else 0.0

    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            p = 1.0 - (1.0 - xs**r) ** b
            fp = area(p, 0.0, threshold)
            fn = area(1.0 - p, threshold, 1.0)
            err = fp * fp_weight + fn * fn_weight
            if err < best_err:
                best, best_err = (b, r), err
    return best


#: ``(texts, *, ngram, num_perm, seed, bands, rows) -> pairs``: candidate pairs of a distributed engine
CandidatePairs = Callable[..., pl.DataFrame]
KEYS_SCHEMA = {"doc": pl.Int64, "band": pl.Int32, "k": pl.UInt64}
PAIRS_SCHEMA = {"a": pl.Int64, "b": pl.Int64}


def _band_key(sig: np.ndarray, band: int, rows: int) -> np.ndarray:
    """The LSH bucket key of one band for every row of ``sig`` (uint64)."""
    mult = _odd_constants(rows, 99)
    chunk = sig[:, band * rows : (band + 1) * rows].astype(np.uint64)
    with np.errstate(over="ignore"):
        key = np.full(sig.shape[0], np.uint64(band) * np.uint64(0x9E3779B97F4A7C15), dtype=np.uint64)
        for j in range(rows):
            key = (key ^ chunk[:, j]) * mult[j]
            key ^= key >> np.uint64(31)
    return key


def band_key_matrix(sig: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """``(bands, len(sig))`` uint64: every band's key (:func:`_band_key`) of every signature row,
    a band per row of the result (contiguous), compiled when numba is present."""
    out = np.empty((bands, sig.shape[0]), dtype=np.uint64)
    fast = kernels()
    if fast is None or sig.shape[0] == 0:
        for band in range(bands):
            out[band] = _band_key(sig, band, rows)
        return out
    fast.band_keys(np.ascontiguousarray(sig), bands, rows, _odd_constants(rows, 99), out)
    return out


def keys_of(sig: np.ndarray, docs: np.ndarray, bands: int, rows: int) -> pl.DataFrame:
    """Band keys (``doc``, ``band``, ``k``) of the signature rows ``sig`` of documents ``docs``."""
    matrix = band_key_matrix(sig, bands, rows)
    parts = [pl.DataFrame({"doc": docs, "band": np.full(docs.size, band, np.int32), "k": matrix[band]},
                          schema=KEYS_SCHEMA) for band in range(bands)]
    return pl.concat(parts) if parts else pl.DataFrame(schema=KEYS_SCHEMA)


def band_keys(texts: list[str] | pl.Series, *, ngram: int = 3, num_perm: int = 128, seed: int = 1,
              bands: int, rows: int) -> pl.DataFrame:
    """LSH band keys of every document with at least one shingle: ``doc`` (position in ``texts``),
    ``band`` and ``k`` (uint64). Documents sharing a ``(band, k)`` bucket are candidate pairs
    (:func:`pairs_from_keys`). Row-local: the keys of a slice of the texts, with ``doc`` shifted
    by the slice's offset, equal the whole list's (what a distributed engine computes per block)."""
    parts = []
    for start, sig, on in signature_chunks(_as_series(texts), ngram=ngram, num_perm=num_perm, seed=seed):
        parts.append(keys_of(sig[on], start + np.flatnonzero(on).astype(np.int64), bands, rows))
    return pl.concat(parts).sort("band", "doc") if parts else pl.DataFrame(schema=KEYS_SCHEMA)


def pairs_from_keys(keys: pl.DataFrame) -> pl.DataFrame:
    """Candidate pairs ``(a, b)``, a < b, unique and sorted, of documents sharing a band bucket.

    All pairs inside small buckets; a big bucket (mass boilerplate) contributes a star around its
    smallest member plus a chain, which keeps the work linear and the components the same."""
    shared = keys.filter(pl.len().over("band", "k") > 1)
    if shared.height == 0:
        return pl.DataFrame(schema=PAIRS_SCHEMA)
    grouped = shared.group_by(["band", "k"]).agg(pl.col("doc").sort())
    size = pl.col("doc").list.len()
    small = grouped.filter(size <= MAX_BUCKET_PAIRS)
    big = grouped.filter(size > MAX_BUCKET_PAIRS)
    pieces = [
        small.select(pl.col("doc").alias("a"), pl.col("doc").alias("b"))
        .explode("a")
        .explode("b")
        .filter(pl.col("a") < pl.col("b"))
    ]
    if big.height:
        star = big.select(pl.col("doc").list.first().alias("a"), pl.col("doc").alias("b")).explode("b")
        chain = big.select(
            pl.col("doc").list.slice(0, pl.col("doc").list.len() - 1).alias("a"),
            pl.col("doc").list.slice(1).alias("b"),
        ).explode(["a", "b"])
        pieces += [star.filter(pl.col("a") < pl.col("b")), chain]
    return pl.concat(pieces).unique().sort(["a", "b"]).cast(PAIRS_SCHEMA)


def candidate_pairs(sig: np.ndarray, bands: int, rows: int, active: np.ndarray | None = None) -> pl.DataFrame:
    """Pairs ``(a, b)`` with a < b sharing at least one LSH band bucket."""
    idx = np.arange(sig.shape[0], dtype=np.int64) if active is None else np.flatnonzero(active).astype(np.int64)
    return pairs_from_keys(keys_of(sig[idx], idx, bands, rows))


def near_duplicate_pairs(
    texts: list[str] | pl.Series,
    *,
    threshold: float = 0.8,
    ngram: int = 3,
    num_perm: int = 128,
    seed: int = 1,
    bands: tuple[int, int] | None = None,
    sketches: dict[tuple[int, int, int], Sketcher] | None = None,
    spanning: bool = False,
    plan: Sequence[tuple[int, int]] = (),
    candidates: CandidatePairs | None = None,
) -> pl.DataFrame:
    """Verified pairs ``(a, b, jaccard)`` of document indices with Jaccard >= ``threshold``.

    With ``spanning`` only enough verified pairs to connect the same components are returned
    (for grouping; far less work when documents come in large clusters of near-copies).

    ``sketches`` caches the :class:`Sketcher` per ``(ngram, num_perm, seed)`` so that several
    thresholds over the same texts (near_duplicate at 0.8, label_conflict at 0.9) sketch them
    once; ``plan`` names every ``(bands, rows)`` those thresholds will ask for, all computed in
    the first pass. ``candidates`` replaces the local band keys and buckets (a distributed
    engine's, see :data:`CandidatePairs`); it must return exactly :func:`pairs_from_keys` of
    :func:`band_keys`.
    """
    key = (ngram, num_perm, seed)
    sk = sketches.get(key) if sketches is not None else None
    if sk is None:
        sk = Sketcher(texts, ngram=ngram, num_perm=num_perm, seed=seed)
        if sketches is not None:
            sketches[key] = sk
    sk.planned.update(plan)
    schema = {"a": pl.Int64, "b": pl.Int64, "jaccard": pl.Float64}
    b, r = bands or lsh_params(threshold, num_perm)
    if candidates is not None:
        pairs = candidates(sk.texts, ngram=ngram, num_perm=num_perm, seed=seed, bands=b, rows=r)
    else:
        pairs = sk.pairs(b, r)
    if pairs.height == 0:
        return pl.DataFrame(schema=schema)
    # drop candidates whose MinHash estimate is far below the threshold (0.2 is > 5 standard
    # deviations of the estimate at 128 permutations), then verify the rest exactly
    a_idx, b_idx = pairs["a"].to_numpy(), pairs["b"].to_numpy()
    docs = np.unique(np.concatenate([a_idx, b_idx]))
    sig = sk.signatures(docs)
    estimate = (sig[np.searchsorted(docs, a_idx)] == sig[np.searchsorted(docs, b_idx)]).mean(axis=1)
    del sig
    pairs = pairs.with_columns(pl.Series("estimate", estimate)).filter(pl.col("estimate") >= threshold - PRE_REJECT_MARGIN)
    sh = sk.shingles(np.concatenate([pairs["a"].to_numpy(), pairs["b"].to_numpy()]))
    if spanning:
        return _spanning_pairs(sh, pairs, threshold).select(list(schema)).cast(schema)
    pairs = pairs.with_columns(exact_jaccard(sh, pairs))
    return pairs.filter(pl.col("jaccard") >= threshold - 1e-12).select(list(schema)).cast(schema)


def _spanning_pairs(sh: Shingles, pairs: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Verified pairs that join the same components as all verified pairs would, checking far
    fewer: a cluster of m near-identical documents yields m(m-1)/2 candidates but needs m-1 edges.

    First a spanning forest of the candidates (most similar first) is verified; then every
    remaining candidate that still joins two different verified components. A true pair left out
    joins documents already connected by verified pairs, so the components are the same.
    """
    candidates = pairs.sort("estimate", descending=True, maintain_order=True)
    a_all, b_all = candidates["a"].to_numpy(), candidates["b"].to_numpy()
    parent = np.arange(sh.n_docs, dtype=np.int64)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = int(parent[x])
        return x

    forest = []
    for i, (x, y) in enumerate(zip(a_all.tolist(), b_all.tolist(), strict=True)):
        rx, ry = find(x), find(y)
        if rx != ry:
            parent[max(rx, ry)] = min(rx, ry)
            forest.append(i)
    sets = shingle_sets(sh)
    first = candidates[forest]
    first = first.with_columns(exact_jaccard(sh, first, sets)).filter(pl.col("jaccard") >= threshold - 1e-12)
    comp = components(sh.n_docs, first["a"].to_numpy(), first["b"].to_numpy())
    rest = candidates.filter(pl.Series(comp[a_all] != comp[b_all]))
    rest = rest.with_columns(exact_jaccard(sh, rest, sets)).filter(pl.col("jaccard") >= threshold - 1e-12)
    return pl.concat([first, rest]).sort(["a", "b"])


@lru_cache(maxsize=64)
def lsh_params(threshold: float, num_perm: int) -> tuple[int, int]:
    """LSH banding for the threshold. Weighted towards recall (fn 0.9 / fp 0.1) because every
    candidate is verified exactly, so false positives only cost time: at 128 permutations a pair
    exactly at 0.8 is a candidate with probability 0.87 (14 bands of 9; 0.63 with the 11 x 11 of
    fn 0.7), at 0.9 with 0.81 (8 x 16; 0.54 with 6 x 20). On BANKING77 (13,083 queries) that finds 194 of the 205
    pairs at Jaccard >= 0.8 instead of 159-182, for the same time."""
    return optimal_bands(threshold, num_perm, fp_weight=0.1, fn_weight=0.9)
