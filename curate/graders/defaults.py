"""The grader each task kind gets when ``export.grader`` is omitted, so a ``grader.json`` always ships.

| kind | grader |
|---|---|
| ``labels`` | ``multilabel_f1`` |
| ``single_label`` | ``exact_match`` (string_check ``eq`` on the answer field) |
| ``text`` | ``text_blend`` (the cookbook's 0.85 fuzzy + 0.15 exact) |
| ``number`` | ``numeric_tolerance`` |
| ``json`` | ``json_match`` (share of reference fields matched) |
| ``math`` | ``math_equivalence`` (math-verify) |

Open-answer defaults read the answer from the JSON field ``answer_key`` when the output is a JSON
object that has it, else from the output text, so they work with and without a response format.

>>> default_grader("labels", "labels")["name"], default_grader("text", "answer")["name"]
('multilabel_f1', 'text_blend')
>>> default_grader("single_label", "label")["input"]
'{{sample.output_json.label}}'
"""

from __future__ import annotations

from typing import Any

from curate.errors import ConfigError
from curate.graders.presets import build_grader

DEFAULTS: dict[str, dict[str, Any]] = {
    "labels": {"preset": "multilabel_f1"},
    "single_label": {"preset": "exact_match"},
    "text": {"preset": "text_blend", "answer_from": "auto"},
    "number": {"preset": "numeric_tolerance", "answer_from": "auto"},
    "json": {"preset": "json_match", "answer_from": "auto"},
    "math": {"preset": "math_equivalence", "answer_from": "auto"},
}


def default_grader(kind_name: str, answer_key: str) -> dict[str, Any]:
    """The platform grader JSON for task kind ``kind_name`` whose answer field is ``answer_key``
    (also valid as an ``export.grader`` spec: an inline grader)."""
    spec = DEFAULTS.get(kind_name)
    if spec is None:
        raise ConfigError(
            f"no default grader for task kind {kind_name!r}; kinds: {', '.join(DEFAULTS)}"
        )
    return build_grader(spec, answer_key=answer_key)
