"""Rules on reference answers of open-answer tasks (``text``, ``number``, ``json``, ``math``).

They run only for answer kinds (``task = "answer"``; label tasks have no ``answer`` column and skip
them) and read the frame contract's ``answer`` (canonical answer as text) and ``answer_norm`` (the
kind's comparison key, null when unreadable):

- ``empty_answer`` (error): the reference answer is empty or whitespace only.
- ``answer_conflict`` (error): the same or near-same input with different normalised answers;
  every member is rejected by default, as ``label_conflict`` does. Copies with the same answer are
  the duplicate rules' business (``duplicate``, ``normalized_duplicate`` compare ``answer_norm``
  for answer tasks), which keep the first.
- ``answer_in_prompt`` (warn): the reference appears in the prompt text, a free reward. Text and
  math answers match on whole words of the normalised text (case, punctuation and spacing
  folded), numbers as a number token of equal value ("1,000" in the prompt matches 1000, "14" does
  not match 4); answers shorter than ``min_chars`` ("yes", "4") are not searched. JSON answers are
  not searched (extraction copies values from the prompt by design).
- ``overlong_answer`` (error): an answer far longer than the dataset's typical answer (a pasted
  paragraph), judged like ``unusual_length`` on the answer's length.
- ``unverifiable_answer`` (error): a math reference that does not parse, so no grader can verify
  an output against it.

>>> import polars as pl
>>> from curate.kinds import get_kind
>>> from curate.rules import RuleContext, evaluate_rules
>>> frame = pl.DataFrame({"text": ["What is the capital of France?", "Name the capital of France.", "Spell 'Paris'."],
...                       "answer": ["Paris", "Lyon", "Paris"], "answer_norm": ["paris", "lyon", "paris"]})
>>> ctx = RuleContext(kind=get_kind("text"))
>>> evaluate_rules(frame, [{"rule": "answer_in_prompt"}], context=ctx).findings.select("line", "value").rows()
[(3, 'Paris')]
"""

from __future__ import annotations

import polars as pl

from curate.frame import ANSWER, ANSWER_NORM, TEXT, WARN
from curate.kinds.number import number_values
from curate.kinds.text import text_key
from curate.options import Param
from curate.rules.base import DatasetRule, RowRule
from curate.rules.duplicates import LabelConflict
from curate.rules.length import length_findings

_ANSWER = pl.col(ANSWER)
# a number token: digits with optional thousands separators, a fraction and an exponent
_NUMBER_TOKEN = r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][+-]?\d+)?"


def _kind_name(context) -> str | None:
    return getattr(context.kind, "name", None)


class EmptyAnswer(RowRule):
    task = "answer"
    name = "empty_answer"
    field = ANSWER
    message = "the reference answer is empty or whitespace only"

    def passes(self, context):
        return _ANSWER.fill_null("").str.contains(r"\S")


class AnswerConflict(LabelConflict):
    """The same (``match: exact``/``normalized``) or near-same (``near``) input with different
    normalised answers (``answer_norm``: case, spacing, punctuation and Unicode for text, the value
    for numbers, canonical JSON, symbolic equivalence for math). ``resolve`` as for
    ``label_conflict``. Rows whose answer cannot be read take no part (``unparseable_answer``).
    The workspace's target key is ``answer_norm`` in answer tasks, so the grouping is shared."""

    task = "answer"
    name = "answer_conflict"
    field = ANSWER
    message = "the same or near-same input appears with different answers"
    what = "answers"


class AnswerInPrompt(RowRule):
    """The reference answer appears in the prompt: the model can copy it (a free reward)."""

    task = "answer"
    name = "answer_in_prompt"
    field = ANSWER
    severity_default = WARN
    params = (Param("min_chars", int, 3, low=1),)
    message = "the reference answer appears in the prompt (a free reward)"

    def stages(self, context):
        kind = _kind_name(context)
        if kind == "number":
            value = number_values(_ANSWER)
            tokens = pl.col(TEXT).fill_null("").str.extract_all(_NUMBER_TOKEN)
            # the answer's value among the prompt's number tokens ("1,000" reads as 1000)
            found = tokens.list.eval(number_values(pl.element().str.replace_all(",", "", literal=True))).list.contains(value)
            long_enough = _ANSWER.str.replace_all(r"[^0-9]", "").str.len_chars() >= self.min_chars
            return [{"_answer_in_prompt": long_enough & value.is_not_null() & found}]
        if kind in ("text", "math"):
            answer = text_key(_ANSWER.fill_null(""))
            prompt = pl.concat_str([pl.lit(" "), text_key(pl.col(TEXT).fill_null("")), pl.lit(" ")])
            needle = pl.concat_str([pl.lit(" "), answer, pl.lit(" ")])
            long_enough = (_ANSWER.str.strip_chars().str.len_chars() >= self.min_chars) & (answer != "")
            return [{"_answer_in_prompt": long_enough & prompt.str.contains(needle, literal=True)}]
        return [{"_answer_in_prompt": pl.lit(False)}]

    def passes(self, context):
        return ~pl.col("_answer_in_prompt")

    def value(self, context):
        return _ANSWER


class OverlongAnswer(DatasetRule):
    """An answer far longer than the dataset's typical answer (a pasted paragraph): its length
    is above ``exp(median(log n) + z · 1.4826 · MAD(log n))`` (see :mod:`curate.rules.length`)."""

    task = "answer"
    name = "overlong_answer"
    field = ANSWER
    data_relative = True
    params = (
        Param("z", float, 3.5, low=1.0),
        Param("min_spread", float, 0.25, low=0.0),
        Param("min_rows", int, 20, low=2),
    )
    message = "the answer is far longer than this dataset's typical answer"

    def evaluate(self, frame, context, ws):
        return length_findings(self, frame, ANSWER, "answer", "long")


class UnverifiableAnswer(RowRule):
    """A math reference that does not parse (its ``answer_norm`` is null): graders cannot check
    an output's equivalence against it."""

    task = "answer"
    name = "unverifiable_answer"
    field = ANSWER
    message = "the math reference answer does not parse, so no grader can verify an output against it"

    def passes(self, context):
        if _kind_name(context) != "math":
            return pl.lit(True)
        return pl.col(ANSWER_NORM).is_not_null() | ~_ANSWER.fill_null("").str.contains(r"\S")

    def value(self, context):
        return _ANSWER


__all__ = ["AnswerConflict", "AnswerInPrompt", "EmptyAnswer", "OverlongAnswer", "UnverifiableAnswer"]
