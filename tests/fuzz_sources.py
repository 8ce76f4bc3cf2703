"""Hypothesis strategies for hostile sources, shared by the fuzz tests (issue 13).

Each strategy draws a :class:`Source`: the bytes of a file in one format, the field mapping to read
it with, and how many rows the file holds (what the ledger must account for). Rows mix good
records with the attacks of the red-team pass and variants: NaN/Infinity, deep nesting, repeated
keys, mixed types, invalid UTF-8, lone surrogates, byte-order marks, stray quotes, blank lines,
huge lines, random bytes.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

from hypothesis import strategies as st

WORDS = ("regulation council member state import export duty product market aid fisheries "
         "agriculture customs tariff quota annex article commission decision directive").split()
LABELS = ("trade", "law", "farm", "tax")


@dataclass(frozen=True)
class Source:
    name: str  # file name (its suffix picks the format)
    data: bytes
    rows: int | None  # rows the file holds; None when the whole file may be refused
    mapping: dict = field(default_factory=dict)  # source: section (path added by the caller)


def _text(rnd: random.Random, i: int) -> str:
    return f"document {i}: " + " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(8, 30)))


def _good(rnd: random.Random, i: int) -> dict:
    return {"id": f"r{i}", "text": _text(rnd, i), "labels": rnd.sample(LABELS, rnd.randint(1, 2))}


def _deep(rnd: random.Random) -> str:
    depth = rnd.choice((2, 30, 63, 64, 65, 200, 1023, 1025, 3000))
    if rnd.random() < 0.5:
        return "[" * depth + "]" * depth
    return '{"a": ' * depth + "1" + "}" * depth


_ODD_VALUES = ("5", "1.5", "true", "null", "[]", "{}", '{"en": "x"}', '["a", 5]', '"x"', "-0", "1e400",
               '"\\ud800"', '"caf\\u00e9"', '"nul\\u0000"', "[null]", '["", " a "]', "NaN", "Infinity")


def jsonl_line(rnd: random.Random, i: int, kind: str) -> bytes:
    """One physical line of a JSON Lines file (no newline)."""
    row = _good(rnd, i)
    body = json.dumps(row, ensure_ascii=rnd.random() < 0.5)
    if kind == "good":
        return body.encode()
    if kind == "nan":
        constant = rnd.choice(("NaN", "Infinity", "-Infinity"))
        key = rnd.choice(("score", "id", "text", "labels"))
        value = f"[{constant}]" if key == "labels" else constant
        return (body[:-1] + f', "{key}": {value}' + "}").encode() if key == "score" else \
            json.dumps({**row, key: 0}).replace(f'"{key}": 0', f'"{key}": {value}').encode()
    if kind == "deep":
        return (body[:-1] + ', "n": ' + _deep(rnd) + "}").encode()
    if kind == "dup":
        key = rnd.choice(("id", "text", "labels", "other"))
        return (body[:-1] + f', "{key}": ' + rnd.choice(_ODD_VALUES) + "}").encode()
    if kind == "mixed":
        key = rnd.choice(("id", "text", "labels"))
        return json.dumps({**row, key: 0}).replace(f'"{key}": 0', f'"{key}": {rnd.choice(_ODD_VALUES)}').encode()
    if kind == "bad_utf8":
        raw = body.encode()
        cut = rnd.randrange(len(raw))
        return raw[:cut] + rnd.choice((b"\xff", b"\xe9", b"\xc3", b"\xed\xa0\x80")) + raw[cut:]
    if kind == "truncated":
        return body[: rnd.randrange(len(body))].encode()
    if kind == "random":
        return bytes(rnd.choice([b for b in range(256) if b not in (10, 13)]) for _ in range(rnd.randint(1, 40)))
    if kind == "huge":
        return json.dumps({**row, "text": "word " * 60_000 + str(i)}).encode()
    if kind == "not_object":
        return rnd.choice((b"[1, 2]", b'"a string"', b"42", b"null", b"true"))
    raise AssertionError(kind)


ROW_KINDS = ("good", "good", "good", "good", "nan", "deep", "dup", "mixed", "bad_utf8", "truncated", "random",
             "huge", "not_object")


@st.composite
def jsonl_sources(draw, *, good_rows: int = 0) -> Source:
    seed = draw(st.integers(0, 2**32 - 1))
    kinds = draw(st.lists(st.sampled_from(ROW_KINDS), min_size=0, max_size=25))
    rnd = random.Random(seed)
    kinds = ["good"] * good_rows + kinds
    rnd.shuffle(kinds)
    lines: list[bytes] = []
    for i, kind in enumerate(kinds, 1):
        if draw(st.booleans()) and draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from((b"", b"   ", b"\t"))))  # blank lines are not rows
        lines.append(jsonl_line(rnd, i, kind))
    data = b"\n".join(lines) + (b"\n" if draw(st.booleans()) else b"")
    if draw(st.integers(0, 5)) == 0:
        data = b"\xef\xbb\xbf" + data
    rows = sum(1 for line in data.split(b"\n") if line.replace(b"\xef\xbb\xbf", b"", 1).strip())
    return Source("raw.jsonl", data, rows, {"id": "id"})


@st.composite
def json_array_sources(draw, *, good_rows: int = 0) -> Source:
    seed = draw(st.integers(0, 2**32 - 1))
    kinds = draw(st.lists(st.sampled_from(("good", "good", "nan", "deep", "dup", "mixed", "not_object")),
                          max_size=15))
    rnd = random.Random(seed)
    kinds = ["good"] * good_rows + kinds
    rnd.shuffle(kinds)
    elements = [jsonl_line(rnd, i, kind) for i, kind in enumerate(kinds, 1)]
    data = b"[" + b",\n".join(elements) + b"]"
    if draw(st.integers(0, 5)) == 0:
        data = b"\xef\xbb\xbf" + data
    return Source("raw.json", data, len(elements), {"id": "id"})


def csv_line(rnd: random.Random, i: int, kind: str, sep: str) -> tuple[bytes, int]:
    """One CSV row (no final newline) and how many rows it is (0 for a blank line)."""
    text = _text(rnd, i)
    labels = "|".join(rnd.sample(LABELS, rnd.randint(1, 2)))
    quoted = '"' + text.replace('"', '""') + '"'
    if kind == "good":
        return sep.join((f"r{i}", quoted if rnd.random() < 0.5 else text, labels)).encode(), 1
    if kind == "embedded":  # delimiter, quotes and a newline inside a quoted field: one row
        inner = f'{text}{sep} with ""quotes""\nand a second line'
        return sep.join((f"r{i}", f'"{inner}"', labels)).encode(), 1
    if kind == "stray_quote":
        cut = rnd.randrange(len(text))
        return sep.join((f"r{i}", text[:cut] + '"' + text[cut:] if rnd.random() < 0.5 else '"' + text, labels)).encode(), 1
    if kind == "fields":
        return sep.join([f"r{i}", text, labels] + ["extra"] * rnd.randint(1, 2) if rnd.random() < 0.5
                        else [f"r{i}"]).encode(), 1
    if kind == "bad_utf8":
        return sep.join((f"r{i}", text, labels)).encode().replace(b" ", b" \xe9", 1), 1
    if kind == "huge":
        return sep.join((f"r{i}", "word " * 40_000, labels)).encode(), 1
    if kind == "empty_fields":
        return sep.join((f"r{i}", "", "")).encode(), 1
    if kind == "no_labels_sep":
        return sep.join((f"r{i}", text, labels.replace("|", ";"))).encode(), 1
    raise AssertionError(kind)


CSV_KINDS = ("good", "good", "good", "embedded", "stray_quote", "fields", "bad_utf8", "huge", "empty_fields",
             "no_labels_sep")


@st.composite
def csv_sources(draw, *, good_rows: int = 0) -> Source:
    seed = draw(st.integers(0, 2**32 - 1))
    tsv = draw(st.booleans())
    sep = "\t" if tsv else ","
    kinds = draw(st.lists(st.sampled_from(CSV_KINDS), max_size=25))
    rnd = random.Random(seed)
    kinds = ["good"] * good_rows + kinds
    rnd.shuffle(kinds)
    lines, rows = [sep.join(("id", "text", "labels")).encode()], 0
    for i, kind in enumerate(kinds, 1):
        line, n = csv_line(rnd, i, kind, sep)
        lines.append(line)
        rows += n
    ending = draw(st.sampled_from((b"\n", b"\r\n")))
    data = ending.join(lines) + (ending if draw(st.booleans()) else b"")
    if draw(st.integers(0, 4)) == 0:
        data = b"\xef\xbb\xbf" + data
    return Source("raw.tsv" if tsv else "raw.csv", data, rows, {"id": "id", "labels_sep": "|"})


@st.composite
def parquet_sources(draw, *, good_rows: int = 0) -> Source:
    import io

    import polars as pl

    seed = draw(st.integers(0, 2**32 - 1))
    n = draw(st.integers(0, 20)) + good_rows
    rnd = random.Random(seed)
    ids = draw(st.sampled_from(("str", "int", "float")))
    labels = draw(st.sampled_from(("list_str", "list_int", "str", "list_null", "null")))
    text = draw(st.sampled_from(("str", "str", "int", "null_some")))
    col_id = {"str": [f"r{i}" for i in range(n)], "int": list(range(n)),
              "float": [float("nan") if i % 5 == 0 else i + 0.5 for i in range(n)]}[ids]
    col_text = {"str": [_text(rnd, i) for i in range(n)], "int": list(range(n)),
                "null_some": [None if i % 4 == 0 else _text(rnd, i) for i in range(n)]}[text]
    col_labels = {"list_str": [rnd.sample(LABELS, 1) for _ in range(n)], "list_int": [[i % 3] for i in range(n)],
                  "str": [rnd.choice(LABELS) for _ in range(n)],
                  "list_null": [[rnd.choice(LABELS), None] if i % 3 == 0 else [rnd.choice(LABELS)] for i in range(n)],
                  "null": [None] * n}[labels]
    frame = pl.DataFrame({"id": col_id, "text": col_text, "labels": col_labels}, strict=False)
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return Source("raw.parquet", buffer.getvalue(), n, {"id": "id"})


@st.composite
def random_files(draw) -> Source:
    """Random bytes under any format's name: refused as a whole or read row by row."""
    name = draw(st.sampled_from(("raw.jsonl", "raw.json", "raw.csv", "raw.tsv", "raw.parquet")))
    data = draw(st.binary(max_size=300))
    return Source(name, data, None, {"id": "id", **({"labels_sep": "|"} if name.endswith(("csv", "tsv")) else {})})


def any_source(good_rows: int = 0) -> st.SearchStrategy[Source]:
    return st.one_of(jsonl_sources(good_rows=good_rows), json_array_sources(good_rows=good_rows),
                     csv_sources(good_rows=good_rows), parquet_sources(good_rows=good_rows))
