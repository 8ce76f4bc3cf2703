"""Loading real and deliberately broken sources into the record frame."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from curate.errors import SourceError
from curate.io.load import load_records
from curate.io.source import SourceSpec

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "eurlex" / "raw.jsonl"


def spec(path: Path, **kw) -> SourceSpec:
    kw.setdefault("format", SourceSpec.from_mapping({"path": str(path)}).format)
    return SourceSpec(path=path, **{"id": "k", "text": "t.en", "labels": "y", **kw})


def write_lines(path: Path, lines: list[str | bytes]) -> Path:
    with open(path, "wb") as fh:
        for line in lines:
            fh.write((line if isinstance(line, bytes) else line.encode()) + b"\n")
    return path


def test_real_example_loads_every_row_with_nested_text():
    loaded = load_records(SourceSpec(EXAMPLE, "jsonl", id="celex_id", text="text.en", labels="eurovoc_concepts",
                                     passthrough=(("document_type", "document_type"),)))
    assert loaded.input_rows == 300
    assert loaded.frame.height == 300 and loaded.findings.is_empty()
    assert loaded.frame["line"].to_list() == list(range(1, 301))
    first = json.loads(EXAMPLE.read_text().splitlines()[0])
    row = loaded.frame.row(0, named=True)
    assert row["id"] == first["celex_id"] and row["text"] == first["text"]["en"]
    assert row["labels"] == first["eurovoc_concepts"] and row["document_type"] == first["document_type"]


def test_every_kind_of_bad_line_is_reported_with_line_and_field(tmp_path):
    path = write_lines(tmp_path / "raw.jsonl", [
        '{"k": "a", "t": {"en": "fine"}, "y": ["1", "2"]}',   # 1 ok
        '{"k": "b", "t": {"en": "x"}, "y": "3"}',             # 2 labels as a string
        "",                                                    # blank: not a row
        '{"k": 1, "t": {"en": 5}, "y": [4, 5]}',              # 4 text as a number
        '{bad json',                                           # 5 malformed
        '{"k": "d", "t": "flat", "y": ["1"]}',                 # 6 text not an object
        '{"k": "e"}',                                          # 7 missing text and labels
        '{"k": "f", "t": {"en": "obj"}, "y": [{"x": 1}]}',    # 8 labels hold objects
        "[1, 2]",                                              # 9 JSON but not an object
        b'{"k": "h", "t": {"en": "bad \xff"}, "y": ["1"]}',   # 10 invalid UTF-8
        '{"k": 7, "t": {"en": "numeric id"}, "y": [3]}',      # 11 ok: ints become strings
    ])
    loaded = load_records(spec(path))
    assert loaded.input_rows == 10
    assert loaded.frame.select("line", "id", "labels").rows() == [(1, "a", ["1", "2"]), (11, "7", ["3"])]
    got = {(r["line"], r["rule"], r["field"]) for r in loaded.findings.iter_rows(named=True)}
    assert got == {
        (2, "wrong_type", "y"), (4, "wrong_type", "t.en"), (5, "malformed_json", None),
        (6, "wrong_type", "t"), (7, "missing_field", "t.en"), (7, "missing_field", "y"),
        (8, "wrong_type", "y"), (9, "malformed_json", None), (10, "invalid_utf8", None),
    }
    by_line = {r["line"]: r for r in loaded.findings.iter_rows(named=True)}
    assert "got a string" in by_line[2]["message"] and by_line[2]["id"] == "b"
    assert "got a number" in by_line[4]["message"]


def test_fast_and_careful_paths_agree(tmp_path):
    rows = [json.dumps({"k": f"r{i}", "t": {"en": f"text {i}"}, "y": [str(i % 3)]}) for i in range(50)]
    clean = write_lines(tmp_path / "clean.jsonl", rows)
    dirty = write_lines(tmp_path / "dirty.jsonl", [*rows[:25], "{broken", *rows[25:]])
    a, b = load_records(spec(clean)), load_records(spec(dirty))
    assert a.frame.drop("line").equals(b.frame.drop("line"))
    assert b.frame["line"].to_list() == [*range(1, 26), *range(27, 52)]
    assert b.findings.select("line", "rule").rows() == [(26, "malformed_json")]


def test_whitespace_only_lines_are_not_rows_and_do_not_shift_line_numbers(tmp_path):
    path = write_lines(tmp_path / "raw.jsonl", ['{"k":"a","t":{"en":"x"},"y":["1"]}', "   ", "\t",
                                                 '{"k":"b","t":{"en":"y"},"y":["2"]}'])
    loaded = load_records(spec(path))
    assert loaded.input_rows == 2 and loaded.frame["line"].to_list() == [1, 4]


def test_crlf_lines(tmp_path):
    path = tmp_path / "raw.jsonl"
    path.write_bytes(b'{"k":"a","t":{"en":"x"},"y":["1"]}\r\n{"k":"b","t":{"en":"y"},"y":["2"]}\r\n')
    loaded = load_records(spec(path))
    assert loaded.frame["text"].to_list() == ["x", "y"] and loaded.findings.is_empty()


def test_mapping_that_matches_no_column_fails_before_work(tmp_path):
    path = write_lines(tmp_path / "raw.jsonl", ['{"k":"a","t":{"en":"x"},"y":["1"]}'])
    with pytest.raises(SourceError, match=r"no field 'body'.*fields present: k, t, y"):
        load_records(spec(path, text="body"))
    with pytest.raises(SourceError, match=r"no field 'fr' under 't'"):
        load_records(spec(path, text="t.fr"))


def test_missing_file_and_unknown_format(tmp_path):
    with pytest.raises(SourceError, match="no such file"):
        load_records(spec(tmp_path / "nope.jsonl", format="jsonl"))
    (tmp_path / "data.xml").write_text("<a/>")
    with pytest.raises(SourceError, match="unknown format '.xml'"):
        SourceSpec.from_mapping({"path": str(tmp_path / "data.xml")})


def test_csv_with_separated_labels_and_a_ragged_row(tmp_path):
    path = tmp_path / "raw.csv"
    path.write_text('id,body,codes\nA,"hello, world",1|2\nB,"multi\nline",3\nC,too,many,fields\nD,,4\n')
    loaded = load_records(SourceSpec(path, "csv", id="id", text="body", labels="codes", labels_sep="|"))
    assert loaded.input_rows == 4
    assert loaded.frame.select("line", "id", "text", "labels").rows() == [
        (2, "A", "hello, world", ["1", "2"]), (3, "B", "multi\nline", ["3"]), (6, "D", "", ["4"])]
    assert loaded.findings.select("line", "rule").rows() == [(5, "malformed_csv")]


def test_parquet_and_json_array(tmp_path):
    frame = pl.DataFrame({"k": ["a", "b"], "body": ["x", None], "y": [["1"], ["2", "3"]]})
    frame.write_parquet(tmp_path / "raw.parquet")
    loaded = load_records(SourceSpec(tmp_path / "raw.parquet", "parquet", id="k", text="body", labels="y"))
    assert loaded.frame.select("line", "id").rows() == [(1, "a")]
    assert loaded.findings.select("line", "rule", "field").rows() == [(2, "missing_field", "body")]
    (tmp_path / "raw.json").write_text(json.dumps([{"k": "a", "body": "x", "y": ["1"]}, {"k": "b", "body": 3, "y": []}]))
    loaded = load_records(SourceSpec(tmp_path / "raw.json", "json", id="k", text="body", labels="y"))
    assert loaded.frame["id"].to_list() == ["a"]
    assert loaded.findings.select("line", "rule").rows() == [(2, "wrong_type")]


def test_saved_hugging_face_dataset(tmp_path):
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"uid": ["a", "b"], "text": [{"en": "x"}, {"en": "y"}], "labels": [[1], [2, 3]]})
    datasets.DatasetDict({"train": ds}).save_to_disk(str(tmp_path / "hf"))
    loaded = load_records(SourceSpec.from_mapping({"path": str(tmp_path / "hf"), "id": "uid", "text": "text.en",
                                                   "split": "train"}))
    assert loaded.frame.select("id", "text", "labels").rows() == [("a", "x", ["1"]), ("b", "y", ["2", "3"])]
    with pytest.raises(SourceError, match="choose one with source.split"):
        load_records(SourceSpec.from_mapping({"path": str(tmp_path / "hf"), "id": "uid", "text": "text.en"}))


def test_ids_default_to_line_numbers(tmp_path):
    path = write_lines(tmp_path / "raw.jsonl", ['{"t":{"en":"x"},"y":["1"]}', '{"t":{"en":"y"},"y":["2"]}'])
    loaded = load_records(spec(path, id=None))
    assert loaded.frame["id"].to_list() == ["line-1", "line-2"]


def test_suspect_rows_are_re_read_from_their_raw_line_on_every_path(tmp_path):
    rows = ['{"k":"a","t":{"en":"fine"},"y":["1"]}', '{"k":"b","t":{"en":12},"y":["2"]}',
            '{"k":"c","t":{"en":"[not, a list]"},"y":["3"]}']
    clean = write_lines(tmp_path / "clean.jsonl", rows)  # no blank line: lazy line index
    blank = write_lines(tmp_path / "blank.jsonl", [rows[0], "", rows[1], "", rows[2]])  # empty lines only
    for path, lines in ((clean, [1, 2, 3]), (blank, [1, 3, 5])):
        loaded = load_records(spec(path))
        assert loaded.input_rows == 3
        assert loaded.frame.select("line", "text").rows() == [(lines[0], "fine"), (lines[2], "[not, a list]")]
        assert loaded.findings.select("line", "rule", "field").rows() == [(lines[1], "wrong_type", "t.en")]
