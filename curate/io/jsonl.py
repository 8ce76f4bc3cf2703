"""Read JSON Lines (and JSON arrays) into a frame of decoded objects with source line numbers.

Clean files take the fast path: one multithreaded ``polars.read_ndjson`` plus a line index built
with numpy. A file with malformed lines, invalid UTF-8 or whitespace-only lines takes the careful
path: lines are checked in chunks, bad ones become findings with their line number, and the good
ones are decoded together. Either way the result has a ``line`` column (1-based).

Lines polars cannot read are read with :mod:`curate.io.strict_json`, which gives them the meaning
polars would (a repeated key keeps its first value) and rejects what polars rejects or chokes on
(``NaN``, nesting deeper than :data:`~curate.io.strict_json.MAX_DEPTH`). Type inference over the
whole file never sees a line nested that deep: polars' inference slows down exponentially with
nested objects (and crashes a few hundred levels down), so such a file takes the careful path.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from curate.frame import ERROR, as_findings, empty_findings
from curate.frame import LINE as LINE_COL
from curate.io import strict_json
from curate.io.strict_json import MAX_DEPTH, JsonProblem

_CHUNK_BYTES = 1 << 24
_CHECK_CHUNK_LINES = 2048
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Decoded:
    """Decoded objects, the findings of lines that could not be decoded, and raw-line access."""

    frame: pl.DataFrame  # ``line`` + one column per top-level key
    findings: pl.DataFrame
    input_rows: int  # non-blank lines
    raw_lines: Callable[[Sequence[int]], dict[int, str]]  # line number -> raw text


def line_starts(path: Path) -> np.ndarray:
    """Byte offset of the start of every line (a trailing newline opens no new line)."""
    starts = [np.zeros(1, dtype=np.int64)]
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK_BYTES):
            nl = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == 10).astype(np.int64)
            starts.append(nl + size + 1)
            size += len(chunk)
    out = np.concatenate(starts)
    return out[out < size] if size else out[:0]


def _line_ends(starts: np.ndarray, size: int) -> np.ndarray:
    """Byte offset just past every line (its terminator included); none in an empty file."""
    return np.append(starts[1:], size) if starts.size else starts


def count_lines(path: Path) -> int:
    """Lines in the file, blank ones included (a trailing newline opens no new line).

    polars counts rows of a one-column, quote-less CSV with the same rule, about 5x faster than
    reading the file here; it refuses an empty file, which the plain loop below handles.
    """
    try:
        return int(pl.scan_csv(path, has_header=False, separator="\x01", quote_char=None,
                               comment_prefix=None).select(pl.len()).collect().item())
    except (pl.exceptions.PolarsError, ValueError):
        pass
    count, last = 0, b""
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK_BYTES):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (1 if last not in (b"", b"\n") else 0)


def read_jsonl(path: Path, schema: Mapping[str, pl.DataType] | None = None) -> Decoded | None:
    """Decode a JSON Lines file; malformed lines become ``malformed_json``/``invalid_utf8`` findings.

    With ``schema`` (see :mod:`curate.io.read_schema`) only those fields are read, without schema
    inference; returns None when the file does not fit it or any line is malformed, and the caller
    reads again without a schema.
    """
    frame = None
    if schema or not maybe_deep(path):
        try:
            frame = pl.read_ndjson(path, schema=schema) if schema else pl.read_ndjson(path, infer_schema_length=None)
        except (pl.exceptions.PolarsError, ValueError):
            if schema:
                return None
    if frame is not None and frame.height == count_lines(path):  # no blank lines: row i is line i+1
        return Decoded(_with_lines(frame, np.arange(1, frame.height + 1)), empty_findings(), frame.height,
                       _lazy_reader(path))
    starts = line_starts(path)
    ends = _line_ends(starts, path.stat().st_size)
    nonblank = np.flatnonzero(ends - starts - _newline_bytes(path, ends) > 0)
    if frame is not None and frame.height == nonblank.size:  # blank lines, but every other line decoded
        return Decoded(_with_lines(frame, nonblank + 1), empty_findings(), int(nonblank.size), _reader(path, starts, ends))
    return _read_carefully(path, starts, ends)


def maybe_deep(path: Path, limit: int = MAX_DEPTH) -> bool:
    """True when some line of ``path`` holds more than ``limit`` opening brackets (an upper bound
    of how deeply it nests): one vectorised pass, done only before full-file type inference."""
    carry = 0  # opening brackets of the line running on from the previous chunk
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK_BYTES):
            data = np.frombuffer(chunk, dtype=np.uint8)
            opens = np.flatnonzero((data == 91) | (data == 123))
            if opens.size + carry <= limit:
                nl = np.flatnonzero(data == 10)
                carry = opens.size + carry if nl.size == 0 else int(opens.size - np.searchsorted(opens, nl[-1]))
                continue
            nl = np.flatnonzero(data == 10)
            counts = np.diff(np.searchsorted(opens, np.concatenate([[-1], nl, [data.size]])))
            counts[0] += carry
            if (counts > limit).any():  # a whole line, or the start of the last one
                return True
            carry = int(counts[-1])
    return False


def _with_lines(frame: pl.DataFrame, lines: np.ndarray) -> pl.DataFrame:
    if LINE_COL in frame.columns:
        frame = frame.rename({LINE_COL: f"{LINE_COL}_"})
    return frame.with_columns(pl.Series(LINE_COL, lines, dtype=pl.Int64)).select(LINE_COL, pl.exclude(LINE_COL))


def _lazy_reader(path: Path) -> Callable[[Sequence[int]], dict[int, str]]:
    """Raw-line access that builds the line index only if a row ever needs re-reading."""
    cache: list[Callable[[Sequence[int]], dict[int, str]]] = []

    def raw_lines(lines: Sequence[int]) -> dict[int, str]:
        if not cache:
            starts = line_starts(path)
            cache.append(_reader(path, starts, _line_ends(starts, path.stat().st_size)))
        return cache[0](lines)

    return raw_lines


def read_json_array(path: Path) -> Decoded:
    """Decode a JSON file holding an array of objects; the row number is the element's position.

    Each element is read on its own (as a JSON Lines line would be), so an element holding
    ``NaN`` or nested too deeply is a finding on that row only.
    """
    from curate.errors import SourceError

    raw = path.read_bytes()
    try:
        text = raw[len(BOM):].decode("utf-8") if raw.startswith(BOM) else raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path}: not valid UTF-8 (byte {exc.start})") from None
    del raw
    texts = array_elements(text)
    if texts is None:
        try:
            data = strict_json.loads(text)  # for the message
        except JsonProblem as exc:
            raise SourceError(f"{path} {exc}") from None
        got = "an object" if isinstance(data, dict) else type(data).__name__
        raise SourceError(f"{path}: expected a JSON array of objects (or use .jsonl), got {got}")
    return _decode_lines(list(range(1, len(texts) + 1)), texts, empty_findings())


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]', re.DOTALL)


def array_elements(text: str) -> list[str] | None:
    """The texts of the elements of the JSON array ``text`` (None when it is not an array).

    >>> array_elements(' [{"a": [1, "],"]}, 2, NaN] ')
    ['{"a": [1, "],"]}', '2', 'NaN']
    """
    body = text.strip()
    if not body.startswith("[") or not body.endswith("]"):
        return None
    try:  # the usual case: one parse, each element written back as compact JSON
        return [json.dumps(v, allow_nan=False) for v in
                json.loads(body, parse_constant=_reject, object_pairs_hook=strict_json.first_wins)]
    except (ValueError, RecursionError):
        pass
    out, depth, start = [], 0, 1
    for match in _TOKEN.finditer(body, 1, len(body) - 1):
        token = match.group()
        if token in "[{":
            depth += 1
        elif token in "]}":
            depth -= 1
        elif token == "," and depth == 0:
            out.append(body[start:match.start()].strip())
            start = match.end()
    last = body[start:-1].strip()
    if last or out:
        out.append(last)
    return out


def _reject(name: str) -> None:
    raise ValueError(name)


def _newline_bytes(path: Path, ends: np.ndarray) -> np.ndarray:
    """How many bytes at each line's end are line terminators (\\n, \\r\\n)."""
    if ends.size == 0:
        return ends
    out = np.zeros(ends.size, dtype=np.int64)
    with open(path, "rb") as fh:
        data = np.memmap(fh, dtype=np.uint8, mode="r") if ends[-1] else np.zeros(0, np.uint8)
        last = ends - 1
        has_nl = data[last] == 10
        out += has_nl
        cr_pos = last - 1
        ok = has_nl & (cr_pos >= 0)
        out[ok] += data[cr_pos[ok]] == 13
        # whitespace-only lines count as blank only through the careful path
    return out


