"""Row rules on the input text: empty, too long, broken encoding, control characters, mostly
non-text content, words mixing scripts (homoglyphs). Length judged against the dataset is in
:mod:`curate.rules.length`.

>>> import polars as pl
>>> from curate.rules import RuleContext
>>> frame = pl.DataFrame({"text": ["fine text", "cafÃ© au lait"]})
>>> Mojibake().check(frame).to_list()
[True, False]
"""

from __future__ import annotations

import polars as pl

from curate.frame import TEXT, WARN
from curate.options import Param
from curate.rules.base import RowRule
from curate.rules.tokens import counter_name, token_counter

# A UTF-8 lead byte read as cp1252/latin-1 (Ã Â â Ð Ñ Ø Ù ...) followed by a character that a
# continuation byte (0x80-0xBF) becomes in cp1252 or latin-1. Plain English or legal text never
# has these pairs; mis-decoded UTF-8 is full of them. U+FFFD marks bytes already lost.
_CONT = (
    "\u0080-\u00bf\u20ac\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152"
    "\u017d\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u017e\u0178"
)
MOJIBAKE_PATTERN = f"[\u00c2\u00c3\u00c5\u00c4\u00c6\u00ce\u00cf\u00d0\u00d1\u00e2\u0102\u0139][{_CONT}]|\ufffd"
# C0 controls except tab, newline, carriage return; DEL; C1 controls
CONTROL_PATTERN = r"[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]"


class EmptyText(RowRule):
    name = "empty_text"
    message = "text is empty or whitespace only"

    def passes(self, context):
        return pl.col(TEXT).fill_null("").str.contains(r"\S")  # \S: not Unicode White_Space, as strip_chars


class MaxChars(RowRule):
    name = "max_chars"
    params = (Param("max", int, 20000, low=1),)
    message = "text is longer than {max} characters"

    def passes(self, context):
        return pl.col(TEXT).str.len_chars() <= self.max

    def value(self, context):
        return pl.col(TEXT).str.len_chars()


class MaxTokens(RowRule):
    """Token count: exact when :mod:`curate.rules.tokens` can count ``encoding`` offline
    (``tokenizer: auto``: bpe-openai, a cached tiktoken encoding, or ``file:tokenizer.json``),
    otherwise ``ceil(chars / chars_per_token)``; the message says which."""

    name = "max_tokens"
    severity_default = WARN
    params = (
        Param("max", int, 8000, low=1),
        Param("tokenizer", str, "auto", choices=("auto", "estimate")),
        Param("encoding", str, "o200k_base"),
        Param("chars_per_token", float, 4.0, low=0.5),
    )
    message = "text is longer than {max} tokens"

    def _tokens(self) -> pl.Expr:
        per_token = self.chars_per_token
        if self.tokenizer != "auto":
            return (pl.col(TEXT).str.len_chars() / per_token).ceil().cast(pl.Int64)
        limit, encoding = self.max, self.encoding

        def screened(texts: pl.Series) -> pl.Series:
            # a token is at least one byte: texts of at most ``max`` bytes pass without tokenising
            # (their value is then the byte count, an upper bound that is never reported). With at
            # least a character per token the estimate passes them too, so when no text is longer
            # the tokenizer is not even loaded (loading o200k_base takes over a second).
            out = texts.str.len_bytes().cast(pl.Int64)
            long = (out > limit).arg_true()
            if long.len() == 0 and per_token >= 1:
                return out
            count = token_counter(encoding)
            if count is None:
                return (texts.str.len_chars() / per_token).ceil().cast(pl.Int64)
            return out.scatter(long, count(texts.gather(long))) if long.len() else out

        return pl.col(TEXT).map_batches(screened, return_dtype=pl.Int64)

    def passes(self, context):
        return self._tokens() <= self.max

    def value(self, context):
        return self._tokens()

    def message_expr(self, context):
        exact = counter_name(self.encoding) if self.tokenizer == "auto" else None
        how = f"tokens ({exact})" if exact else f"tokens (estimated at {self.chars_per_token:g} characters per token)"
        return f"text is longer than {self.max} {how}"


class Mojibake(RowRule):
    name = "mojibake"
    plain_passes = True  # every pattern needs a non-ASCII character
    params = (Param("min_hits", int, 1, low=1),)
    message = "text looks mis-decoded (UTF-8 read as cp1252/latin-1, or U+FFFD replacement characters)"

    def passes(self, context):
        return pl.col(TEXT).str.count_matches(MOJIBAKE_PATTERN) < self.min_hits

    def candidates(self, context):
        return MOJIBAKE_PATTERN  # min_hits >= 1: a failing text matches at least once

    def value(self, context):
        return pl.col(TEXT).str.extract(f"(.{{0,12}}(?:{MOJIBAKE_PATTERN}).{{0,12}})", 1)


class ControlChars(RowRule):
    name = "control_chars"
    plain_passes = True  # plain text has no control character but tab, newline, carriage return
    message = "text contains control characters (other than tab and newline)"

    def passes(self, context):
        return ~pl.col(TEXT).str.contains(CONTROL_PATTERN)

    def candidates(self, context):
        return CONTROL_PATTERN

    def value(self, context):
        first = pl.col(TEXT).str.extract(f"({CONTROL_PATTERN})", 1)
        return pl.format("UTF-8 bytes {}", first.str.encode("hex"))


