"""Grader templates: ``{{item.x}}``, ``{{item.a.b}}``, ``{{sample.output_text}}``, ``{{sample.output_json.k}}``.

>>> references("Is {{ sample.output_text }} about {{item.topic}}?")
[('sample', ('output_text',)), ('item', ('topic',))]
>>> render("{{item.a.b}}/{{item.n}}", {"a": {"b": "x"}, "n": [1, 2]}, {"output_text": ""})
'x/[1, 2]'
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from curate.errors import ConfigError

NAMESPACES = ("item", "sample")
SAMPLE_FIELDS = ("output_text", "output_json", "output_tools", "choices", "output_audio")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+)*$")


class TemplateError(LookupError):
    """A template variable could not be resolved for one item or sample."""


def references(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every ``(namespace, path)`` a template string reads, in order; raises ConfigError on bad ones."""
    out = []
    for match in _PLACEHOLDER.finditer(text):
        expr = match.group(1)
        if not _PATH.match(expr):
            raise ConfigError(
                f"template {{{{{expr}}}}} is not a dotted variable such as {{{{item.field}}}}"
            )
        namespace, *path = expr.split(".")
        if namespace not in NAMESPACES:
            raise ConfigError(
                f"template {{{{{expr}}}}} uses namespace {namespace!r}; graders know only 'item' and 'sample'"
            )
        if not path:
            raise ConfigError(f"template {{{{{expr}}}}} names a namespace but no field")
        if namespace == "sample" and path[0] not in SAMPLE_FIELDS:
            raise ConfigError(
                f"template {{{{{expr}}}}}: sample has no field {path[0]!r}; it has {', '.join(SAMPLE_FIELDS)}"
            )
        out.append((namespace, tuple(path)))
    return out


def grader_strings(grader: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(where, text)`` for every templated string of a grader (inputs, references, model prompts)."""
    for key in ("input", "reference"):
        value = grader.get(key)
        if isinstance(value, str):
            yield key, value
        elif isinstance(value, list):
            for i, message in enumerate(value):
                content = message.get("content") if isinstance(message, Mapping) else None
                if isinstance(content, str):
                    yield f"{key}[{i}].content", content
                elif isinstance(content, Mapping) and isinstance(content.get("text"), str):
                    yield f"{key}[{i}].content.text", content["text"]
    for name, sub in (
        (grader.get("graders") or {}).items() if isinstance(grader.get("graders"), Mapping) else ()
    ):
        if isinstance(sub, Mapping):
            for where, text in grader_strings(sub):
                yield f"graders.{name}.{where}", text


def lookup(root: Any, path: tuple[str, ...], label: str) -> Any:
    """Follow ``path`` through nested mappings (and list indices); raises TemplateError when absent."""
    value = root
    for depth, key in enumerate(path):
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            where = ".".join((label, *path[: depth + 1]))
            raise TemplateError(f"{{{{{where}}}}} is not set")
    return value


def to_text(value: Any) -> str:
    """How a resolved value is substituted: strings as-is, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def render(text: str, item: Mapping[str, Any], sample: Mapping[str, Any]) -> str:
    """Substitute every placeholder of ``text``; raises TemplateError for a missing variable."""
    roots = {"item": item, "sample": sample}

    def substitute(match: re.Match) -> str:
        namespace, *path = match.group(1).split(".")
        if namespace == "sample" and path[0] == "output_json" and sample.get("output_json") is None:
            raise TemplateError("{{sample.output_json}} is not set: the sample is not valid JSON")
        return to_text(lookup(roots[namespace], tuple(path), namespace))

    return _PLACEHOLDER.sub(substitute, text)
