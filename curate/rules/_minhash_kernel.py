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
from types import ModuleType

P = 0x100000001B3  # polynomial base of the byte hash (the FNV prime)
K_LEN = 0x9E3779B97F4A7C15
K_SEED = 0xC2B2AE3D27D4EB4F


@lru_cache(maxsize=1)
def kernels() -> ModuleType | None:
    """The compiled kernels (:mod:`curate.rules._nb`), or ``None`` without numba."""
    try:
        from curate.rules import _nb
    except ImportError:
        return None
    return _nb


def kernel():
    """The compiled ``minhash_rows(x, starts, rows, a, b, out)`` or None without numba.

    Document ``d`` owns ``x[starts[d]:starts[d + 1]]`` (32-bit folded shingle hashes); its
    signature goes to ``out[rows[d]]``."""
    k = kernels()
    return None if k is None else k.minhash_rows
