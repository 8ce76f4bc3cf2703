"""Near-duplicate matching for short texts, where word n-gram MinHash is weakest.

A chat message of eight words has six word 3-grams: one changed word moves its Jaccard similarity
a lot, and the MinHash estimate of so small a set is too noisy for LSH to find every pair. And
word order: "Is my transfer pending?" and "My transfer is pending." share no 3-gram at all. For
texts of at most ``short_words`` words (and :data:`CHARS_PER_WORD` characters per word) two
extra matches join the near-duplicate search:

- :func:`same_words`: texts with the same words in another order (equal sorted word lists) match
  outright.
- :func:`one_word_apart`: texts whose word sets differ by at most one word (one added, removed
  or replaced) are candidate pairs, found exactly through keys of the set and of the set minus
  each word; the caller verifies them like any other candidate (exact Jaccard on n-grams).

>>> texts = pl.Series(["is my transfer pending", "my transfer is pending", "hi can i get some food delivered now",
...                    "hi can i get some food delivered"])
>>> same_words(texts, 12)
(array([1]), array([0]))
>>> one_word_apart(texts, 12, min_words=3).rows()
[(0, 1), (2, 3)]
"""

from __future__ import annotations

import numpy as np
import polars as pl

from curate.rules.minhash import WORD_PATTERN

CHARS_PER_WORD = 40  # a "short" text of N words also has at most 40 N characters
MAX_BUCKET = 64  # keys shared by more texts (generic fragments) give no candidates


def _words(texts: pl.Series, short_words: int) -> pl.DataFrame:
    """``at`` (position in ``texts``) and ``w`` (the words) of the short texts."""
    short = (texts.str.len_chars() <= short_words * CHARS_PER_WORD).arg_true()
    words = texts.gather(short).str.extract_all(WORD_PATTERN)
    n = words.list.len()
    return pl.DataFrame({"at": short.cast(pl.Int64), "w": words}).filter((n > 0) & (n <= short_words))


def short_words_of(texts: pl.Series, short_words: int) -> pl.DataFrame:
    """The words of the short texts (computed once for both matches below)."""
    return _words(texts, short_words)


def same_words(texts: pl.Series, short_words: int, words: pl.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(pos, first)``: positions of short texts whose sorted words equal those of an earlier
    text, and the position of the first such text (``texts`` normalised, see
    :func:`curate.rules.workspace.normalised_text`; ``words`` from :func:`short_words_of`)."""
    bags = (_words(texts, short_words) if words is None else words).select("at", pl.col("w").list.sort().list.join(" ").alias("bag"))
    first = bags.select(pl.col("at").min().over("bag")).to_series()
    moved = (first != bags["at"]).to_numpy()
    return bags["at"].to_numpy()[moved], first.to_numpy()[moved]


def one_word_apart(texts: pl.Series, short_words: int, *, min_words: int = 1,
                   words: pl.DataFrame | None = None) -> pl.DataFrame:
    """Pairs ``(a, b)``, a < b, of short texts (at least ``min_words`` distinct words) whose word
    sets differ by at most one word. A set is keyed by the wrapping sum of its words' 64-bit
    hashes, and by that sum minus each word's hash: two sets one word apart share a key."""
    none = pl.DataFrame(schema={"a": pl.Int64, "b": pl.Int64})
    words = (_words(texts, short_words) if words is None else words).explode("w")
    if words.height == 0:
        return none
    at = words["at"].to_numpy()
    h = words["w"].hash(seed=11).to_numpy()
    order = np.lexsort((h, at))  # by text, then word hash: equal words of a text are adjacent
    at, h = at[order], h[order]
    first = np.r_[True, (at[1:] != at[:-1]) | (h[1:] != h[:-1])]
    at, h = at[first], h[first]
    starts = np.flatnonzero(np.r_[True, at[1:] != at[:-1]])
    sizes = np.diff(np.r_[starts, at.size])
    total = np.add.reduceat(h, starts)  # wraps modulo 2**64, which keeps it a set hash
    keep = np.repeat(sizes >= min_words, sizes)
    keys = pl.DataFrame({
        "at": np.r_[at[starts][sizes >= min_words], at[keep]],
        "k": np.r_[total[sizes >= min_words], (np.repeat(total, sizes) - h)[keep]],
    }).unique()
    shared = keys.filter(pl.len().over("k").is_between(2, MAX_BUCKET))
    if shared.height == 0:
        return none
    pairs = shared.join(shared, on="k", suffix="_b").select(pl.col("at").alias("a"), pl.col("at_b").alias("b"))
    return pairs.filter(pl.col("a") < pl.col("b")).unique().sort("a", "b")
