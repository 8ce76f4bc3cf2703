"""Findings other stages emit, registered by name so packs can restate their severity.

The loader reports ``malformed_json``, ``invalid_utf8``, ``wrong_type``, ``missing_field``; the
vocabulary stage reports ``unknown_label``, ``empty_label``, ``label_whitespace`` and ``no_labels``; task kinds report
``unparseable_answer`` and ``multiple_labels``. These rules evaluate nothing; use
:func:`curate.rules.restate_findings` to apply a pack's severities and ``enabled: false`` to them.
"""

from __future__ import annotations

from curate.frame import LABELS, WARN
from curate.rules.base import StageRule


class MalformedJson(StageRule):
    name = "malformed_json"
    message = "line is not valid JSON"


class InvalidUtf8(StageRule):
    name = "invalid_utf8"
    message = "line is not valid UTF-8"


class MalformedCsv(StageRule):
    name = "malformed_csv"
    message = "CSV row has a different number of fields than the header"


class WrongType(StageRule):
    name = "wrong_type"
    message = "a mapped field has the wrong type"


class MissingField(StageRule):
    name = "missing_field"
    message = "a mapped field is missing"


class UnknownLabel(StageRule):
    name = "unknown_label"
    severity_default = WARN
    field = LABELS
    message = "label id is not in the vocabulary"


class UnparseableAnswer(StageRule):
    name = "unparseable_answer"
    field = "answer"
    message = "the reference answer cannot be read as the task kind's value"


class MultipleLabels(StageRule):
    name = "multiple_labels"
    field = LABELS
    message = "a single-label task's row carries several labels"


class EmptyLabel(StageRule):
    name = "empty_label"
    severity_default = WARN
    field = LABELS
    message = "a null or blank label id was dropped"


class LabelWhitespace(StageRule):
    name = "label_whitespace"
    severity_default = WARN
    field = LABELS
    message = "a label id had surrounding whitespace and was trimmed"


class NoLabels(StageRule):
    name = "no_labels"
    field = LABELS
    message = "row has no labels left after mapping"
