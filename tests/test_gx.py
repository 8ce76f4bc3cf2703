"""great-expectations integration: the contract as a suite, validation of a curated frame, Data Docs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl
import pytest

from curate.errors import MissingDependency
from curate.gx import contract, to_pandas

DATA = Path(__file__).parent / "data" / "rules_eurlex_sample.jsonl"


def curated(n: int = 20) -> pl.DataFrame:
    rows = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()[30 : 30 + n]]
    return pl.DataFrame({
        "line": list(range(1, n + 1)), "id": [r["celex_id"] for r in rows], "text": [r["text"] for r in rows],
        "labels": [r["level_1"] for r in rows], "label_names": [sorted(r["level_1_en"]) for r in rows],
    }, schema_overrides={"line": pl.Int64})


def test_contract_mirrors_schema_and_pack_without_importing_gx():
    kinds = {(e.type, e.kwargs.get("column")) for e in contract("curated", ["default"], label_names=("trade",))}
    assert ("ExpectColumnValuesToBeUnique", "line") in kinds
    assert ("ExpectColumnValueLengthsToBeBetween", "text") in kinds
    assert ("ExpectColumnValuesToBeBetween", "label_names__len") in kinds
    assert ("ExpectColumnValuesToBeBetween", "label_names__outside") in kinds
    pdf = to_pandas(curated(3), label_names=("trade",))
    assert {"label_names__len", "label_names__outside"} <= set(pdf.columns)
    assert isinstance(pdf["label_names"][0], str)


def test_missing_gx_names_the_extra(monkeypatch):
    from curate.gx import expectation_suite

    monkeypatch.setitem(sys.modules, "great_expectations", None)
    with pytest.raises(MissingDependency, match=r"pip install 'curate\[gx\]'"):
        expectation_suite([])


@pytest.mark.slow
def test_validate_curated_frame_and_build_data_docs(tmp_path):
    pytest.importorskip("great_expectations")
    from curate.gx import validate_with_gx

    frame = curated()
    bad = pl.concat([
        frame,
        frame.head(1).with_columns(pl.lit(21, dtype=pl.Int64).alias("line")),  # exact duplicate
        frame.slice(1, 1).with_columns(pl.lit(22, dtype=pl.Int64).alias("line"), pl.lit("  ").alias("text")),
        frame.slice(2, 1).with_columns(pl.lit(23, dtype=pl.Int64).alias("line"),
                                       pl.lit([], dtype=pl.List(pl.String)).alias("label_names")),
    ])
    report = validate_with_gx(bad, stage="curated", packs=["default"], project_dir=tmp_path / "gx",
                              docs_dir=tmp_path / "docs")
    assert report.success is False
    failed = {(r["expectation"], r["column"]): r["unexpected_count"] for r in report.results.filter(~pl.col("success")).iter_rows(named=True)}
    assert failed == {
        ("expect_compound_columns_to_be_unique", "text,label_names"): 2,
        ("expect_column_values_to_not_match_regex", "text"): 1,
        ("expect_column_values_to_be_between", "label_names__len"): 1,
    }
    assert report.results.height > 10 and report.results["success"].sum() == report.results.height - 3
    assert report.docs_index is not None and report.docs_index.is_file()
    assert report.docs_index.is_relative_to(tmp_path / "docs")
