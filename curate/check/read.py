"""Read exported RFT files (JSONL or Parquet) into per-line Python rows, keeping line numbers.

Unreadable lines become :class:`Unreadable` entries, never exceptions.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK_BYTES = 4 << 20  # bytes of lines parsed per chunk by iter_export


@dataclass(frozen=True)
class Unreadable:
    rule: str  # malformed_json | invalid_utf8 | not_an_object
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
    return ReadFile(path, size, _read_jsonl(path.read_bytes()))


def iter_export(path: Path, chunk_bytes: int | None = None) -> Iterator[list[tuple[int, dict[str, Any] | Unreadable]]]:
    """The rows of :func:`read_export` in chunks of whole lines of about ``chunk_bytes`` bytes
    (default :data:`CHUNK_BYTES`), parsed as they are asked for, so the caller can hand one chunk
    to polars while the next one is parsed. Parquet files come as one chunk."""
    size = max(1, chunk_bytes or CHUNK_BYTES)
    if path.suffix.lower() == ".parquet":
        yield _read_parquet(path)
        return
    data = path.read_bytes()
    pos, first = 0, 1
    while True:  # split one chunk at a time, so splitting overlaps with the caller's work too
        stop = data.find(b"\n", pos + size - 1)  # the chunk ends at the first newline after size bytes
        if stop < 0:
            yield _parse_lines(data[pos:].split(b"\n"), first)
            return
        lines = data[pos:stop].split(b"\n")
        yield _parse_lines(lines, first)
        pos, first = stop + 1, first + len(lines)


def _read_jsonl(data: bytes) -> list[tuple[int, dict[str, Any] | Unreadable]]:
    return _parse_lines(data.split(b"\n"), 1)


def _parse_lines(lines: list[bytes], first: int) -> list[tuple[int, dict[str, Any] | Unreadable]]:
    out: list[tuple[int, dict[str, Any] | Unreadable]] = []
    loads = json.loads
    for i, raw in enumerate(lines, first):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            out.append((i, Unreadable("invalid_utf8", f"line is not valid UTF-8 ({exc.reason} at byte {exc.start})")))
            continue
        try:
            obj = loads(text)
        except ValueError as exc:
            out.append((i, Unreadable("malformed_json", f"line is not valid JSON: {exc}", text[:80])))
            continue
        if not isinstance(obj, dict):
            out.append((i, Unreadable("not_an_object", "line is JSON but not an object", type(obj).__name__)))
            continue
        out.append((i, obj))
    return out


def _read_parquet(path: Path) -> list[tuple[int, dict[str, Any] | Unreadable]]:
    import polars as pl

    frame = pl.read_parquet(path)
    rows = frame.to_dicts()
    # Parquet has a fixed schema, so an absent key shows up as null: drop nulls to mirror JSONL
    return [(i, {k: v for k, v in row.items() if v is not None}) for i, row in enumerate(rows, 1)]
