"""The fast JSONL read (explicit schema from the mapping) gives what full schema inference gives."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from curate.errors import SourceError
from curate.io import jsonl, read_schema
from curate.io.load import load_records, map_fields
from curate.io.source import SourceSpec

CLEAN = {"k": "a", "t": {"en": "some text", "fr": "un texte"}, "y": ["1", "2"], "n": 3, "src": "x", "ok": True}


def rows(count: int = 5, **changes: dict) -> list[dict]:
    """``count`` clean rows; ``changes`` maps a row index (as 'r<i>') to keys to set (None deletes)."""
    out = []
    for i in range(count):
        row = json.loads(json.dumps(CLEAN))
        row["k"] = f"id-{i}"
        for key, value in changes.get(f"r{i}", {}).items():
            if value is _DELETE:
                row.pop(key, None)
            else:
                row[key] = value
        out.append(row)
    return out


_DELETE = object()


def write(path: Path, objs: list[dict | str]) -> Path:
    path.write_text("".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objs), encoding="utf-8")
    return path


def full_inference(spec: SourceSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The loader's reference path: decode with schema inference over every row, then map."""
    decoded = jsonl.read_jsonl(spec.path)
    records, findings = map_fields(decoded.frame, spec, decoded.raw_lines)
    return records, pl.concat([decoded.findings, findings])