def _reader(path: Path, starts: np.ndarray, ends: np.ndarray) -> Callable[[Sequence[int]], dict[int, str]]:
    def raw_lines(lines: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        with open(path, "rb") as fh:
            for line in lines:
                fh.seek(int(starts[line - 1]))
                out[line] = fh.read(int(ends[line - 1] - starts[line - 1])).decode("utf-8", "replace").rstrip("\r\n")
        return out

    return raw_lines


def _read_carefully(path: Path, starts: np.ndarray, ends: np.ndarray) -> Decoded:
    raw = path.read_bytes()
    line_numbers: list[int] = []
    texts: list[str] = []
    bad: list[dict] = []
    for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        chunk = raw[a:b].rstrip(b"\r\n")
        if a == 0 and chunk.startswith(BOM):  # a byte-order mark is not part of the first row
            chunk = chunk[len(BOM):]
        if not chunk.strip():
            continue
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad.append(_bad(i + 1, "invalid_utf8", f"line is not valid UTF-8 (byte {exc.start})",
                            chunk[:80].decode("utf-8", "replace")))
            continue
        line_numbers.append(i + 1)
        texts.append(text)
    del raw
    findings = as_findings(pl.DataFrame(bad, schema_overrides={"line": pl.Int64})) if bad else empty_findings()
    return _decode_lines(line_numbers, texts, findings, _reader(path, starts, ends))


def _decode_lines(
    line_numbers: list[int],
    texts: list[str],
    findings: pl.DataFrame,
    reader: Callable[[Sequence[int]], dict[int, str]] | None = None,
) -> Decoded:
    """Find the malformed lines chunk by chunk, then decode all good lines in one call."""
    input_rows = len(texts) + findings.height
    # lines nested too deeply never reach polars' type inference
    good = np.array([not strict_json.too_deep(t) for t in texts], dtype=bool)
    bad: list[dict] = []
    for lo in range(0, len(texts), _CHECK_CHUNK_LINES):
        chunk = texts[lo : lo + _CHECK_CHUNK_LINES]
        try:
            if good[lo : lo + _CHECK_CHUNK_LINES].all():
                pl.read_ndjson(io.BytesIO("\n".join(chunk).encode()), infer_schema_length=None)
                if len(chunk) == _count_objects(chunk):
                    continue
        except (pl.exceptions.PolarsError, ValueError):
            pass
        for j, text in enumerate(chunk):
            problem = _json_problem(text)
            if problem:
                good[lo + j] = False
                bad.append(_bad(line_numbers[lo + j], "malformed_json", problem, text[:80]))
    keep = np.flatnonzero(good)
    kept_texts = [texts[k] for k in keep]
    lines = pl.Series(LINE_COL, [line_numbers[k] for k in keep], dtype=pl.Int64)
    frame = _decode_objects(kept_texts) if kept_texts else pl.DataFrame()
    frame = frame.drop(LINE_COL, strict=False).with_columns(lines).select(LINE_COL, pl.exclude(LINE_COL))
    if bad:
        findings = pl.concat([findings, as_findings(pl.DataFrame(bad, schema_overrides={"line": pl.Int64}))])
    if reader is None:
        by_line = dict(zip(line_numbers, texts, strict=True))

        def reader(lines: Sequence[int]) -> dict[int, str]:
            return {line: by_line[line] for line in lines}

    return Decoded(frame, findings.sort("line"), input_rows, reader)


def _decode_objects(texts: list[str]) -> pl.DataFrame:
    """One frame from JSON object texts; fields whose types polars cannot unify become JSON text.

    polars gives up on a field that is, say, a number in one row and an object or a boolean in
    another. Such fields are rewritten the way polars itself coerces mixed fields to strings (a
    string stays as it is, any other value becomes its JSON text); the loader re-decodes and checks
    them row by row (:func:`curate.io.load.map_fields`).
    """
    try:
        return pl.read_ndjson(io.BytesIO("\n".join(texts).encode()), infer_schema_length=None)
    except (pl.exceptions.PolarsError, ValueError):
        objects = [strict_json.loads(t) for t in texts]
    mixed = _mixed_type_fields(objects)
    try:
        return _read_objects(objects, mixed)
    except (pl.exceptions.PolarsError, ValueError):  # a conflict deeper inside an object or a list
        return _read_objects(objects, mixed | {k for o in objects for k, v in o.items() if isinstance(v, dict | list)})


def _read_objects(objects: list[dict], as_text: set[str]) -> pl.DataFrame:
    def coerced(obj: dict) -> dict:
        return {k: (v if v is None or isinstance(v, str) or k not in as_text else json.dumps(v, ensure_ascii=False))
                for k, v in obj.items()}

    # ASCII escapes: a lone surrogate (from a \\ud800 escape) cannot be encoded as UTF-8 otherwise
    lines = "\n".join(json.dumps(coerced(o)) for o in objects)
    return pl.read_ndjson(io.BytesIO(lines.encode()), infer_schema_length=None)


def _mixed_type_fields(objects: list[dict]) -> set[str]:
    """Top-level keys holding values of more than one JSON kind (integers and floats are one kind)."""
    kinds: dict[str, set[type]] = {}
    for obj in objects:
        for key, value in obj.items():
            if value is not None:
                kinds.setdefault(key, set()).add(float if type(value) is int else type(value))
    return {key for key, seen in kinds.items() if len(seen) > 1}


def _count_objects(chunk: list[str]) -> int:
    return sum(1 for t in chunk if t.lstrip().startswith("{"))


def _json_problem(text: str) -> str | None:
    try:
        value = strict_json.loads(text)
    except JsonProblem as exc:
        return f"line {exc}"
    if not isinstance(value, dict):
        return f"line is JSON but not an object (got {type(value).__name__})"
    return None


def _bad(line: int, rule: str, message: str, value: str) -> dict:
    return {"line": line, "id": None, "rule": rule, "severity": ERROR, "field": None,
            "value": value, "message": message}
