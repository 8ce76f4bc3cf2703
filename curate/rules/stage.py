"""Findings other stages emit, registered by name so packs can restate their severity.

The loader reports ``malformed_json``, ``invalid_utf8``, ``wrong_type``, ``missing_field``; the
vocabulary stage reports ``unknown_label``, ``empty_label``, ``label_whitespace`` and ``no_labels``; task kinds report
``unparseable_answer`` and ``multiple_labels``. These rules evaluate nothing; use
:func:`curate.rules.restate_findings` to apply a pack's severities and ``enabled: false`` to them.
"""

from __future__ import annotations

from curate.frame import ERROR, LABELS, WARN
from curate.rules.base import StageRule


def _declare(name: str, message: str, *, field: str | None = None, severity: str = ERROR) -> type[StageRule]:
    """Register the stage rule ``name`` as a :class:`StageRule` named after it (``malformed_json``:
    ``MalformedJson``)."""
    attrs = {"name": name, "message": message, "field": field, "severity_default": severity, "__module__": __name__}
    return type("".join(part.title() for part in name.split("_")), (StageRule,), attrs)


# the loader
MalformedJson = _declare("malformed_json", "line is not valid JSON")
InvalidUtf8 = _declare("invalid_utf8", "line is not valid UTF-8")
MalformedCsv = _declare("malformed_csv", "CSV row has a different number of fields than the header")
WrongType = _declare("wrong_type", "a mapped field has the wrong type")
MissingField = _declare("missing_field", "a mapped field is missing")
# the vocabulary and the task kinds
UnknownLabel = _declare("unknown_label", "label id is not in the vocabulary", field=LABELS, severity=WARN)
UnparseableAnswer = _declare("unparseable_answer", "the reference answer cannot be read as the task kind's value",
                             field="answer")
MultipleLabels = _declare("multiple_labels", "a single-label task's row carries several labels", field=LABELS)
EmptyLabel = _declare("empty_label", "a null or blank label id was dropped", field=LABELS, severity=WARN)
LabelWhitespace = _declare("label_whitespace", "a label id had surrounding whitespace and was trimmed",
                           field=LABELS, severity=WARN)
NoLabels = _declare("no_labels", "row has no labels left after mapping", field=LABELS)
