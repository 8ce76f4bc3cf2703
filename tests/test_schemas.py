"""pandera schemas at the stage boundaries: real frames conform, failures come back as rows."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from curate.errors import ConfigError
from curate.frame import FINDINGS_SCHEMA
from curate.schemas import STAGES, load_schema, parse_dtype, read_schema, validate

DATA = Path(__file__).parent / "data" / "rules_eurlex_sample.jsonl"


def records() -> pl.DataFrame:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()[:50]]
    return pl.DataFrame({
        "line": list(range(1, len(rows) + 1)),
        "id": [r["celex_id"] for r in rows],
        "text": [r["text"] for r in rows],
        "labels": [r["level_1"] for r in rows],
        "label_names": [sorted(set(r["level_1_en"])) for r in rows],
        "split": [r["split"] for r in rows],  # a passthrough column
    }, schema_overrides={"line": pl.Int64})


def export_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        "id",
        pl.concat_list(
            pl.struct(pl.lit("developer").alias("role"), pl.lit("Classify.").alias("content")),
            pl.struct(pl.lit("user").alias("role"), pl.col("text").alias("content")),
        ).alias("messages"),
        pl.col("label_names").alias("reference_answer"),
    )


@pytest.mark.parametrize("stage", STAGES)
def test_every_schema_loads(stage):
    spec = read_schema(stage)
    schema = load_schema(stage)
    assert set(schema.columns) == set(spec["columns"])


def test_real_frames_conform_at_every_boundary():
    frame = records()
    assert validate(frame, "records").height == 0
    assert validate(frame, "curated").height == 0
    assert validate(export_rows(frame), "export").height == 0


def test_row_failures_are_findings_keyed_by_line():
    frame = records().with_columns(
        pl.when(pl.col("line") == 4).then(pl.lit("   ")).otherwise(pl.col("text")).alias("text"),
        pl.when(pl.col("line") == 9).then(pl.lit([], dtype=pl.List(pl.String))).otherwise(pl.col("label_names")).alias("label_names"),
    )
    found = validate(frame, "curated")
    assert found.schema == pl.Schema(FINDINGS_SCHEMA)
    assert found.select("line", "field").rows() == [(4, "text"), (9, "label_names")]
    assert found["id"].to_list() == [frame["id"][3], frame["id"][8]]
    assert set(found["rule"]) == {"schema_curated"}
    assert "list_min_length(1)" in found.filter(pl.col("line") == 9)["message"][0]


def test_export_rows_must_end_with_user_and_use_allowed_roles():
    frame = export_rows(records().head(5))
    broken = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.col("messages").list.concat(pl.lit([{"role": "assistant", "content": "trade"}])))
        .when(pl.int_range(pl.len()) == 3)
        .then(pl.col("messages").list.eval(pl.struct(pl.lit("system").alias("role"), pl.element().struct.field("content"))))
        .otherwise(pl.col("messages"))
        .alias("messages")
    )
    found = validate(broken.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias("line")), "export")
    rows = set(found.select("line", "message").rows())
    assert (2, "export schema: messages fails last_role_is(user)") in rows
    assert (4, "export schema: messages fails roles_in(developer, user, assistant, tool)") in rows
    assert (4, "export schema: messages fails last_role_is(user)") in rows
    assert {line for line, _ in rows} == {2, 4}


def test_frame_level_failures_get_line_zero():
    frame = records().drop("text").with_columns(pl.col("line").cast(pl.Int32))
    found = validate(frame, "records")
    assert found.height >= 2 and set(found["line"]) == {0}
    assert {"text", "line"} <= set(found["field"])


def test_unsorted_or_repeated_label_names_are_caught():
    frame = records().with_columns(
        pl.when(pl.col("line") == 2).then(pl.col("label_names").list.reverse()).otherwise(pl.col("label_names"))
    )
    multi = frame.filter(pl.col("label_names").list.len() > 1)["line"].to_list()
    if 2 in multi:
        assert validate(frame, "records").select("line", "field").rows() == [(2, "label_names")]
    dup = records().with_columns(pl.lit(1, dtype=pl.Int64).alias("line"))
    assert set(validate(dup, "records")["message"]) >= {"records schema: line fails field_uniqueness"}


def test_sorted_unique_and_not_blank_checks_flag_exactly_the_bad_rows():
    names = [["a", "b"], ["b", "a"], ["a", "a"], ["a"], ["c", "b", "d"], ["x", "y", "z"]]
    texts = ["ok", "ok", "ok", "\u00a0\u2003\t ", "ok", " x "]
    frame = pl.DataFrame({"line": range(1, 7), "id": [None] * 6, "text": texts,
                          "labels": [["1"]] * 6, "label_names": names}, schema_overrides={"id": pl.String})
    found = validate(frame, "curated").select("line", "field").rows()
    assert found == [(2, "label_names"), (3, "label_names"), (4, "text"), (5, "label_names")]


def test_dtype_parser_and_unknown_stage():
    assert parse_dtype("List(String)") == pl.List(pl.String)
    assert parse_dtype("Struct(a=Int64, b=List(String))") == pl.Struct({"a": pl.Int64, "b": pl.List(pl.String)})
    with pytest.raises(ConfigError, match="unknown dtype"):
        parse_dtype("Decimal")
    with pytest.raises(ConfigError, match="unknown schema stage 'raw'"):
        validate(records(), "raw")


@pytest.mark.parametrize("stage", ["records", "curated", "export"])
def test_large_frames_are_validated_in_slices_with_the_same_findings(stage, monkeypatch):
    """Slices of VALIDATE_ROWS rows (uniqueness still over the whole frame) give the findings one
    validation of the whole frame gives."""
    from curate import schemas

    n = 40
    lines = list(range(1, n + 1))
    lines[5], lines[33], lines[12] = 30, 30, 0  # a repeat across slices, a line under 1
    if stage == "export":
        messages = [[{"role": "user", "content": f"q{i}"}] for i in range(n)]
        messages[7] = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]  # last role
        messages[25] = [{"role": "robot", "content": "q"}]
        frame = pl.DataFrame({"line": lines, "id": [f"r{i}" for i in range(n)], "messages": messages,
                              "reference_answer": [["a"]] * n})
    else:
        texts = [f"text {i}" for i in range(n)]
        texts[9], texts[28] = "", "   "
        names = [["a"]] * n
        names[17] = ["b", "a"]
        frame = pl.DataFrame({"line": lines, "id": [f"r{i}" for i in range(n)], "text": texts,
                              "labels": [["x"]] * n, "label_names": names})
    whole = schemas.validate(frame, stage)
    monkeypatch.setattr(schemas, "VALIDATE_ROWS", 7)
    sliced = schemas.validate(frame, stage)
    assert sliced.equals(whole) and whole.height >= 3
    assert schemas.validate(frame.drop("id"), stage).equals(
        (monkeypatch.undo(), schemas.validate(frame.drop("id"), stage))[1])
