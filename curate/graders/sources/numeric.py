"""Numeric answer within a tolerance of ``item[REFERENCE_KEY]``.

The answer is read by ``read_answer`` (ANSWER_FROM "json": ``sample.output_json[ANSWER_KEY]``;
"text": the output text; "auto": the JSON field when the output is a JSON object that has it, else
the text; EXTRACT_ANSWER reads the final answer after ``</think>`` and inside a fenced code block
first). It is a number, or a string holding one: "1,234.5", "1e3", "1/2" and "42 %" work, and in a
longer text the last number counts ("x = 3, so the answer is 42" reads 42). Scores 1.0 when
``|answer - reference| <= TOLERANCE`` (or ``<= TOLERANCE * |reference|`` when RELATIVE), else 0.0.
Malformed samples score 0.0, never raise.
"""

import math
import re

from curate.graders.sources._answer import read_answer  # curate:inline

ANSWER_KEY = "answer"
REFERENCE_KEY = "reference_answer"
ANSWER_FROM = "json"
EXTRACT_ANSWER = True
TOLERANCE = 1e-06
RELATIVE = False

_REAL = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER = re.compile(rf"({_REAL})(?:\s*/\s*({_REAL}))?")


def _number(value):
    """The finite float in ``value`` (the last number of a string), or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        matches = _NUMBER.findall(value.replace(",", "").replace("_", ""))
        if not matches:
            return None
        top, bottom = matches[-1]
        try:
            number = float(top) / float(bottom) if bottom else float(top)
        except (ZeroDivisionError, OverflowError):
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def grade(sample, item):
    """1.0 when the answer is within tolerance of the reference, else 0.0."""
    if not isinstance(sample, dict) or not isinstance(item, dict):
        return 0.0
    answer = read_answer(sample, ANSWER_KEY, ANSWER_FROM, EXTRACT_ANSWER)
    got, want = _number(answer), _number(item.get(REFERENCE_KEY))
    if got is None or want is None:
        return 0.0
    limit = TOLERANCE * abs(want) if RELATIVE else TOLERANCE
    return 1.0 if abs(got - want) <= limit else 0.0
