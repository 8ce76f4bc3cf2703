"""Numeric answer within a tolerance of ``item[REFERENCE_KEY]``.

The answer is ``sample.output_json[ANSWER_KEY]`` (or ``sample.output_text`` when ANSWER_KEY is
None): a number, or a string holding one ("1,234.5" and "42 %" work). Scores 1.0 when
``|answer - reference| <= TOLERANCE`` (or ``<= TOLERANCE * |reference|`` when RELATIVE), else 0.0.
Malformed samples score 0.0, never raise.
"""

import math
import re

ANSWER_KEY = "answer"
REFERENCE_KEY = "reference_answer"
TOLERANCE = 1e-06
RELATIVE = False

_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?")


def _number(value):
    """The finite float in ``value``, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        match = _NUMBER.search(value.replace(",", "").replace("_", ""))
        if match is None:
            return None
        number = float(match.group())
    else:
        return None
    return number if math.isfinite(number) else None


def grade(sample, item):
    """1.0 when the answer is within tolerance of the reference, else 0.0."""
    if not isinstance(sample, dict) or not isinstance(item, dict):
        return 0.0
    if ANSWER_KEY is None:
        answer = sample.get("output_text")
    else:
        output = sample.get("output_json")
        answer = output.get(ANSWER_KEY) if isinstance(output, dict) else None
    got, want = _number(answer), _number(item.get(REFERENCE_KEY))
    if got is None or want is None:
        return 0.0
    limit = TOLERANCE * abs(want) if RELATIVE else TOLERANCE
    return 1.0 if abs(got - want) <= limit else 0.0
