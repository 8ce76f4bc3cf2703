"""Reading configuration YAML safely: one-line errors, bounded alias expansion and nesting.

PyYAML shares an anchored value between its aliases, so a 900-byte file of nested aliases loads
quickly but expands to hundreds of millions of values once copied or written out (the manifest
holds the resolved config). :func:`check_size` counts a loaded value as it would be written out and
refuses it past :data:`MAX_VALUES` values or :data:`MAX_DEPTH` levels, with bounded work.

>>> loads("a: &x [1, 2]\\nb: *x\\n", "p.yaml")
{'a': [1, 2], 'b': [1, 2]}
>>> loads("source: {path: raw.jsonl\\nexport: [", "p.yaml")
Traceback (most recent call last):
...
curate.errors.ConfigError: p.yaml:2:7: not valid YAML: expected ',' or '}', but got ':'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from curate.errors import ConfigError
from curate.io import strict_json

MAX_VALUES = 100_000  # values in a config once aliases are expanded (a real pipeline has < 1,000)
MAX_DEPTH = 64  # nesting levels


def read_text(path: str | Path, what: str) -> str:
    """The UTF-8 text of a configuration file; every failure is one :class:`ConfigError` line.

    ``what`` names the file in messages: ``"pipeline file"``, ``"template file"``, ``"rule pack"``.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise file_error(path, what, exc) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}:{line}: the {what} is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None


def file_error(path: str | Path, what: str, exc: OSError) -> ConfigError:
    """The one-line error for a configuration file that cannot be opened.

    >>> print(file_error("x.json", "item file", IsADirectoryError()))
    x.json: is a folder, not an item file
    """
    if isinstance(exc, FileNotFoundError):
        return ConfigError(f"{path}: {what} does not exist")
    if isinstance(exc, IsADirectoryError):
        return ConfigError(f"{path}: is a folder, not {'an' if what[:1] in 'aeiou' else 'a'} {what}")
    return ConfigError(f"{path}: cannot read the {what} ({exc.strerror or exc})")


def read_json(path: str | Path, what: str) -> Any:
    """Read and parse a JSON configuration file (a grader, a JSON schema) by curate's JSON rules
    (:mod:`curate.io.strict_json`: no NaN/Infinity, at most 64 levels, a repeated key keeps its first
    value); every failure is one :class:`ConfigError` line naming the file (and line).

    >>> read_json("nope.json", "grader file")
    Traceback (most recent call last):
    ...
    curate.errors.ConfigError: nope.json: grader file does not exist
    """
    text = read_text(path, what)
    try:
        return strict_json.loads(text)
    except strict_json.JsonProblem as exc:
        decoded = exc.__context__  # the JSONDecodeError behind a syntax error knows the line
        line = f":{decoded.lineno}" if isinstance(decoded, json.JSONDecodeError) else ""
        raise ConfigError(f"{path}{line}: the {what} {exc}") from None


def load(path: str | Path, what: str = "pipeline file") -> Any:
    """Read and parse a YAML configuration file (see :func:`loads`)."""
    return loads(read_text(path, what), str(path))


def loads(text: str, where: str) -> Any:
    """Parse YAML ``text``; syntax errors become ``where:line:col: message``; size is bounded."""
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        position = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = " ".join(str(exc.problem or exc.context or "syntax error").split())
        raise ConfigError(f"{where}{position}: not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: not valid YAML: {' '.join(str(exc).split())}") from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid YAML: nested too deeply") from None
    check_size(data, where)
    return data


def check_size(value: Any, where: str, *, max_values: int = MAX_VALUES, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a value that expands to more than ``max_values`` values or ``max_depth`` levels.

    Shared (aliased) sub-values count every time they appear, as they would in JSON. The walk is
    iterative and stops at the limit, so its cost is bounded whatever the input.

    >>> bomb = [["x"] * 10] * 10
    >>> check_size([bomb] * 10, "p.yaml", max_values=500)
    Traceback (most recent call last):
    ...
    curate.errors.ConfigError: p.yaml: the configuration expands to more than 500 values (YAML aliases?); refused
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen = 1
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise ConfigError(f"{where}: the configuration is nested more than {max_depth} levels deep "
                              f"(a recursive YAML alias?); refused")
        if isinstance(node, dict):
            children = list(node.values())
            seen += 2 * len(children)  # keys and values
        elif isinstance(node, list | tuple | set):
            children = list(node)
            seen += len(children)
        else:
            continue
        if seen > max_values:
            raise ConfigError(f"{where}: the configuration expands to more than {max_values} values "
                              f"(YAML aliases?); refused")
        stack.extend((child, depth + 1) for child in children)
