"""Grader self-test: checks that need no model and run before any request is paid for.

1. **Reference**: each item's reference answer, given as the sample, must score the grader's
   maximum. Items where it does not are listed (a broken grader, or a reference the grader
   cannot read).
2. **Malformed outputs** (empty, not JSON, null, wrong types, missing keys, cut short, very long)
   must get a valid score: no grader error, a finite number within the grader's range.
3. **Perturbed references** (drop one label, add one wrong label) must score strictly between the
   minimum and the maximum: the grader gives partial credit, a continuous signal.

>>> src = "def grade(sample, item):\\n    return 1.0 if sample['output_json'] == {'labels': item['reference_answer']} else 0.0"
>>> from curate.dryrun.grading import open_grader
>>> with open_grader({"type": "python", "name": "exact", "source": src}, workers=0) as g:
...     result = self_test(g, [{"id": "a", "reference_answer": ["x", "y"]}], AnswerFormat(labels=("x", "y", "z")))
>>> result["passed"], [p["kind"] for p in result["perturbed"]["failures"]]
(False, ['drop_label', 'add_label'])
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from curate.dryrun.outdir import AnswerFormat

PERTURB_ITEMS = 50  # items checked with perturbed references (each kind)
TOLERANCE = 1e-9


def malformed_samples(answer: AnswerFormat) -> dict[str, str]:
    """Outputs a sampled model may produce that the grader must survive, by case name."""
    key = answer.key
    return {
        "empty": "",
        "not_json": "The document is about trade and agriculture.",
        "null": "null",
        "json_list": '["trade"]',
        "json_number": "42",
        "missing_key": "{}",
        "answer_null": f'{{"{key}": null}}',
        "answer_string": f'{{"{key}": "trade"}}',
        "answer_object": f'{{"{key}": {{"trade": true}}}}',
        "wrong_item_types": f'{{"{key}": [1, null, {{"a": 2}}, ["b"]]}}',
        "unknown_label": f'{{"{key}": ["no such label"]}}',
        "cut_short": f'{{"{key}": ["tra',
        "very_long": answer.render(["x" * 200] * 5000),  # about 1 MB
    }


def _reference(item: Mapping[str, Any]) -> list[str]:
    ref = item.get("reference_answer")
    return [str(x) for x in ref] if isinstance(ref, list) else []


def _valid(result: Any, low: float, high: float) -> bool:
    s = result.score
    number = isinstance(s, int | float) and not isinstance(s, bool) and math.isfinite(s)
    return not result.errors and number and low - TOLERANCE <= s <= high + TOLERANCE


def self_test(
    grader: Any,
    items: Sequence[Mapping[str, Any]],
    answer: AnswerFormat,
    score_range: tuple[float, float] = (0.0, 1.0),
) -> dict[str, Any]:
    """Run the three checks with ``grader`` (anything with ``grade_many``); a JSON-ready dict."""
    low, high = score_range
    labels = answer.labels or tuple(sorted({x for item in items for x in _reference(item)}))

    refs = grader.grade_many([(answer.render(_reference(item)), item) for item in items])
    ref_failures = [
        {"id": item.get("id"), "score": r.score, "errors": list(r.errors)}
        for item, r in zip(items, refs, strict=True)
        if r.errors or abs(r.score - high) > TOLERANCE
    ]

    cases = malformed_samples(answer)
    malformed_results = grader.grade_many([(text, items[0]) for text in cases.values()])
    malformed = [
        {"case": case, "score": r.score, "valid": _valid(r, low, high), "errors": list(r.errors)}
        for case, r in zip(cases, malformed_results, strict=True)
    ]

    pairs, meta = [], []
    for item in items:
        ref = _reference(item)
        if len(ref) >= 2 and sum(kind == "drop_label" for kind, _ in meta) < PERTURB_ITEMS:
            pairs.append((answer.render(ref[:-1]), item))
            meta.append(("drop_label", item))
        wrong = next((x for x in labels if x not in ref), None)
        if wrong is not None and ref and sum(kind == "add_label" for kind, _ in meta) < PERTURB_ITEMS:
            pairs.append((answer.render(sorted([*ref, wrong])), item))
            meta.append(("add_label", item))
    perturbed = grader.grade_many(pairs) if pairs else []
    pert_failures = [
        {"id": item.get("id"), "kind": kind, "score": r.score, "errors": list(r.errors)}
        for (kind, item), r in zip(meta, perturbed, strict=True)
        if r.errors or not (low + TOLERANCE < r.score < high - TOLERANCE)
    ]

    problems = []
    outside = [r.score for r in (*refs, *malformed_results, *perturbed)
               if not low - TOLERANCE <= r.score <= high + TOLERANCE]
    if outside:
        problems.append(f"{len(outside)} scores fall outside the grader's range [{low:g}, {high:g}] "
                        f"(e.g. {outside[0]:g}): out-of-range rewards distort training")
    if ref_failures:
        problems.append(f"{len(ref_failures)} of {len(items)} reference answers do not score the maximum {high:g}")
    bad = [m["case"] for m in malformed if not m["valid"]]
    if bad:
        problems.append(f"malformed outputs get no valid score: {', '.join(bad)}")
    if pert_failures:
        problems.append(
            f"{len(pert_failures)} of {len(pairs)} perturbed references do not score strictly between "
            f"{low:g} and {high:g} (the grader is not continuous)"
        )
    return {
        "passed": not problems,
        "problems": problems,
        "range": [low, high],
        "reference": {"checked": len(items), "failures": ref_failures},
        "malformed": malformed,
        "perturbed": {"checked": len(pairs), "failures": pert_failures},
    }
