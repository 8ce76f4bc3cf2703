"""mostly_non_text's character statistics: the compiled pass over ASCII texts equals the rule's
regular expressions on every kind of text, and the rule decides the same either way."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from curate.rules import textstats
from curate.rules.textstats import STATS, expressions, text_stats


def corpus() -> pl.Series:
    rng = np.random.default_rng(5)
    alphabet = list("abcXYZ019 _-.,;:!?\t\n\r\x0b\x0c/=+") + ["é", "ß", "Ж", "日", "\u00a0", "\u2003", "\u0085"]
    texts = ["", " ", "   padded   ", "\t\ttabs\n", "a" * 39, "b" * 40, "c" * 41 + " " + "d" * 80,
             "x" * 5000, "0123456789 " * 300, "base64:" + "QUJD" * 200, "mixed é " * 200, None, "日本語" * 500]
    for _ in range(300):
        n = int(rng.integers(0, 3000))
        texts.append("".join(rng.choice(alphabet[:27] if rng.random() < 0.7 else alphabet, size=n).tolist()))
    return pl.Series("t", texts, dtype=pl.String)


@pytest.mark.parametrize(("sample_chars", "blob_chars"), [(1200, 40), (0, 8), (90, 10), (3, 40)])
def test_compiled_statistics_equal_the_expressions(sample_chars, blob_chars, monkeypatch):
    texts = corpus()
    expected = texts.to_frame().select(expressions(pl.col("t"), sample_chars=sample_chars, blob_chars=blob_chars))
    monkeypatch.setattr(textstats, "CHUNK_ROWS", 37)  # many chunks, each with ASCII and other texts
    got = text_stats(texts, sample_chars=sample_chars, blob_chars=blob_chars)
    for name in STATS:  # a null text has no statistics in the expressions, zeros here: both pass the rule
        assert got[name].to_list() == expected[name].fill_null(0).to_list(), name


def test_mostly_non_text_decides_the_same_with_and_without_the_kernel(monkeypatch):
    from curate.rules import _text_kernel
    from curate.rules.text import MostlyNonText

    frame = corpus().to_frame("text")
    rule = MostlyNonText()
    fast = rule.check(frame)
    monkeypatch.setattr(_text_kernel, "kernel", lambda: None)
    slow = rule.check(frame)
    assert fast.to_list() == slow.to_list() and 0 < fast.sum() < len(fast)
