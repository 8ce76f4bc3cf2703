"""RFT line-format checks of exported files (see docs/rules.md, "curate check").

Per row: the line is a JSON object with a non-empty ``messages`` list of ``{role, content}``
objects, roles are ones the platform accepts (``developer``, ``user``, ``assistant``, ``tool``;
not ``system``), the last message comes from the ``user``, and every row carries the same keys.
Per file: size and row-count limits.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from curate.frame import ERROR

ALLOWED_ROLES = ("developer", "user", "assistant", "tool")
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_ROWS = {"train": 50_000, "valid": 1_000}
RESERVED = ("messages", "tools")

# name -> (severity, what it means); the registry of format findings for docs and tests
FORMAT_RULES: dict[str, tuple[str, str]] = {
    "malformed_json": (ERROR, "line is not valid JSON"),
    "invalid_utf8": (ERROR, "line is not valid UTF-8"),
    "not_an_object": (ERROR, "line is JSON but not an object"),
    "duplicate_key": (ERROR, "a key appears twice in the row or in a message (readers disagree on its value)"),
    "missing_messages": (ERROR, "no non-empty 'messages' list"),
    "bad_message": (ERROR, "a message is not an object with a string 'role' and text or parts 'content'"),
    "disallowed_role": (ERROR, "a message role the platform rejects (e.g. 'system')"),
    "last_message_not_user": (ERROR, "the last message must come from the user"),
    "inconsistent_keys": (ERROR, "the row's keys differ from the other rows' (graders need every key in every row)"),
    "no_labels": (ERROR, "the reference answer is an empty list"),
    "empty_file": (ERROR, "the file has no rows"),
    "file_too_large": (ERROR, "the file is larger than 512 MB"),
    "too_many_rows": (ERROR, "more rows than the platform accepts (train 50,000, validation 1,000)"),
    "train_valid_overlap": (ERROR, "a validation row has the same input as a training row"),
}


def content_text(content: Any) -> str | None:
    """Text of a message ``content``: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "\n".join(parts)
    return None


def message_problems(row: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    """``(rule, message, value)`` for each format problem of one row's messages."""
    messages = row.get("messages")
    if not isinstance(messages, list) or not messages:
        return [("missing_messages", "row has no non-empty 'messages' list", type(messages).__name__ if messages is not None else None)]
    out: list[tuple[str, str, str | None]] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str):
            out.append(("bad_message", f"messages[{i}] is not an object with a string 'role'", None))
            continue
        if m["role"] not in ALLOWED_ROLES:
            hint = " (RFT does not accept system messages; use 'developer')" if m["role"] == "system" else ""
            out.append(("disallowed_role", f"messages[{i}] has role {m['role']!r}{hint}", m["role"]))
        if content_text(m.get("content")) is None:
            out.append(("bad_message", f"messages[{i}] has no text content", None))
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") != "user":
        out.append(("last_message_not_user", "the last message must come from the user; put the answer in a top-level key", str(last.get("role"))))
    return out


def prompt_text(row: dict[str, Any]) -> str | None:
    """The text rules look at: the last user message (the input the model answers)."""
    messages = row.get("messages")
    if not isinstance(messages, list):
        return None
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            return content_text(m.get("content"))
    return None


def reference_labels(row: dict[str, Any], key: str | None) -> list[str] | None:
    """The reference answer as a list of strings, when it is one (else None)."""
    if key is None:
        return None
    value = row.get(key)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    if isinstance(value, dict):
        lists = [v for v in value.values() if isinstance(v, list) and all(isinstance(x, str) for x in v)]
        return lists[0] if len(lists) == 1 else None
    return None


def key_problems(rows: Sequence[tuple[int, Iterable[str]]], shared: Mapping[frozenset[str], Sequence[int]] | None = None) -> list[tuple[int, str, str, str | None]]:
    """``(line, rule, message, value)`` for rows whose key set differs from the most common one,
    in line order. ``rows`` are ``(line, row or key set)``; ``shared`` maps a key set to the lines
    of further rows that all carry it (counted without a tuple per row).

    >>> key_problems([(1, {"a": 1}), (3, {"b": 2})], {frozenset({"a"}): [2, 4]})
    [(3, 'inconsistent_keys', 'row keys differ from the other rows: missing a; extra b', 'a, b')]
    """
    sets = [(line, frozenset(row)) for line, row in rows]
    counts = Counter(s for _, s in sets)
    for keys, lines in (shared or {}).items():
        counts[keys] += len(lines)
    if not counts:
        return []
    common, _ = max(counts.items(), key=lambda kv: (kv[1], -len(kv[0]), sorted(kv[0])))
    odd = [(line, keys) for line, keys in sets if keys != common]
    extra = [(int(line), keys) for keys, lines in (shared or {}).items() if keys != common for line in lines]
    if extra:
        odd = sorted(odd + extra, key=lambda lk: lk[0])
    out = []
    for line, keys in odd:
        missing, extra_keys = sorted(common - keys), sorted(keys - common)
        bits = ([f"missing {', '.join(missing)}"] if missing else []) + ([f"extra {', '.join(extra_keys)}"] if extra_keys else [])
        out.append((line, "inconsistent_keys", f"row keys differ from the other rows: {'; '.join(bits)}", ", ".join(missing + extra_keys)))
    return out
