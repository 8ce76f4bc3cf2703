"""Field-by-field match of a JSON answer against the reference object (extraction tasks).

The reference ``item[REFERENCE_KEY]`` is an object, or a string holding one (curate exports the
canonical JSON text). The answer is the model's JSON object: with ANSWER_FROM "json" the value of
``output_json[ANSWER_KEY]``, with "whole" the whole output, with "auto" ``output[ANSWER_KEY]`` when
the output has that key and the reference does not, else the whole output. Both sides are flattened
to leaf fields (``a.b`` for nested objects); a field matches when the values are equal: strings
after Unicode case folding and whitespace collapsing (CASE_SENSITIVE keeps case), numbers within
NUMBER_TOLERANCE, lists as lists of such values in any order.

SCORE "mean": the share of reference fields the answer gets right (extra answer fields cost
nothing). SCORE "f1": F1 of the right fields over the answer's and the reference's fields, so extra
fields cost precision. Two empty objects score 1.0. Malformed samples score 0.0, never raise.
"""

import json
import math

from curate.graders.sources._answer import final_answer  # curate:inline

ANSWER_KEY = "answer"
REFERENCE_KEY = "reference_answer"
ANSWER_FROM = "auto"
EXTRACT_ANSWER = True
SCORE = "mean"
CASE_SENSITIVE = False
NUMBER_TOLERANCE = 1e-09


def _object(value):
    """``value`` as a dict: a dict itself, or a string holding a JSON object; else None."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


def _norm(value):
    """A comparable form of a leaf value (hashable)."""
    if isinstance(value, bool) or value is None:
        return ("const", value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    if isinstance(value, str):
        text = " ".join(value.split())
        return ("text", text if CASE_SENSITIVE else text.casefold())
    if isinstance(value, list):
        return ("list", tuple(sorted((_norm(v) for v in value), key=repr)))
    return ("object", json.dumps(value, sort_keys=True, ensure_ascii=False))


def _flatten(obj, prefix, out):
    for key, value in obj.items():
        path = prefix + str(key)
        if isinstance(value, dict) and value:
            _flatten(value, path + ".", out)
        else:
            out[path] = _norm(value)
    return out


def _same(a, b):
    if a[0] == "number" and b[0] == "number":
        return math.isclose(a[1], b[1], rel_tol=0.0, abs_tol=NUMBER_TOLERANCE) or a[1] == b[1]
    return a == b


def _answer(sample, reference):
    if not isinstance(sample, dict):
        return None
    text = sample.get("output_text")
    output = sample.get("output_json")
    if EXTRACT_ANSWER and isinstance(text, str):
        output = _object(final_answer(text))
    if not isinstance(output, dict):
        return None
    if ANSWER_FROM == "whole":
        return output
    inner = _object(output.get(ANSWER_KEY)) if ANSWER_KEY in output else None
    if ANSWER_FROM == "json" or (inner is not None and ANSWER_KEY not in reference):
        return inner
    return output


def grade(sample, item):
    """Share (or F1) of reference fields the answer matches, in [0, 1]."""
    reference = _object(item.get(REFERENCE_KEY)) if isinstance(item, dict) else None
    if reference is None:
        return 0.0
    answer = _answer(sample, reference)
    if answer is None:
        return 0.0
    want = _flatten(reference, "", {})
    got = _flatten(answer, "", {})
    if not want and not got:
        return 1.0
    hits = sum(1 for path, value in want.items() if path in got and _same(got[path], value))
    recall = hits / len(want) if want else 0.0
    if SCORE == "mean":
        return recall
    precision = hits / len(got) if got else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0
