"""Multi-label score (F-beta, precision or recall) of ``sample.output_json[ANSWER_KEY]`` against
``item[REFERENCE_KEY]``.

curate templates the constants below when it builds a grader; the rest is plain stdlib Python, so
the same text runs in the platform sandbox, in curate's local runner and when imported directly.
Robust by design: empty output, non-JSON, JSON null, wrong types and missing keys score 0.0.
METRIC is "f1", "fbeta", "precision" or "recall". Labels compare as sets of exact strings; both
sets empty scores 1.0, exactly one empty 0.0.
"""

ANSWER_KEY = "labels"
REFERENCE_KEY = "reference_answer"
METRIC = "f1"
BETA = 1.0


def _label_set(value):
    """The set of non-empty string labels in ``value`` (a list), or None when it is not a list."""
    if not isinstance(value, list):
        return None
    return {v.strip() for v in value if isinstance(v, str) and v.strip()}


def grade(sample, item):
    """Score in [0, 1]; never raises on malformed samples or items."""
    output = sample.get("output_json") if isinstance(sample, dict) else None
    if not isinstance(output, dict):
        return 0.0
    predicted = _label_set(output.get(ANSWER_KEY))
    if predicted is None:
        return 0.0
    reference = _label_set(item.get(REFERENCE_KEY) if isinstance(item, dict) else None) or set()
    if not predicted and not reference:
        return 1.0
    if not predicted or not reference:
        return 0.0
    hits = len(predicted & reference)
    precision = hits / len(predicted)
    recall = hits / len(reference)
    if METRIC == "precision":
        return precision
    if METRIC == "recall":
        return recall
    beta2 = (1.0 if METRIC == "f1" else float(BETA)) ** 2
    denominator = beta2 * precision + recall
    if denominator <= 0:
        return 0.0
    return (1 + beta2) * precision * recall / denominator