def same_outcome(spec: SourceSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    loaded = load_records(spec)
    records, findings = full_inference(spec)
    assert loaded.frame.equals(records), (loaded.frame, records)
    key = ["line", "rule", "field"]
    assert loaded.findings.select(key).sort(key).rows() == findings.select(key).sort(key).rows()
    return loaded.frame, loaded.findings


def spec_for(path: Path, **kw) -> SourceSpec:
    return SourceSpec(path, "jsonl", **{"id": "k", "text": "t.en", "labels": "y", **kw})


CASES = {
    "clean": rows(),
    "integer ids": [{**r, "k": i} for i, r in enumerate(rows())],
    "a string label": rows(r2={"y": "3"}),
    "a number label": rows(r2={"y": 3}),
    "integer labels": rows(r1={"y": [1, 2]}),
    "float and boolean labels": rows(r1={"y": [1.5]}, r3={"y": ["a", True]}),
    "objects inside labels": rows(r1={"y": [{"id": "1"}]}),
    "nested list label": rows(r1={"y": [["1"]]}),
    "flat text where an object is expected": rows(r2={"t": "flat"}),
    "number text where an object is expected": rows(r2={"t": 5}),
    "number, object and list text": rows(r1={"t": {"en": 5}}, r2={"t": {"en": {"x": 1}}}, r3={"t": {"en": [1]}}),
    "float, boolean and object ids": rows(r1={"k": 1.5}, r2={"k": True}, r3={"k": {"a": 1}}),
    "missing fields": rows(r1={"y": _DELETE}, r2={"t": _DELETE}, r3={"k": None}),
    "null labels": rows(r1={"y": None}, r2={"y": []}),
    "labels that look like numbers": rows(r1={"y": ["1.5", "true", "[x"]}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_read_matches_full_inference(tmp_path, case):
    path = write(tmp_path / "raw.jsonl", CASES[case])
    same_outcome(spec_for(path))


def test_clean_file_takes_the_fast_path_and_reads_only_mapped_fields(tmp_path):
    path = write(tmp_path / "raw.jsonl", rows())
    spec = spec_for(path, passthrough=(("n", "n"), ("src", "src"), ("fr", "t.fr")))
    schema = read_schema.mapping_schema(spec, read_schema.sample_schema(path))
    assert schema == {"t": pl.Struct({"en": pl.String, "fr": pl.String}), "y": pl.List(pl.String),
                      "k": pl.String, "n": pl.Int64, "src": pl.String}
    decoded = jsonl.read_jsonl(path, schema)
    assert decoded is not None and set(decoded.frame.columns) == {"line", "t", "y", "k", "n", "src"}
    frame, findings = same_outcome(spec)
    assert findings.is_empty() and frame["fr"].to_list() == ["un texte"] * 5


def test_file_that_breaks_the_schema_falls_back(tmp_path):
    path = write(tmp_path / "raw.jsonl", rows(r1={"y": "3"}))
    schema = read_schema.mapping_schema(spec_for(path))
    assert jsonl.read_jsonl(path, schema) is None
    frame, findings = same_outcome(spec_for(path))
    assert findings.select("line", "rule").rows() == [(2, "wrong_type")]


@pytest.mark.parametrize(("late", "why"), [
    ({"n": "seven"}, "a string after integers fails the read"),
    ({"n": 7.5}, "a float after integers fails the read"),
    ({"ok": 1}, "a number after booleans fails the read"),
    ({"src": 5}, "a number after strings is coerced, as full inference does"),
    ({"tags": ["a"]}, "a passthrough field first seen late has no sampled type"),
])
def test_passthrough_types_sampled_from_the_first_rows_stay_exact(tmp_path, late, why):
    many = rows(read_schema.SAMPLE_ROWS + 50)
    many[-1].update(late)
    path = write(tmp_path / "raw.jsonl", many)
    names = ("n", "ok", "src", "tags")
    frame, _ = same_outcome(spec_for(path, passthrough=tuple((n, n) for n in names if n in many[-1])))
    assert frame.height == len(many), why


def test_object_passthrough_is_read_with_full_inference(tmp_path):
    path = write(tmp_path / "raw.jsonl", [*rows(3), {**rows(1)[0], "k": "z", "meta": {"a": 1}}])
    spec = spec_for(path, passthrough=(("meta", "meta"),))
    assert read_schema.mapping_schema(spec, read_schema.sample_schema(path)) is None
    frame, _ = same_outcome(spec)
    assert frame["meta"].to_list()[-1] == {"a": 1}


def test_blank_and_malformed_lines_keep_their_numbers(tmp_path):
    path = write(tmp_path / "raw.jsonl", [*rows(2), "", "{oops", *rows(2)])
    frame, findings = same_outcome(spec_for(path))
    assert frame["line"].to_list() == [1, 2, 5, 6]
    assert findings.select("line", "rule").rows() == [(4, "malformed_json")]


@pytest.mark.parametrize("mapping", [{"labels": "nope"}, {"text": "t.de"}, {"id": "kk"}])
def test_mapping_that_matches_nothing_is_still_a_source_error(tmp_path, mapping):
    path = write(tmp_path / "raw.jsonl", rows())
    with pytest.raises(SourceError, match="no field"):
        load_records(spec_for(path, **mapping))


def test_labels_null_everywhere_are_missing_fields(tmp_path):
    path = write(tmp_path / "raw.jsonl", [{**r, "y": None} for r in rows(3)])
    _, findings = same_outcome(spec_for(path))
    assert findings["rule"].to_list() == ["missing_field"] * 3


@pytest.mark.parametrize("content", [
    b"", b"\n", b"\n\n\n", b'{"a":1}', b'{"a":1}\n', b'{"a":1}\n\n{"a":2}', b'{"a":1}\r\n\r\n{"a":2}\r\n',
    b'{"a":"x,y\\"z"}\n  \n{"a":"\x01"}\n', b'\n{"a":1}', b'{"a":"\xff\xfe"}\n{"a":2}\n',
])
def test_count_lines_agrees_with_a_plain_count(tmp_path, content):
    path = tmp_path / "f.jsonl"
    path.write_bytes(content)
    expected = content.count(b"\n") + (1 if content and not content.endswith(b"\n") else 0)
    assert jsonl.count_lines(path) == expected


def test_strings_that_start_like_json_in_an_object_field_are_wrong_types(tmp_path):
    path = write(tmp_path / "raw.jsonl", rows(r1={"t": "{not json"}, r2={"t": '{"en": "a string"}'}, r3={"t": 7}))
    frame, findings = same_outcome(spec_for(path))
    assert frame.height == 3 and findings.select("line", "rule").rows() == [(2, "wrong_type"), (4, "wrong_type")]
    assert "got a number" in findings.filter(pl.col("line") == 4)["message"].item()


def test_lone_surrogate_escape_is_rejected_with_its_field(tmp_path):
    lines = [json.dumps(r) for r in rows(3)]
    lines[1] = lines[1].replace('"en": "some text"', '"en": "some \\ud800 text"')
    lines[2] = lines[2].replace('"en": "some text"', '"en": "emoji \\ud83d\\ude00 and \\u0000 nul"')
    path = write(tmp_path / "raw.jsonl", lines)
    loaded = load_records(spec_for(path))
    assert loaded.findings.select("line", "rule", "field").rows() == [(2, "invalid_utf8", "t.en")]
    assert loaded.frame["text"].to_list() == ["some text", "emoji \U0001F600 and \x00 nul"]
