"""Text similarity metrics the local runner computes (``fuzzy_match``).

``fuzzy_ratio`` is the normalised Indel similarity, the same number as ``rapidfuzz.fuzz.ratio / 100``:
``1 - (insertions + deletions) / (len(a) + len(b))``, computed with a bit-parallel LCS.

>>> fuzzy_ratio("kitten", "sitting")
0.6153846153846154
>>> fuzzy_ratio("", "")
1.0
"""

from __future__ import annotations

LOCAL_METRICS = ("fuzzy_match",)


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (Hyyrö's bit-vector algorithm)."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    masks: dict[str, int] = {}
    for i, ch in enumerate(b):
        masks[ch] = masks.get(ch, 0) | (1 << i)
    full = (1 << len(b)) - 1
    v = full
    for ch in a:
        u = v & masks.get(ch, 0)
        v = ((v + u) | (v - u)) & full
    return len(b) - v.bit_count()


def fuzzy_ratio(a: str, b: str) -> float:
    """Similarity in [0, 1]; 1.0 for two empty strings."""
    total = len(a) + len(b)
    if total == 0:
        return 1.0
    return 2 * lcs_length(a, b) / total
