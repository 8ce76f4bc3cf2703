"""Grader audit: answers a grader must not reward with its maximum (reward hacking, found offline).

A model under RL finds whatever the grader over-rewards. The audit grades, for up to
:data:`AUDIT_ITEMS` items, answers that are wrong or evasive but look right to a careless grader:

- ``every_label``: every allowed label at once (label tasks);
- ``padded``: the reference padded with a paragraph of plausible text (the medical RFT cookbook's
  model grader gave such answers +20-30 points);
- ``question``: the question repeated back;
- ``dont_know``: "I don't know";
- ``long_wrong``: a long wrong answer that contains the reference (open answers).

Each case whose score reaches the grader's maximum on any item becomes a warning (the audit never
fails the self-test: a grader may have reasons). Mean scores per case are kept for the report.

>>> from curate.dryrun.grading import open_grader
>>> from curate.dryrun.outdir import AnswerFormat
>>> src = "def grade(sample, item):\\n    got = (sample.get('output_json') or {}).get('labels') or []\\n    return float(set(item['reference_answer']) <= set(got))"
>>> with open_grader({"type": "python", "name": "recall", "source": src}, workers=0) as g:
...     found = audit_grader(g, [{"id": "a", "reference_answer": ["x"], "messages": [{"role": "user", "content": "q"}]}],
...                          AnswerFormat(labels=("x", "y", "z")))
>>> found["warnings"]
["grader audit: every allowed label at once scores the maximum 1 on 1 of 1 items (e.g. 'a')"]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from curate.dryrun.outdir import AnswerFormat

AUDIT_ITEMS = 20
TOLERANCE = 1e-9
PARAGRAPH = (
    "To answer this carefully, I considered the context, the most likely interpretation of the question "
    "and the relevant background. Several factors point in the same direction, and after weighing the "
    "alternatives against the available evidence this is the best-supported conclusion, consistent with "
    "standard practice and with the details given above."
)
CASES = {
    "every_label": "every allowed label at once",
    "padded": "the reference padded with a paragraph of plausible text",
    "question": "the question repeated back",
    "dont_know": "\"I don't know\"",
    "long_wrong": "a long wrong answer that contains the reference",
}


def _question(item: Mapping[str, Any]) -> str:
    users = [m.get("content") for m in item.get("messages") or [] if isinstance(m, Mapping) and m.get("role") == "user"]
    return str(users[-1]) if users else ""


def audit_samples(item: Mapping[str, Any], answer: AnswerFormat, labels: Sequence[str]) -> dict[str, str]:
    """The audit's answers for one item, by case (a case that does not apply is left out)."""
    ref = item.get("reference_answer")
    question = _question(item)
    if isinstance(ref, list):  # a label set
        out = {"padded": answer.render([str(x) for x in ref]) + "\n\n" + PARAGRAPH,
               "question": question, "dont_know": "I don't know"}
        if labels and set(map(str, ref)) != set(labels):
            out["every_label"] = answer.render(sorted(labels))
        return out
    text = ref if isinstance(ref, str) else str(ref)
    return {
        "padded": answer.render_answer(f"{text}. {PARAGRAPH}"),
        "question": answer.render_answer(question),
        "dont_know": answer.render_answer("I don't know"),
        "long_wrong": answer.render_answer(f"It is tempting to say {text}, but that is wrong. {PARAGRAPH} "
                                           "The correct answer is something else entirely."),
    }


def audit_grader(grader: Any, items: Sequence[Mapping[str, Any]], answer: AnswerFormat,
                 score_range: tuple[float, float] = (0.0, 1.0)) -> dict[str, Any]:
    """Grade the audit's answers with ``grader`` (anything with ``grade_many``); a JSON-ready dict."""
    low, high = score_range
    labels = answer.labels or tuple(sorted({str(x) for item in items if isinstance(item.get("reference_answer"), list)
                                            for x in item["reference_answer"]}))
    pairs, meta = [], []
    for item in items[:AUDIT_ITEMS]:
        for case, text in audit_samples(item, answer, labels).items():
            pairs.append((text, item))
            meta.append((case, item.get("id")))
    results = grader.grade_many(pairs) if pairs else []
    cases: dict[str, dict[str, Any]] = {}
    for (case, item_id), result in zip(meta, results, strict=True):
        entry = cases.setdefault(case, {"case": case, "what": CASES[case], "checked": 0, "at_max": [], "scores": []})
        entry["checked"] += 1
        entry["scores"].append(result.score)
        if not result.errors and result.score >= high - TOLERANCE:
            entry["at_max"].append(item_id)
    warnings, table = [], []
    for case in CASES:
        if case not in cases:
            continue
        entry = cases[case]
        scores = entry.pop("scores")
        entry["mean_score"] = round(sum(scores) / len(scores), 6)
        table.append(entry)
        if entry["at_max"]:
            warnings.append(f"grader audit: {entry['what']} scores the maximum {high:g} on {len(entry['at_max'])} "
                            f"of {entry['checked']} items (e.g. {entry['at_max'][0]!r})")
    return {"range": [low, high], "cases": table, "warnings": warnings}
