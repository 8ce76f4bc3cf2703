"""How curate reads one JSON value with Python, the same way everywhere (loader and ``curate check``).

polars reads the clean lines; every line it cannot read, and every value the loader re-checks, is
read here with the rules polars' reading implies, so a line means the same thing on every path:

- ``NaN``, ``Infinity`` and ``-Infinity`` are not JSON (RFC 8259; Python's ``json`` accepts them):
  the line is malformed, whichever field holds them;
- a key repeated in one object keeps its **first** value, as polars does (Python's ``json`` keeps
  the last); ``curate check`` also reports such a line, since a consumer may read it otherwise;
- nesting deeper than :data:`MAX_DEPTH` levels is malformed: polars' type inference slows down
  exponentially with nested objects (and crashes a few hundred levels down) and Python's parser
  raises ``RecursionError`` near a thousand.

>>> loads('{"a": 1, "a": 2, "b": [1.5]}')
{'a': 1, 'b': [1.5]}
>>> loads('{"s": NaN}')
Traceback (most recent call last):
...
curate.io.strict_json.JsonProblem: holds NaN, which is not valid JSON (write null or a number)
>>> nesting_depth('{"a": [[1], "]]]"]}')
3
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 64
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class JsonProblem(ValueError):
    """A text curate does not read as JSON; the message (read after "line " or "field 'x' ") says why."""


class _Reader:
    def __init__(self) -> None:
        self.repeated: list[tuple[dict[str, Any], str]] = []  # (object, its first repeated key)

    def pairs(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out = dict(pairs)
        if len(out) < len(pairs):
            out = first_wins(pairs)
            seen: set[str] = set()
            self.repeated.append((out, next(k for k, _ in pairs if k in seen or seen.add(k))))
        return out


def first_wins(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An ``object_pairs_hook`` keeping the first value of a repeated key, as polars does."""
    out = dict(pairs)
    if len(out) < len(pairs):  # rare: rebuild keeping the first values
        out = {}
        for key, value in pairs:
            out.setdefault(key, value)
    return out


def _constant(name: str) -> Any:
    raise JsonProblem(f"holds {name}, which is not valid JSON (write null or a number)")


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text`` (brackets inside strings do not count)."""
    depth = deepest = 0
    for ch in _BRACKET.findall(_STRING.sub("", text)):
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """True when ``text`` nests deeper than ``limit`` (cheap unless it holds that many brackets)."""
    return text.count("[") + text.count("{") > limit and nesting_depth(text) > limit


def read(text: str) -> tuple[Any, list[tuple[dict[str, Any], str]]]:
    """The value of ``text``, and each object of it that repeats a key with the first such key.

    Raises :class:`JsonProblem` for text curate does not read as JSON (see the module docstring).
    """
    if too_deep(text):
        raise JsonProblem(f"nests deeper than {MAX_DEPTH} levels of arrays and objects")
    reader = _Reader()
    try:
        value = json.loads(text, parse_constant=_constant, object_pairs_hook=reader.pairs)
    except JsonProblem:
        raise
    except json.JSONDecodeError as exc:
        raise JsonProblem(f"is not valid JSON: {exc.msg} (column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer with too many digits
        raise JsonProblem(f"is not valid JSON: {exc}") from None
    return value, reader.repeated


def loads(text: str) -> Any:
    """The value of ``text`` as curate reads it (first of repeated keys kept)."""
    return read(text)[0]
