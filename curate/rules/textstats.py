"""Per-text character statistics of ``mostly_non_text``: one compiled pass over ASCII texts, the
rule's regular expressions elsewhere, equal results. Also which texts are not plain (:func:`not_plain`).

- ``visible``: characters of the sample that are not whitespace (the sample is the text, or three
  windows of ``sample_chars // 3`` characters at its start, middle and end joined by spaces);
- ``other``: visible characters of the sample that are not letters (``[^\\p{L}\\s]``);
- ``blob``: characters of the sample in unbroken runs of ``blob_chars`` or more non-whitespace;
- ``stripped``: characters of the whole text without surrounding whitespace.

>>> text_stats(pl.Series(["ab 12", "  x  ", None, "é!"]), sample_chars=1200, blob_chars=40).rows()
[(4, 2, 0, 5), (1, 0, 0, 1), (0, 0, 0, 0), (2, 1, 0, 2)]
"""

from __future__ import annotations

import numpy as np
import polars as pl

STATS = ("visible", "other", "blob", "stripped")
STRUCT = pl.Struct({name: pl.Int64 for name in STATS})
CHUNK_ROWS = 65_536  # rows converted to Arrow buffers at a time


def expressions(text: pl.Expr, *, sample_chars: int, blob_chars: int) -> list[pl.Expr]:
    """The statistics as polars expressions over ``text`` (the definition)."""
    text = text.fill_null("")
    if sample_chars == 0:
        sample = text
    else:
        w = max(1, sample_chars // 3)
        n = text.str.len_chars()
        mid = (n // 2 - w // 2).clip(lower_bound=0)
        end = (n - w).clip(lower_bound=0)
        windows = pl.concat_str([text.str.slice(0, w), text.str.slice(mid, w), text.str.slice(end, w)], separator=" ")
        sample = pl.when(n <= sample_chars).then(text).otherwise(windows)
    length = sample.str.len_chars()
    # whitespace = spaces + other whitespace: counting the literal space is far cheaper than \s
    visible = length - sample.str.count_matches(" ", literal=True) - sample.str.count_matches(r"[^\S ]")
    return [
        visible.cast(pl.Int64).alias("visible"),
        sample.str.count_matches(r"[^\p{L}\s]").cast(pl.Int64).alias("other"),
        (length - sample.str.replace_all(f"\\S{{{blob_chars},}}", "").str.len_chars()).cast(pl.Int64).alias("blob"),
        text.str.strip_chars().str.len_chars().cast(pl.Int64).alias("stripped"),
    ]


def text_stats(texts: pl.Series, *, sample_chars: int, blob_chars: int) -> pl.DataFrame:
    """The statistics of every text (Int64 columns :data:`STATS`)."""
    from curate.rules._text_kernel import kernel

    fast = kernel()
    if fast is None:
        return texts.to_frame("t").select(expressions(pl.col("t"), sample_chars=sample_chars, blob_chars=blob_chars))
    from curate.rules._arrow import buffers, chunked

    def one(chunk: pl.Series) -> pl.DataFrame:
        data, offsets = buffers(chunk)
        out = {name: np.zeros(chunk.len(), dtype=np.int64) for name in STATS}
        fast(data, offsets, sample_chars, blob_chars, *out.values())
        frame = pl.DataFrame(out)
        wide = pl.Series(out["visible"] < 0).arg_true()
        if wide.len():  # texts with a non-ASCII character: the expressions
            slow = chunk.gather(wide).to_frame("t").select(
                expressions(pl.col("t"), sample_chars=sample_chars, blob_chars=blob_chars))
            frame = pl.DataFrame({name: frame[name].scatter(wide, slow[name]) for name in STATS})
        return frame

    return pl.concat(chunked(texts, CHUNK_ROWS, one))


def text_stats_struct(texts: pl.Series, *, sample_chars: int, blob_chars: int) -> pl.Series:
    """:func:`text_stats` as one struct column (for a rule's helper stage)."""
    return text_stats(texts, sample_chars=sample_chars, blob_chars=blob_chars).to_struct(texts.name)


PLAIN_PATTERN = r"[^\t\n\r\x20-\x7E]"  # a character that is not plain


def not_plain(texts: pl.Series) -> pl.Series:
    """Positions (UInt32) of the texts holding a character other than printable ASCII, tab,
    newline and carriage return: one compiled pass over the bytes, else the regex
    :data:`PLAIN_PATTERN`. Null texts are plain.

    >>> not_plain(pl.Series(["plain text\tok", "café", None, "bell\x07"])).to_list()
    [1, 3]
    """
    from curate.rules._minhash_kernel import kernels

    fast = kernels()
    if fast is None:
        return texts.str.contains(PLAIN_PATTERN).fill_null(False).arg_true()
    from curate.rules._arrow import buffers, chunked

    def one(chunk: pl.Series) -> np.ndarray:
        data, offsets = buffers(chunk)
        out = np.empty(chunk.len(), dtype=np.uint8)
        fast.plain_rows(data, offsets, out)
        return out

    plain = np.concatenate(chunked(texts, CHUNK_ROWS, one))[: texts.len()]
    return pl.Series(np.flatnonzero(plain == 0).astype(np.uint32))
