"""Case-insensitive exact match of the answer against ``item[REFERENCE_KEY]``.

The answer is ``sample.output_json[ANSWER_KEY]`` (or ``sample.output_text`` when ANSWER_KEY is
None). Text is compared after Unicode case folding and whitespace collapsing; lists compare as
sorted lists of such strings, so order does not matter. Malformed samples score 0.0, never raise.
"""

ANSWER_KEY = "labels"
REFERENCE_KEY = "reference_answer"


def _norm(value):
    """Normalised comparable form of a string, number or list; None when not comparable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return " ".join(value.casefold().split())
    if isinstance(value, (int, float)):
        return " ".join(str(value).casefold().split())
    if isinstance(value, list):
        parts = [_norm(v) for v in value]
        if any(p is None or isinstance(p, tuple) for p in parts):
            return None
        return tuple(sorted(parts))
    return None


def grade(sample, item):
    """1.0 when the normalised answer equals the normalised reference, else 0.0."""
    if not isinstance(sample, dict) or not isinstance(item, dict):
        return 0.0
    if ANSWER_KEY is None:
        answer = sample.get("output_text")
    else:
        output = sample.get("output_json")
        answer = output.get(ANSWER_KEY) if isinstance(output, dict) else None
    got, want = _norm(answer), _norm(item.get(REFERENCE_KEY))
    if got is None or want is None:
        return 0.0
    return 1.0 if got == want else 0.0
