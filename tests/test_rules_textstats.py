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


def test_not_plain_compiled_equals_the_regex(monkeypatch):
    from curate.rules import _minhash_kernel

    texts = pl.concat([corpus(), pl.Series("t", ["bell\x07", "del\x7f", "tab\tnl\ncr\r", "vt\x0b", "~ ok", "\x85"])])
    monkeypatch.setattr(textstats, "CHUNK_ROWS", 37)
    fast = textstats.not_plain(texts)
    expected = texts.str.contains(textstats.PLAIN_PATTERN).fill_null(False).arg_true()
    assert fast.to_list() == expected.to_list() and 0 < fast.len() < texts.len()
    monkeypatch.setattr(_minhash_kernel, "kernels", lambda: None)
    assert textstats.not_plain(texts).to_list() == expected.to_list()


def test_screened_row_rules_find_the_same_with_the_plain_prefilter(monkeypatch):
    """mojibake, control_chars and mixed_script skip plain texts: their findings equal a scan of
    every text (the rules' own expressions on all rows)."""
    from curate.rules import RuleContext, evaluate_rules
    from curate.rules.base import RowRule

    texts = corpus().to_list() + ["cafÃ© au lait", "bell\x07 here", "pаypal with a Cyrillic a", "plain words"]
    frame = pl.DataFrame({"line": range(1, len(texts) + 1), "id": [str(i) for i in range(len(texts))], "text": texts})
    rules = [{"rule": "mojibake"}, {"rule": "control_chars"}, {"rule": "mixed_script"}]
    fast = evaluate_rules(frame, rules, context=RuleContext()).findings
    monkeypatch.setattr(RowRule, "candidates", lambda self, context: None)  # no screening at all
    slow = evaluate_rules(frame, rules, context=RuleContext()).findings
    assert fast.equals(slow) and set(fast["rule"]) == {"mojibake", "control_chars", "mixed_script"}


def test_normalised_text_compiled_equals_the_expressions_and_stats_follow(monkeypatch):
    """The compiled pass over ASCII texts normalises as the polars definition does (whitespace
    runs, \x0b/\x0c/\x1c-\x1f, case, padding); normalised_stats hashes and measures it, chunked
    or not, with or without numba."""
    from curate.rules import _minhash_kernel, workspace
    from curate.rules.workspace import (
        NORM_SEED,
        _normalised_polars,
        normalised_stats,
        normalised_text,
    )

    rng = np.random.default_rng(11)
    alphabet = list("aB \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f.Z") + ["\u00a0", "É", "\u2003", "Ｆ"]
    extra = ["".join(rng.choice(alphabet[:15] if rng.random() < 0.8 else alphabet, size=int(rng.integers(0, 40))).tolist())
             for _ in range(500)]
    texts = pl.concat([corpus(), pl.Series("t", ["  Hello   World ", "hello world", "HELLO\tWORLD", "", None, "   "] + extra)])
    expected = _normalised_polars(texts)
    got = normalised_text(texts)
    assert got.to_list() == expected.to_list() and got.name == texts.name
    assert normalised_text(texts.slice(13, 200)).to_list() == expected.slice(13, 200).to_list()  # offset buffers
    at = len(corpus())
    assert got[at] == got[at + 1] == got[at + 2] == "hello world"
    for kernel in (True, False):
        if not kernel:
            monkeypatch.setattr(_minhash_kernel, "kernels", lambda: None)
            assert normalised_text(texts).to_list() == expected.to_list()
        monkeypatch.setattr(workspace, "NORM_CHUNK", 41)
        hashes, lengths = normalised_stats(texts)
        assert hashes.to_list() == expected.hash(seed=NORM_SEED).to_list(), kernel
        assert lengths.to_list() == expected.str.len_chars().to_list(), kernel


def test_kernel_threads_follow_omp_num_threads(monkeypatch):
    from curate import _threads

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _threads.threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "nonsense")
    assert 1 <= _threads.threads() <= 8
    calls = []
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert [out for _, out in _threads.ordered_map(lambda x: calls.append(x) or x + 1, range(4))] == [1, 2, 3, 4]
    assert calls == [0, 1, 2, 3]
