"""Grader self-test: checks that need no model and run before any request is paid for.

1. **Reference**: each item's reference answer, given as the sample, must score the grader's
   maximum. Items where it does not are listed (a broken grader, or a reference the grader
   cannot read).
2. **Malformed outputs** (empty, not JSON, null, wrong types, missing keys, cut short, very long)
   must get a valid score: no grader error, a finite number within the grader's range.
3. **Perturbed references** (drop one label, add one wrong label) must score strictly between the
   minimum and the maximum: the grader gives partial credit, a continuous signal.
4. **Open answers** (a reference that is not a label list): the empty output must score the
   minimum, and another item's (different) answer strictly less than the maximum.

A malformed output may score the minimum with the platform's ``sample_parse_error`` flag (a grader
reading ``sample.output_json`` gets no JSON): that is the platform's own, valid outcome.

>>> src = "def grade(sample, item):\\n    return 1.0 if sample['output_json'] == {'labels': item['reference_answer']} else 0.0"
>>> from curate.dryrun.grading import open_grader
>>> with open_grader({"type": "python", "name": "exact", "source": src}, workers=0) as g:
...     result = self_test(g, [{"id": "a", "reference_answer": ["x", "y"]}], AnswerFormat(labels=("x", "y", "z")))
>>> result["passed"], [p["kind"] for p in result["perturbed"]["failures"]]
(False, ['drop_label', 'add_label'])
"""

from __future__ import annotations

import json
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


def _is_open(item: Mapping[str, Any]) -> bool:
    return not isinstance(item.get("reference_answer"), list)


def _render_reference(answer: AnswerFormat, item: Mapping[str, Any]) -> str:
    if _is_open(item):
        return answer.render_answer(item.get("reference_answer"))
    return answer.render(_reference(item))


def _valid(result: Any, low: float, high: float) -> bool:
    s = result.score
    number = isinstance(s, int | float) and not isinstance(s, bool) and math.isfinite(s)
    parse_error = bool(result.errors) and all("sample_parse_error" in e for e in result.errors)
    errors_ok = not result.errors or (parse_error and abs(s - low) <= TOLERANCE)
    return errors_ok and number and low - TOLERANCE <= s <= high + TOLERANCE


def _other_answers(items: Sequence[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], Any]]:
    """``(item, another item's different answer)`` for up to PERTURB_ITEMS open-answer items."""
    refs = [json.dumps(item.get("reference_answer"), sort_keys=True) for item in items]
    out: list[tuple[Mapping[str, Any], Any]] = []
    for i, item in enumerate(items):
        if len(out) >= PERTURB_ITEMS or not _is_open(item):
            continue
        other = next(
            (j for k in range(1, len(items)) if refs[j := (i + k) % len(items)] != refs[i]), None
        )
        if other is not None:
            out.append((item, items[other].get("reference_answer")))
    return out


def self_test(
    grader: Any,
    items: Sequence[Mapping[str, Any]],
    answer: AnswerFormat,
    score_range: tuple[float, float] = (0.0, 1.0),
) -> dict[str, Any]:
    """Run the three checks with ``grader`` (anything with ``grade_many``); a JSON-ready dict."""
    low, high = score_range
    labels = answer.labels or tuple(sorted({x for item in items for x in _reference(item)}))

    refs = grader.grade_many([(_render_reference(answer, item), item) for item in items])
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
    strict_pairs = len(pairs)
    opens = [item for item in items if _is_open(item)][:PERTURB_ITEMS]
    for item in opens:
        pairs.append(("", item))
        meta.append(("empty_output", item))
    for item, other in _other_answers(items):
        pairs.append((answer.render_answer(other), item))
        meta.append(("other_answer", item))
    perturbed = grader.grade_many(pairs) if pairs else []
    def failed(kind: str, r: Any) -> bool:
        if kind == "empty_output":
            return not _valid(r, low, high) or abs(r.score - low) > TOLERANCE
        if kind == "other_answer":
            return bool(r.errors) or not r.score < high - TOLERANCE
        return bool(r.errors) or not (low + TOLERANCE < r.score < high - TOLERANCE)

    pert_failures = [
        {"id": item.get("id"), "kind": kind, "score": r.score, "errors": list(r.errors)}
        for (kind, item), r in zip(meta, perturbed, strict=True)
        if failed(kind, r)
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
    label_failures = [f for f in pert_failures if f["kind"] in ("drop_label", "add_label")]
    if label_failures:
        problems.append(
            f"{len(label_failures)} of {strict_pairs} perturbed references do not score strictly between "
            f"{low:g} and {high:g} (the grader is not continuous)"
        )
    empty = [f for f in pert_failures if f["kind"] == "empty_output"]
    if empty:
        problems.append(f"{len(empty)} of {len(opens)} empty outputs do not score the minimum {low:g}")
    other = [f for f in pert_failures if f["kind"] == "other_answer"]
    if other:
        problems.append(
            f"{len(other)} of {len(pairs) - strict_pairs - len(opens)} other items' answers score the "
            f"maximum {high:g} (the grader cannot tell answers apart)"
        )
    return {
        "passed": not problems,
        "problems": problems,
        "range": [low, high],
        "reference": {"checked": len(items), "failures": ref_failures},
        "malformed": malformed,
        "perturbed": {"checked": len(pairs), "failures": pert_failures},
    }
