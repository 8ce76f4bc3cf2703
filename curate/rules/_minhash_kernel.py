"""The hash constants shared by the numpy paths and the compiled kernels, and the accessor of the
kernels (:mod:`curate.rules._nb`, loaded lazily; ``None`` without numba: ``pip install 'curate[fast]'``).

The MinHash kernels there: ``minhash_rows`` (every permutation of a document in one pass over its
shingles, the arithmetic of :func:`curate.rules.minhash.signatures`, equal bit for bit),
``hash_words`` (:func:`curate.rules.minhash.word_hashes`), ``sketch_ascii`` (tokenise, hash words,
build shingles and their MinHash over the raw bytes of ASCII documents; same words as ``\\w+`` on
the lower-cased text, same hashes as :func:`curate.rules.minhash.shingle`) and ``band_keys``.
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
