"""Normalised text only where it can matter.

The dataset rules ``normalized_duplicate`` and ``label_conflict`` and the train/validation overlap
use the normalised text (:func:`curate.rules.workspace.normalised_text`: NFKC, lower case, whitespace
runs to one space, stripped) only to find rows that share it. Two texts share it only if they share
its two ends, and the ends are cheap: NFKC never joins a character with an ASCII character that
follows it, lower case is one character at a time (but for the final sigma, which the key folds),
and whitespace runs and stripping only look at neighbours, so normalising the first (last)
:data:`SLICE_CHARS` characters of a text cut just before an ASCII character gives a prefix (suffix)
of its normalised text. :func:`norm_ends` computes these ends for long texts and the normalised text
of the others; the caller completes the normalised text of the rows whose ends repeat
(:func:`with_ends`, :func:`complete_norm`).

>>> found = norm_ends(pl.Series(["A  Text\\n", "a text", "x" * 900]))
>>> found["norm"].to_list()
['a text', 'a text', None]
>>> with_ends(found["norm"], found["ends"]).is_duplicated().to_list()
[True, True, False]
"""

from __future__ import annotations

import polars as pl

from curate.rules.workspace import normalised_text

SLICE_CHARS = 256  # characters normalised at each end of a long text
LONG_CHARS = 3 * SLICE_CHARS  # longer texts are cut
ENDS_CHARS = 96  # characters of each end of the normalised text in the key


def _fold(texts: pl.Series) -> pl.Series:
    # lower case maps a capital sigma to a final or a medial sigma depending on its neighbours,
    # which a cut can change: the key treats both as one
    return texts.str.replace_all("ς", "σ", literal=True)


def _ends(head: pl.Series, tail: pl.Series) -> pl.Series:
    return _fold(head).str.slice(0, ENDS_CHARS) + "\n" + _fold(tail).str.slice(-ENDS_CHARS)


def norm_ends(texts: pl.Series) -> pl.DataFrame:
    """``norm``, the normalised text, and, where only its ends were computed (``norm`` null),
    ``ends``: a key of its first and last :data:`ENDS_CHARS` characters (see :func:`with_ends`)."""
    texts = texts.fill_null("")
    whole = texts.str.len_chars() <= LONG_CHARS
    ends = pl.Series("ends", [None] * len(texts), dtype=pl.String)
    cut = (~whole).arg_true()
    if not len(cut):
        return pl.DataFrame([normalised_text(texts).alias("norm"), ends])
    long = texts.gather(cut)
    head = normalised_text(long.str.slice(0, SLICE_CHARS))
    tail = normalised_text(long.str.slice(-SLICE_CHARS))
    ok = (
        (long.str.slice(SLICE_CHARS, 1).str.len_bytes() == 1)  # the cuts are before ASCII characters
        & (long.str.slice(-SLICE_CHARS, 1).str.len_bytes() == 1)
        & (head.str.len_chars() >= ENDS_CHARS)  # and each end fills its part of the key
        & (tail.str.len_chars() >= ENDS_CHARS)
    )
    ends = ends.scatter(cut.filter(ok), _ends(head.filter(ok), tail.filter(ok)))
    if not ok.all():  # normalise these whole
        whole = whole.scatter(cut.filter(~ok), True)
    norm = pl.Series("norm", [None] * len(texts), dtype=pl.String)
    rows = whole.arg_true()
    if len(rows):
        norm = norm.scatter(rows, normalised_text(texts.gather(rows)))
    return pl.DataFrame([norm, ends])


def with_ends(norm: pl.Series, ends: pl.Series) -> pl.Series:
    """``ends`` completed from ``norm`` where it is null: equal normalised texts have equal ends."""
    missing = ends.is_null().arg_true()
    if not len(missing):
        return ends
    full = norm.gather(missing)
    return ends.clone().scatter(missing, _ends(full, full))


def complete_norm(norm: pl.Series, texts: pl.Series, rows: pl.Series) -> pl.Series:
    """``norm`` with the normalised text filled in at the positions ``rows`` where it is null."""
    missing = rows.filter(norm.gather(rows).is_null())
    if not len(missing):
        return norm
    return norm.clone().scatter(missing, normalised_text(texts.gather(missing)))
