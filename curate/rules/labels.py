"""Row rules on labels: too many, outside the vocabulary, not representable by the answer schema.

Rows with no labels and unknown label ids are reported by the vocabulary stage (``no_labels``,
``unknown_label``); see :mod:`curate.rules.stage`.

>>> import polars as pl
>>> from curate.rules import RuleContext
>>> ctx = RuleContext(label_names=("trade", "finance"))
>>> frame = pl.DataFrame({"label_names": [["trade"], ["trade", "sport"]]})
>>> LabelOutsideVocabulary().check(frame, ctx).to_list()
[True, False]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from curate.errors import ConfigError
from curate.frame import LABEL_NAMES
from curate.options import Param
from curate.rules.base import RowRule

_NAMES = pl.col(LABEL_NAMES)


class MaxLabels(RowRule):
    task = "labels"
    name = "max_labels"
    field = LABEL_NAMES
    params = (Param("max", int, 10, low=1),)
    message = "row has more than {max} labels"

    def passes(self, context):
        return _NAMES.list.len() <= self.max

    def value(self, context):
        return _NAMES.list.len()


class LabelOutsideVocabulary(RowRule):
    """Mapped label names that are not in the run's label set (``RuleContext.label_names``)."""

    task = "labels"
    name = "label_outside_vocabulary"
    field = LABEL_NAMES
    message = "labels outside the vocabulary after mapping"

    def _outside(self, context) -> pl.Expr:
        vocab = list(context.label_names or ())
        return _NAMES.list.eval(pl.element().filter(~pl.element().is_in(vocab)))

    def passes(self, context):
        if context.label_names is None:
            return pl.lit(True)
        return self._outside(context).list.len() == 0

    def value(self, context):
        if context.label_names is None:
            return None
        return self._outside(context).list.join(", ")


def answer_constraints(response_format: Mapping[str, Any], answer_key: str | None = None) -> dict[str, Any]:
    """What the answer schema accepts: ``allowed`` names (or None for any string), ``min``/``max``
    item counts. Accepts the chat-style ``{"type": "json_schema", "json_schema": {...}}`` wrapper.

    >>> rf = {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object",
    ...       "properties": {"labels": {"type": "array", "maxItems": 3,
    ...       "items": {"type": "string", "enum": ["a", "b"]}}}}}}
    >>> answer_constraints(rf)
    {'allowed': ('a', 'b'), 'min': 0, 'max': 3, 'key': 'labels'}
    """
    schema: Any = response_format
    if isinstance(schema, Mapping) and "json_schema" in schema:
        schema = schema["json_schema"]
    if isinstance(schema, Mapping) and "schema" in schema and "properties" not in schema:
        schema = schema["schema"]
    props = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(props, Mapping) or not props:
        raise ConfigError("the response_format schema has no 'properties'; cannot find the answer field")
    key = answer_key if answer_key in props else None
    if key is None:
        key = next((k for k, v in props.items() if isinstance(v, Mapping) and v.get("type") == "array"), None)
    if key is None:
        key = next(iter(props))
    spec = props[key]
    if not isinstance(spec, Mapping):
        raise ConfigError(f"the response_format property {key!r} is not a schema object")
    if spec.get("type") == "array":
        items = spec.get("items", {})
        allowed = _enum_of(items)
        return {"allowed": allowed, "min": int(spec.get("minItems", 0)), "max": spec.get("maxItems"), "key": key}
    return {"allowed": _enum_of(spec), "min": 1, "max": 1, "key": key}


def _enum_of(items: Any) -> tuple[str, ...] | None:
    if not isinstance(items, Mapping):
        return None
    if "enum" in items:
        return tuple(str(v) for v in items["enum"])
    if "const" in items:
        return (str(items["const"]),)
    for branch in ("anyOf", "oneOf"):
        if isinstance(items.get(branch), list):
            found = [_enum_of(b) for b in items[branch]]
            if all(f is not None for f in found):
                return tuple(v for f in found for v in f)  # type: ignore[union-attr]
    props = items.get("properties")
    if isinstance(props, Mapping) and len(props) == 1:  # e.g. {"code": {"enum": [...]}}
        return _enum_of(next(iter(props.values())))
    return None


class AnswerSchema(RowRule):
    """Reference answers (the row's label names) that the configured response_format cannot hold."""

    task = "labels"
    name = "answer_schema"
    field = LABEL_NAMES
    message = "the answer schema cannot represent this row's labels"

    def _constraints(self, context) -> dict[str, Any] | None:
        if not context.response_format:
            return None
        return answer_constraints(context.response_format, context.extra.get("answer_key"))

    def passes(self, context):
        c = self._constraints(context)
        if c is None:
            return pl.lit(True)
        ok = _NAMES.list.len() >= c["min"]
        if c["max"] is not None:
            ok = ok & (_NAMES.list.len() <= int(c["max"]))
        if c["allowed"] is not None:
            ok = ok & _NAMES.list.eval(pl.element().is_in(list(c["allowed"]))).list.all()
        return ok

    def value(self, context):
        c = self._constraints(context)
        if c is None or c["allowed"] is None:
            return _NAMES.list.join(", ")
        bad = _NAMES.list.eval(pl.element().filter(~pl.element().is_in(list(c["allowed"])))).list.join(", ")
        return pl.when(bad != "").then(bad).otherwise(_NAMES.list.join(", "))

    def message_expr(self, context):
        c = self._constraints(context)
        if c is None:
            return self.message
        parts = []
        if c["allowed"] is not None:
            parts.append(f"{len(c['allowed'])} allowed names")
        parts.append(f"{c['min']}..{c['max'] if c['max'] is not None else 'any'} items")
        return f"the answer schema ({c['key']!r}: {', '.join(parts)}) cannot represent this row's labels"
