"""The keep band and the exact early-stopping rule of adaptive sampling.

Scores are scaled to [0, 1]. An item is kept when the mean of its ``n`` samples lies in the closed
band ``[lo, hi]``. After ``k`` of ``n`` samples with score sum ``s``, the remaining ``n - k`` samples
each add between 0 and 1, so the final mean can only lie in ``[s / n, (s + n - k) / n]``. When that
reachable range lies entirely inside the band (keep) or entirely above or below it (too easy, too
hard), no remaining sample can change the decision: sampling stops. The rule is exact, so adaptive
sampling makes the same decisions as fixed ``n`` on the same responses (the cache keys each sample
by its index, so the first ``k`` samples are the same ones).

>>> decided(2.0, 3, 5, (0.1, 0.9))   # right, right, wrong: the mean ends in [0.4, 0.8]
'keep'
>>> decided(2.0, 2, 5, (0.1, 0.9)) is None   # [0.4, 1.0]: could still end too easy
True
>>> decided(5.0, 5, 5, (0.1, 0.9)), decided(0.0, 5, 5, (0.1, 0.9))
('too_easy', 'too_hard')
"""

from __future__ import annotations

KEEP, TOO_EASY, TOO_HARD = "keep", "too_easy", "too_hard"
EPS = 1e-9  # float slack when comparing means with the band's ends


def band_of(mean: float, band: tuple[float, float]) -> str:
    """``keep`` when ``lo <= mean <= hi``, else ``too_easy`` (above) or ``too_hard`` (below)."""
    lo, hi = band
    if mean > hi + EPS:
        return TOO_EASY
    if mean < lo - EPS:
        return TOO_HARD
    return KEEP


def decided(total: float, k: int, n: int, band: tuple[float, float]) -> str | None:
    """The decision once it cannot change (see the module docstring), else None."""
    low, high = total / n, (total + (n - k)) / n
    first, last = band_of(low, band), band_of(high, band)
    return first if first == last else None
