"""The fast path of ``curate check`` (:mod:`curate.check.file`): clean JSONL lines decoded by polars.

A line is *clean* when it matches a strict regular grammar built from the file's usual key order
(:func:`layout`): a JSON object with exactly those keys in that order, a non-empty ``messages``
list of ``{"role", "content"}`` objects with string contents and allowed roles ending on ``user``,
string-list reference answers, a string or small integer ``id``, and scalars or flat
arrays/objects elsewhere. Strings may hold any escape but ``\\uD800``-``\\uDFFF`` (Python keeps a
lone surrogate, polars does not). Such a line is valid JSON with the same meaning for Python's
``json`` and for polars, has no format finding, and carries the layout's keys, so polars can
decode whole chunks of them off the GIL. Every other line (and every line of a chunk polars
cannot decode) takes the exact per-line Python path.

>>> lay = layout([{"id": "a", "messages": [{"role": "user", "content": "x"}], "reference_answer": ["t"]}], "reference_answer")
>>> rows = pl.Series(['{"id": "b", "messages": [{"role": "user", "content": "Caf\\\\u00e9"}], "reference_answer": ["t"]}',
...                   "", '{"id": "c", "messages": [{"role": "system", "content": "x"}], "reference_answer": []}'])
>>> part = clean_rows(rows, 1, lay)
>>> part.frame.rows(), part.slow, part.rows
([(1, 'b', 'Café', 't')], [3], 2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

_W = r"[ \t\n\r]*"  # JSON whitespace (what Python's json skips)
# a JSON string without raw control characters and without surrogate escapes
_STR = r'"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u(?:[0-9a-cA-Ce-fE-F][0-9a-fA-F]{3}|[dD][0-7][0-9a-fA-F]{2}))*"'
_NUM = r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"
_SCALAR = f"(?:{_STR}|{_NUM}|true|false|null)"
_ANY = (  # a scalar, or a flat array or object of scalars (values the check never reads)
    f"(?:{_SCALAR}|\\[{_W}(?:{_SCALAR}(?:{_W},{_W}{_SCALAR})*)?{_W}\\]"
    f"|\\{{{_W}(?:{_STR}{_W}:{_W}{_SCALAR}(?:{_W},{_W}{_STR}{_W}:{_W}{_SCALAR})*)?{_W}\\}})"
)
_ID = f"(?:{_STR}|0|-?[1-9][0-9]{{0,17}}|null)"  # str(int) and polars agree on these
_STR_LIST = f"\\[{_W}(?:{_STR}(?:{_W},{_W}{_STR})*)?{_W}\\]"
_SPACE = " \t\n\r\x0b\x0c"  # what bytes.strip() removes
_BLANK = f"^[{_SPACE.encode('unicode_escape').decode()}]*$"


def _message(role: str) -> str:
    r, c = f'"role"{_W}:{_W}{role}', f'"content"{_W}:{_W}{_STR}'
    return f"\\{{{_W}(?:{r}{_W},{_W}{c}|{c}{_W},{_W}{r}){_W}\\}}"


_ANY_ROLE, _USER = '"(?:developer|user|assistant|tool)"', '"user"'
_MESSAGES = f"\\[{_W}(?:{_message(_ANY_ROLE)}{_W},{_W})*{_message(_USER)}{_W}\\]"


def _literal(key: str) -> str:
    """``key`` as a JSON string literal in a regular expression (no escape sequences)."""
    return '"' + "".join(ch if ch.isalnum() or ch == "_" else f"\\x{{{ord(ch):x}}}" for ch in key) + '"'


@dataclass(frozen=True)
class Layout:
    keys: frozenset[str]  # the key set of every clean line
    pattern: str  # regular expression of a clean line
    dtype: pl.Struct  # what polars decodes: messages, and id / the reference key when present
    ref_key: str | None


def layout(rows: Sequence[Mapping[str, Any]], ref_key: str | None) -> Layout | None:
    """The clean-line grammar for rows like the most common key order of ``rows`` (parsed rows
    from the start of the file), or None when there is no usable one (no ``messages`` key)."""
    orders: dict[tuple[str, ...], int] = {}
    for row in rows:
        orders[tuple(row)] = orders.get(tuple(row), 0) + 1
    if not orders:
        return None
    keys = max(orders, key=orders.__getitem__)  # first of the most common orders
    if "messages" not in keys:
        return None
    members, fields = [], {}
    for key in keys:
        if key == "messages":
            value = _MESSAGES
            fields[key] = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))
        elif key == ref_key:
            value = _STR_LIST
            fields[key] = pl.List(pl.String)
        elif key == "id":
            value = _ID
            fields[key] = pl.String
        else:
            value = _ANY
        members.append(f"{_literal(key)}{_W}:{_W}{value}")
    pattern = f"^{_W}\\{{{_W}" + f"{_W},{_W}".join(members) + f"{_W}\\}}{_W}$"
    return Layout(frozenset(keys), pattern, pl.Struct(fields), ref_key)


@dataclass(frozen=True)
class CleanRows:
    frame: pl.DataFrame  # line, id, text, joined (labels joined as curate.check.file.row_frame does)
    slow: list[int]  # lines (1-based) that need the Python path
    rows: int  # non-blank lines of the chunk


LABEL_SEP, NO_LABELS = "\x1f", "\x1e"  # joined labels: sep-joined, NO_LABELS for an empty list


def clean_rows(text: pl.Series, first: int, lay: Layout) -> CleanRows:
    """Decode the clean lines of ``text`` (one line per value, numbered from ``first``; null for
    a line that is not valid UTF-8)."""
    try:
        return _clean_rows(text, first, lay)
    except Exception:  # polars cannot take this chunk (say, a pattern too large): the exact path decides
        slow = [line for line, value in enumerate(text.to_list(), first) if value is None or value.strip(_SPACE)]
        return CleanRows(_empty(), slow, len(slow))


def split_lines(chunk: bytes) -> tuple[pl.Series, list[bytes]]:
    """``chunk`` split at newlines (``bytes.split``): the lines as strings, null where a line is
    not valid UTF-8 (Python reports it), and as bytes.

    >>> text, lines = split_lines(b'a\\n\\nb\\xff\\n')
    >>> text.to_list(), lines
    (['a', '', None, ''], [b'a', b'', b'b\\xff', b''])
    """
    lines = chunk.split(b"\n")
    try:
        return pl.Series("line", lines, dtype=pl.Binary).cast(pl.String), lines
    except pl.exceptions.ComputeError:  # some line is not valid UTF-8
        return pl.Series("line", [_utf8(line) for line in lines], dtype=pl.String), lines


def _clean_rows(text: pl.Series, first: int, lay: Layout) -> CleanRows:
    frame = pl.DataFrame({"s": text}).with_row_index("line", offset=first).select(
        pl.col("line").cast(pl.Int64),
        pl.col("s"),
        pl.col("s").str.contains(_BLANK).fill_null(False).alias("blank"),
        pl.col("s").str.contains(lay.pattern).fill_null(False).alias("clean"),
    )
    rows = frame.height - int(frame["blank"].sum())
    clean = frame.filter(pl.col("clean"))
    slow = frame.filter(~pl.col("clean") & ~pl.col("blank"))["line"].to_list()
    fields = clean["s"].str.json_decode(lay.dtype).struct
    last = fields.field("messages").list.last()
    ref = fields.field(lay.ref_key) if lay.ref_key in lay.keys and lay.ref_key else None
    out = pl.DataFrame({
        "line": clean["line"],
        "id": fields.field("id") if "id" in lay.keys else pl.Series("id", [None] * clean.height, dtype=pl.String),
        "text": last.struct.field("content"),
        "role": last.struct.field("role"),
        "joined": _joined(ref) if ref is not None else pl.Series("joined", [None] * clean.height, dtype=pl.String),
        "ok": ref.is_not_null() if ref is not None else pl.Series("ok", [True] * clean.height),
    })
    # the grammar guarantees these; a row that breaks them anyway goes the exact way
    good = (pl.col("role") == "user") & pl.col("text").is_not_null() & pl.col("ok")
    bad = out.filter(~good.fill_null(False))["line"].to_list()
    if bad:
        slow = sorted(slow + bad)
    return CleanRows(out.filter(good.fill_null(False)).select("line", "id", "text", "joined"), slow, rows)


def _utf8(line: bytes) -> str | None:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _joined(ref: pl.Series) -> pl.Series:
    return pl.select(
        pl.when(ref.list.len() == 0).then(pl.lit(NO_LABELS)).otherwise(ref.list.join(LABEL_SEP)).alias("joined")
    )["joined"]


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema={"line": pl.Int64, "id": pl.String, "text": pl.String, "joined": pl.String})
