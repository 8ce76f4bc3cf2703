"""Hostile sources (issue 13: D1, D5, D6, D14, D21, D28): a bad row is a finding, never a crash.

Every test loads a real file and checks that each physical row is either a record or a finding.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from curate.io.load import load_records
from curate.io.source import SourceSpec

TEXT = "a text that is long enough to pass"


def spec(path: Path, **kw) -> SourceSpec:
    kw.setdefault("format", SourceSpec.from_mapping({"path": str(path)}).format)
    return SourceSpec(path=path, **{"id": "id", "text": "text", "labels": "labels", **kw})


def row(id_: str, **extra) -> str:
    return json.dumps({"id": id_, "text": TEXT, "labels": ["x"], **extra})


def write(path: Path, lines: list[str | bytes]) -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode()) + b"\n" for x in lines))
    return path


def fates(loaded) -> dict[int, str]:
    """line -> 'ok' or the sorted error rules of that line; every line exactly once."""
    out = {line: "ok" for line in loaded.frame["line"].to_list()}
    errors = loaded.findings.filter(pl.col("severity") == "error")
    for line, rules in errors.group_by("line").agg(pl.col("rule").unique().sort()).iter_rows():
        assert line not in out, f"line {line} is both a record and rejected"
        out[line] = ",".join(rules)
    assert len(out) == loaded.input_rows
    return out


def test_nan_and_infinity_anywhere_reject_only_their_row(tmp_path):  # D1, D28
    path = write(tmp_path / "raw.jsonl", [
        row("a"),
        row("b")[:-1] + ', "score": NaN}',          # unmapped field
        row("c")[:-1] + ', "s": [1, -Infinity]}',   # nested in an unmapped field
        f'{{"id": NaN, "text": "{TEXT}", "labels": ["x"]}}',      # the id itself
        f'{{"id": "e", "text": "{TEXT}", "labels": ["x", Infinity]}}',
        row("f"),
    ])
    loaded = load_records(spec(path))
    assert fates(loaded) == {1: "ok", 2: "malformed_json", 3: "malformed_json", 4: "malformed_json",
                             5: "malformed_json", 6: "ok"}
    messages = loaded.findings.filter(pl.col("line") == 2)["message"].item()
    assert "NaN" in messages and "not valid JSON" in messages


def test_nan_in_a_json_array_rejects_only_its_element(tmp_path):  # D1
    path = tmp_path / "raw.json"
    path.write_text("[" + ",".join([row("a"), row("b")[:-1] + ', "s": NaN}', row("c")]) + "]")
    assert fates(load_records(spec(path))) == {1: "ok", 2: "malformed_json", 3: "ok"}


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_deep_nesting_is_a_finding_in_jsonl_and_json_arrays(tmp_path):  # D5
    lines = [row("a"), row("b")[:-1] + ', "n": ' + deep(3000) + "}",
             row("c")[:-1] + ', "o": ' + '{"a": ' * 300 + "1" + "}" * 300 + "}", row("d")]
    loaded = load_records(spec(write(tmp_path / "raw.jsonl", lines)))
    assert fates(loaded) == {1: "ok", 2: "malformed_json", 3: "malformed_json", 4: "ok"}
    assert "deeper than" in loaded.findings["message"][0]
    array = tmp_path / "raw.json"
    array.write_text("[" + ",".join(lines) + "]")
    assert fates(load_records(spec(array))) == {1: "ok", 2: "malformed_json", 3: "malformed_json", 4: "ok"}


def test_moderate_nesting_still_loads(tmp_path):
    lines = [row("a", n=json.loads(deep(40))), row("b")]
    assert fates(load_records(spec(write(tmp_path / "raw.jsonl", lines)))) == {1: "ok", 2: "ok"}


def test_empty_jsonl_source_has_no_rows(tmp_path):  # D6
    for name, data in (("zero.jsonl", b""), ("blank.jsonl", b"\n\n"), ("array.json", b"[]")):
        loaded = load_records(spec(_bytes(tmp_path / name, data)))
        assert loaded.input_rows == 0 and loaded.frame.height == 0 and loaded.findings.is_empty()


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_utf8_bom_is_not_part_of_the_first_row(tmp_path):  # D14 (JSONL, JSON)
    path = write(tmp_path / "raw.jsonl", [b"\xef\xbb\xbf" + row("a").encode(), row("b")])
    loaded = load_records(spec(path))
    assert fates(loaded) == {1: "ok", 2: "ok"} and loaded.frame["id"].to_list() == ["a", "b"]
    array = _bytes(tmp_path / "raw.json", b"\xef\xbb\xbf[" + row("a").encode() + b"]")
    assert load_records(spec(array)).frame["id"].to_list() == ["a"]


def test_repeated_keys_keep_the_first_value_on_every_path(tmp_path):  # D21
    dup = f'{{"id": "d", "text": "first {TEXT}", "text": "second {TEXT}", "labels": ["x"]}}'
    for lines in ([row("a"), dup], [row("a"), dup, "{broken"]):  # fast path, careful path
        loaded = load_records(spec(write(tmp_path / "raw.jsonl", lines)))
        assert loaded.frame.filter(pl.col("id") == "d")["text"].item().startswith("first")
    # a value polars coerces is re-read from the raw line: still the first value
    coerced = f'{{"id": "e", "text": 5, "text": "second {TEXT}", "labels": ["x"]}}'
    loaded = load_records(spec(write(tmp_path / "raw.jsonl", [row("a"), coerced])))
    assert fates(loaded) == {1: "ok", 2: "wrong_type"}
    array = tmp_path / "raw.json"
    array.write_text("[" + dup + "]")
    assert load_records(spec(array)).frame["text"].item().startswith("first")


def csv_rows(n: int) -> list[str]:
    return [f"r{i},{TEXT} number {i},x" for i in range(1, n + 1)]


def test_a_stray_quote_in_a_csv_row_never_swallows_the_rows_after_it(tmp_path):  # D7
    rows = csv_rows(201)
    rows[100] = 's1,"stray opening quote then text long enough,x'
    for name, sep in (("raw.csv", ","), ("raw.tsv", "\t")):
        path = write(tmp_path / name, [sep.join(["id", "text", "labels"])] + [r.replace(",", sep) for r in rows])
        loaded = load_records(spec(path, labels_sep="|"))
        got = fates(loaded)
        assert loaded.input_rows == 201 and len(got) == 201
        assert got[102] == "malformed_csv" and sum(v == "ok" for v in got.values()) == 200
        assert "quote" in loaded.findings.filter(pl.col("line") == 102)["message"].item()


def test_a_quoted_field_spanning_lines_is_still_one_row(tmp_path):
    path = write(tmp_path / "raw.csv", ["id,text,labels", f'a,"{TEXT}\nsecond line of the same text",x', f"b,{TEXT},y"])
    loaded = load_records(spec(path, labels_sep="|"))
    assert fates(loaded) == {2: "ok", 4: "ok"}
    assert loaded.frame["text"][0] == f"{TEXT}\nsecond line of the same text"


def test_an_unterminated_quote_at_the_end_is_one_finding(tmp_path):
    path = write(tmp_path / "raw.csv", ["id,text,labels", *csv_rows(3), 'z,"never closed,x', *csv_rows(2)])
    got = fates(load_records(spec(path, labels_sep="|")))
    assert got[5] == "malformed_csv" and len(got) == 6 and sum(v == "ok" for v in got.values()) == 5


def test_csv_bom_and_invalid_utf8_rows(tmp_path):  # D14, D19
    path = write(tmp_path / "raw.csv", [b"\xef\xbb\xbfid,text,labels", *[r.encode() for r in csv_rows(2)],
                                        b"r3,caf\xe9 " + TEXT.encode() + b",x", csv_rows(4)[3].encode()])
    loaded = load_records(spec(path, labels_sep="|"))
    assert fates(loaded) == {2: "ok", 3: "ok", 4: "invalid_utf8", 5: "ok"}
    assert loaded.frame["id"].to_list() == ["r1", "r2", "r4"]


def test_a_huge_csv_field_is_read(tmp_path):
    big = "word " * 60_000  # 300 kB: above the csv module's default field limit
    path = write(tmp_path / "raw.csv", ["id,text,labels", f"a,{big},x", f"b,{TEXT},x"])
    loaded = load_records(spec(path, labels_sep="|"))
    assert fates(loaded) == {2: "ok", 3: "ok"} and len(loaded.frame["text"][0]) == len(big)


def test_null_blank_and_padded_labels_are_reported_not_dropped_silently(tmp_path):  # D28
    from curate.vocab import identity_labels

    path = write(tmp_path / "raw.jsonl", [
        row("a"),
        json.dumps({"id": "b", "text": TEXT, "labels": ["econ", None]}),
        json.dumps({"id": "c", "text": TEXT, "labels": ["econ", 5]}),        # integer ids are ids
        json.dumps({"id": "d", "text": TEXT, "labels": ["econ", ""]}),
        json.dumps({"id": "e", "text": TEXT, "labels": ["  spaced  "]}),
        json.dumps({"id": "f", "text": TEXT, "labels": ["econ", 1.5]}),
    ])
    loaded = load_records(spec(path))
    frame, found = identity_labels(loaded.frame)
    assert dict(frame.select("id", "label_names").rows()) == {
        "a": ["x"], "b": ["econ"], "c": ["5", "econ"], "d": ["econ"], "e": ["spaced"]}
    everything = pl.concat([loaded.findings, found])
    got = {(r["id"], r["rule"], r["severity"]) for r in everything.iter_rows(named=True)}
    assert got == {("b", "empty_label", "warn"), ("d", "empty_label", "warn"),
                   ("e", "label_whitespace", "warn"), ("f", "wrong_type", "error")}


def test_a_source_that_is_not_a_regular_file_is_refused(tmp_path):  # D30
    import os

    import pytest

    from curate.errors import SourceError

    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    for path in (Path("/dev/zero"), fifo, tmp_path):
        with pytest.raises(SourceError, match="not a regular file"):
            load_records(SourceSpec(path=path, format="jsonl", id="id"))


def test_lone_surrogate_beside_other_trouble_is_a_row_finding(tmp_path):  # found by the fuzz suite
    surrogate = '{"id": "\\ud800", "text": "%s", "labels": ["x"]}' % TEXT  # noqa: UP031
    array = tmp_path / "raw.json"
    array.write_text("[" + ",".join([row("a"), '{"id": "b", "labels": [NaN]}', surrogate]) + "]")
    assert fates(load_records(spec(array))) == {1: "ok", 2: "malformed_json", 3: "invalid_utf8"}
    # JSONL careful path with a field polars cannot unify (a number here, an object there)
    lines = [row("a", m=1), row("b", m={"k": 1}), surrogate, "{broken"]
    assert fates(load_records(spec(write(tmp_path / "raw.jsonl", lines)))) == {
        1: "ok", 2: "ok", 3: "invalid_utf8", 4: "malformed_json"}
