"""Read what the export wrote: the split's items, the response format, the grader.

>>> fmt = {"type": "json_schema", "json_schema": {"name": "labels", "strict": True, "schema": {
...     "type": "object", "required": ["labels"], "additionalProperties": False,
...     "properties": {"labels": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}}}}}}
>>> answer = AnswerFormat.from_response_format(fmt)
>>> answer.key, answer.labels, answer.render(["b"])
('labels', ('a', 'b'), '{"labels": ["b"]}')
>>> answer.problem('{"labels": ["c"]}')
"labels[0]: 'c' is not one of the allowed values"
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.errors import ConfigError

SPLITS = ("train", "valid")


def read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} not found") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: {what} is not valid JSON ({exc})") from None


def load_items(out_dir: Path, split: str) -> list[dict[str, Any]]:
    """The exported lines of ``split`` (``train.jsonl`` or ``valid.jsonl``), checked for shape."""
    if split not in SPLITS:
        raise ConfigError(f"split must be one of {', '.join(SPLITS)}; got {split!r}")
    path = Path(out_dir) / f"{split}.jsonl"
    if not path.exists():
        raise ConfigError(f"{path}: not found; run the export first (curate run) or pass the export folder")
    items = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"{path}:{number}: not valid JSON ({exc})") from None
            messages = item.get("messages") if isinstance(item, dict) else None
            if not isinstance(messages, list) or not messages:
                raise ConfigError(f"{path}:{number}: a line needs a non-empty 'messages' list")
            item.setdefault("id", str(number))
            items.append(item)
    if not items:
        raise ConfigError(f"{path}: no items to sample")
    return items


@dataclass(frozen=True)
class AnswerFormat:
    """The answer object the model must produce, read from the exported response format."""

    key: str = "labels"
    labels: tuple[str, ...] = ()
    schema: Mapping[str, Any] | None = None

    @classmethod
    def from_response_format(cls, fmt: Mapping[str, Any] | None) -> AnswerFormat:
        schema = ((fmt or {}).get("json_schema") or {}).get("schema")
        if not isinstance(schema, Mapping):
            return cls()
        props = schema.get("properties") or {}
        required = list(schema.get("required", props))
        arrays = [k for k in required if (props.get(k) or {}).get("type") == "array"]
        # label sets: the array property; open answers: the one required property
        key = arrays[0] if arrays else required[0] if len(required) == 1 else "labels"
        enum = ((props.get(key) or {}).get("items") or {}).get("enum") or ()
        return cls(key=key, labels=tuple(str(x) for x in enum), schema=schema)

    def render_answer(self, value: Any) -> str:
        """A sample that answers ``value``: a label list as :meth:`render`; an open answer (text,
        number, object) in the response format's answer field, or as plain text without one."""
        if isinstance(value, list | tuple):
            return self.render(list(value))
        if self.schema is None:
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if self.key in (self.schema.get("properties") or {}):
            return self.render(value)
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    def render(self, labels: Any) -> str:
        """A sample that answers ``labels`` and fills other required fields with empty values."""
        answer: dict[str, Any] = {}
        props = (self.schema or {}).get("properties") or {}
        for name in (self.schema or {}).get("required", ()):
            empty = {"string": "", "array": [], "object": {}, "number": 0, "integer": 0, "boolean": False}
            answer[name] = empty.get((props.get(name) or {}).get("type"), None)
        answer[self.key] = list(labels) if isinstance(labels, list | tuple) else labels
        return json.dumps(answer, ensure_ascii=False)

    def problem(self, text: str) -> str | None:
        """Why ``text`` does not match the response format's schema, or None (a common subset)."""
        if self.schema is None:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return "not JSON"
        return _schema_problem(value, self.schema, "")


_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _schema_problem(value: Any, schema: Mapping[str, Any], where: str) -> str | None:
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if kinds and not any(_is_type(value, k) for k in kinds):
        return f"{where or 'answer'}: expected {'/'.join(kinds)}, got {type(value).__name__}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where or 'answer'}: {value!r} is not one of the allowed values"
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for name in schema.get("required", ()):
            if name not in value:
                return f"{where or 'answer'}: missing key {name!r}"
        if schema.get("additionalProperties") is False:
            extra = sorted(set(value) - set(props))
            if extra:
                return f"{where or 'answer'}: unexpected key {extra[0]!r}"
        for name, sub in props.items():
            if name in value:
                problem = _schema_problem(value[name], sub, f"{where}.{name}" if where else name)
                if problem:
                    return problem
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, element in enumerate(value):
            problem = _schema_problem(element, schema["items"], f"{where}[{i}]")
            if problem:
                return problem
    return None


def _is_type(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    expected = _TYPES.get(kind)
    return expected is None or isinstance(value, expected)
