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
