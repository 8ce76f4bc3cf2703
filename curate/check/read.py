"""Read exported RFT files (JSONL or Parquet) into per-line Python rows, keeping line numbers.

Unreadable lines become :class:`Unreadable` entries, never exceptions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.io import strict_json

CHUNK_BYTES = 32 << 20  # at most this many bytes of lines per chunk (iter_export, curate check)


@dataclass(frozen=True)
class Unreadable:
    rule: str  # malformed_json | invalid_utf8 | not_an_object | duplicate_key
    message: str
    value: str | None = None


@dataclass(frozen=True)
class ReadFile:
    path: Path
    size: int  # bytes
    rows: list[tuple[int, dict[str, Any] | Unreadable]]  # (line, row); blank lines are skipped


def read_export(path: Path) -> ReadFile:
    """Rows of an exported file; Parquet rows are numbered from 1."""
    size = path.stat().st_size
    if path.suffix.lower() == ".parquet":
        return ReadFile(path, size, _read_parquet(path))
    return ReadFile(path, size, _read_jsonl(file_bytes(path)))


def iter_export(path: Path, chunk_bytes: int | None = None) -> Iterator[list[tuple[int, dict[str, Any] | Unreadable]]]:
    """The rows of :func:`read_export` in chunks of whole lines of about ``chunk_bytes`` bytes
    (default :data:`CHUNK_BYTES`), parsed as they are asked for, so the caller can hand one chunk
    to polars while the next one is parsed. Parquet files come as one chunk."""
    if path.suffix.lower() == ".parquet":
        yield _read_parquet(path)
        return
    for first, lines in line_chunks(file_bytes(path), chunk_bytes):
        yield _parse_lines(lines, first)


def file_bytes(path: Path) -> bytes:
    """The file's bytes without a leading UTF-8 byte-order mark (it is not part of line 1)."""
    data = path.read_bytes()
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def line_chunks(data: bytes, chunk_bytes: int | None = None) -> Iterator[tuple[int, list[bytes]]]:
    """``(first line number, lines)`` of ``data`` in chunks of whole lines of about ``chunk_bytes``
    bytes (default :data:`CHUNK_BYTES`), split one chunk at a time.

    >>> list(line_chunks(b'{"a": 1}\\n\\n[2]\\n', 3))
    [(1, [b'{"a": 1}']), (2, [b'', b'[2]']), (4, [b''])]
    """
    for first, chunk in byte_chunks(data, chunk_bytes):
        yield first, chunk.split(b"\n")


def byte_chunks(data: bytes, chunk_bytes: int | None = None) -> Iterator[tuple[int, bytes]]:
    """``(first line number, bytes)`` of the chunks of :func:`line_chunks`, not yet split.

    >>> list(byte_chunks(b'{"a": 1}\\n\\n[2]\\n', 3))
    [(1, b'{"a": 1}'), (2, b'\\n[2]'), (4, b'')]
    """
    size = max(1, chunk_bytes or CHUNK_BYTES)
    pos, first = 0, 1
    while True:
        stop = data.find(b"\n", pos + size - 1)  # the chunk ends at the first newline after size bytes
        if stop < 0:
            yield first, data[pos:]
            return
        yield first, data[pos:stop]
        first += data.count(b"\n", pos, stop) + 1
        pos = stop + 1


def peek_rows(data: bytes, want: int = 100) -> dict[int, dict[str, Any] | Unreadable]:
    """The parsed lines from the start of ``data`` up to its ``want``-th readable row.

    >>> peek_rows(b'{"a": 1}\\n\\n[2]\\n{"b": 2}\\n{"c": 3}\\n', 2)
    {1: {'a': 1}, 3: Unreadable(rule='not_an_object', message='line is JSON but not an object', value='list'), 4: {'b': 2}}
    """
    out: dict[int, dict[str, Any] | Unreadable] = {}
    readable, pos, line = 0, 0, 1
    while readable < want and pos <= len(data):
        stop = data.find(b"\n", pos)
        stop = len(data) if stop < 0 else stop
        for _, row in _parse_lines([data[pos:stop]], line):
            out[line] = row
            readable += not isinstance(row, Unreadable)
        pos, line = stop + 1, line + 1
    return out


def _read_jsonl(data: bytes) -> list[tuple[int, dict[str, Any] | Unreadable]]:
    return _parse_lines(data.split(b"\n"), 1)


def _parse_lines(lines: list[bytes], first: int) -> list[tuple[int, dict[str, Any] | Unreadable]]:
    out: list[tuple[int, dict[str, Any] | Unreadable]] = []
    read = strict_json.read
    for i, raw in enumerate(lines, first):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.append((i, Unreadable("invalid_utf8", f"line is not valid UTF-8 ({exc.reason} at byte {exc.start})")))
            continue
        try:
            obj, repeated = read(text)
        except strict_json.JsonProblem as exc:
            out.append((i, Unreadable("malformed_json", f"line {exc}", text[:80])))
            continue
        if not isinstance(obj, dict):
            out.append((i, Unreadable("not_an_object", "line is JSON but not an object", type(obj).__name__)))
            continue
        key = _repeated_key(obj, repeated) if repeated else None
        if key is not None:
            out.append((i, Unreadable("duplicate_key", f"key {key!r} appears twice in one object; curate reads the "
                                      "first value, other readers may read the last", text[:80])))
            continue
        if "\\u" in text and _SURROGATE_ESCAPE.search(text) and not _encodable(obj):
            out.append((i, Unreadable("invalid_utf8", "line holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), "
                                      "which is not valid Unicode", text[:80])))
            continue
        out.append((i, obj))
    return out


def _repeated_key(row: dict[str, Any], repeated: list[tuple[dict[str, Any], str]]) -> str | None:
    """The key repeated in the row itself or in one of its messages (the objects a consumer reads;
    a repeat deeper inside another value is left alone, as the fast path cannot see it)."""
    messages = row.get("messages")
    read = [row, *(m for m in messages if isinstance(m, dict))] if isinstance(messages, list) else [row]
    for obj, key in repeated:
        if any(obj is r for r in read):
            return key
    return None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _encodable(obj: Any) -> bool:
    """False when a decoded value holds a lone surrogate (UTF-8 cannot encode it)."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _read_parquet(path: Path) -> list[tuple[int, dict[str, Any] | Unreadable]]:
    import polars as pl

    frame = pl.read_parquet(path)
    rows = frame.to_dicts()
    # Parquet has a fixed schema, so an absent key shows up as null: drop nulls to mirror JSONL
    return [(i, {k: v for k, v in row.items() if v is not None}) for i, row in enumerate(rows, 1)]