class MostlyNonText(RowRule):
    """Too few letters among the visible characters (tables of numbers, symbol soup, markup) or
    mostly long unbroken tokens (base64, hex, URLs). Measured on a sample of up to
    ``sample_chars`` characters: three equal windows at the start, middle and end (0 = all text)."""

    name = "mostly_non_text"
    params = (
        Param("min_letter_ratio", float, 0.5, low=0.0, high=1.0),
        Param("max_blob_ratio", float, 0.5, low=0.0, high=1.0),
        Param("blob_chars", int, 40, low=8),
        Param("min_chars", int, 20, low=0),
        Param("sample_chars", int, 1200, low=0),
    )
    message = "mostly non-text content: under {min_letter_ratio:.0%} letters, or over {max_blob_ratio:.0%} in unbroken runs of {blob_chars}+ characters"

    def stages(self, context):
        from functools import partial

        from curate.rules.textstats import STRUCT, text_stats_struct

        stats = partial(text_stats_struct, sample_chars=self.sample_chars, blob_chars=self.blob_chars)
        return [{"_mostly_non_text_stats": pl.col(TEXT).map_batches(stats, return_dtype=STRUCT)}]

    @staticmethod
    def _stat(name: str) -> pl.Expr:
        return pl.col("_mostly_non_text_stats").struct.field(name)

    def passes(self, context):
        visible = self._stat("visible")
        letters = visible - self._stat("other")
        return (self._stat("stripped") < self.min_chars) | (
            (letters >= self.min_letter_ratio * visible) & (self._stat("blob") <= self.max_blob_ratio * visible)
        )

    def value(self, context):
        visible = self._stat("visible")
        letters = visible - self._stat("other")
        return pl.format("letters {}, long runs {}", (letters / visible).round(2), (self._stat("blob") / visible).round(2))


__all__ = ["EmptyText", "MixedScript", "MaxChars", "MaxTokens", "Mojibake", "ControlChars", "MostlyNonText"]


# Greek and Cyrillic letters that look like Latin ones, and Latin letters that look like Greek or
# Cyrillic ones (homoglyphs). Lower-case Greek letters other than omicron are left out: "TNFα",
# "NF-κB" and "μg" are ordinary scientific words, not disguised ones.
_GC_LOOKALIKE = "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧοАВЕЅІЈКМНОРСТХаеорсухѕіјһԁӏ"
_LATIN_LOOKALIKE = "ABCEHIJKMNOPSTXYZabceijopsxy"
_LETTER = r"[\p{L}\p{M}]"
_GC = r"[\p{Greek}\p{Cyrillic}]"
# a word with a Latin letter and a Greek/Cyrillic look-alike ("pаypal" with a Cyrillic а), or a
# Greek/Cyrillic word whose only Latin letters are look-alikes ("EΠΙΤΡΟΠΗ" with a Latin E)
_LAT = f"[{_LATIN_LOOKALIKE}]"
_GREEKISH = f"[\\p{{Greek}}\\p{{Cyrillic}}{_LATIN_LOOKALIKE}]"
MIXED_SCRIPT_PATTERN = (
    f"\\p{{Latin}}{_LETTER}*[{_GC_LOOKALIKE}]|[{_GC_LOOKALIKE}]{_LETTER}*\\p{{Latin}}"
    # at least two Greek/Cyrillic letters, so "κB" in "NF-κB" is not one
    f"|(?:^|[^\\p{{L}}\\p{{M}}]){_GREEKISH}*(?:{_GC}{_GREEKISH}*{_GC}{_GREEKISH}*{_LAT}|{_GC}{_GREEKISH}*{_LAT}{_GREEKISH}*{_GC}"
    f"|{_LAT}{_GREEKISH}*{_GC}{_GREEKISH}*{_GC}){_GREEKISH}*(?:[^\\p{{L}}\\p{{M}}]|$)"
)
_MIXED_WORD = f"{_LETTER}*(?:\\p{{Latin}}{_LETTER}*{_GC}|{_GC}{_LETTER}*\\p{{Latin}}){_LETTER}*"


class MixedScript(RowRule):
    """A word mixing Latin letters with Greek or Cyrillic look-alikes (homoglyphs): text copied
    through OCR or keyboards of another script, or disguised on purpose. Two texts that read the
    same then differ for duplicate search, tokenisers and graders."""

    name = "mixed_script"
    plain_passes = True  # needs a Greek or Cyrillic letter
    severity_default = WARN
    message = "a word mixes Latin letters with Greek or Cyrillic look-alikes (homoglyphs)"

    def passes(self, context):
        return ~pl.col(TEXT).str.contains(MIXED_SCRIPT_PATTERN)

    def candidates(self, context):
        return _GC  # every failing text has a Greek or Cyrillic letter

    def value(self, context):
        return pl.col(TEXT).str.extract(f"({_MIXED_WORD})", 1)
