"""The strict JSON schema of the answer, as the chat API's ``response_format`` expects it.

>>> fmt = response_format(["trade", "finance"])
>>> fmt["json_schema"]["schema"]["properties"]["labels"]["items"]["enum"]
['finance', 'trade']
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def answer_schema(label_names: Iterable[str], answer_key: str = "labels") -> dict[str, Any]:
    """A strict schema: an object whose ``answer_key`` is a list of names from the class list."""
    return {
        "type": "object",
        "properties": {
            answer_key: {
                "type": "array",
                "items": {"type": "string", "enum": sorted(set(label_names))},
            }
        },
        "required": [answer_key],
        "additionalProperties": False,
    }


def response_format(label_names: Iterable[str], answer_key: str = "labels") -> dict[str, Any]:
    """Chat-style ``{"type": "json_schema", "json_schema": {name, strict, schema}}``."""
    return {
        "type": "json_schema",
        "json_schema": {"name": answer_key, "strict": True, "schema": answer_schema(label_names, answer_key)},
    }
