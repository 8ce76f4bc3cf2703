"""Compiled per-text character statistics for ``mostly_non_text`` (``text_stats_ascii`` in
:mod:`curate.rules._nb`), loaded lazily; ``None`` without numba (``pip install 'curate[fast]'``).

It makes one pass over the raw bytes of each ASCII text and gives what the rule's regular
expressions give there; texts holding a non-ASCII byte are marked ``-1`` and left to the
expressions (:mod:`curate.rules.textstats`).
"""

from __future__ import annotations

from curate.rules._minhash_kernel import kernels


def kernel():
    k = kernels()
    return None if k is None else k.text_stats_ascii
