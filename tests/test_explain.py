"""findings.parquet holds every finding with partner lines; `curate explain` answers for any line or id."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import curate
from curate.errors import SourceError
from curate.explain import explain, render

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "eurlex" / "pipeline.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return curate.run(EXAMPLE, export__out=str(tmp_path_factory.mktemp("out")))


def test_findings_parquet_has_every_finding_with_warnings_and_partners(run):
    stored = pl.read_parquet(run.out_dir / "findings.parquet")
    assert stored.equals(run.findings)
    assert set(stored["severity"]) == {"error", "warn"}
    pairs = stored.filter(pl.col("rule") == "near_duplicate")
    assert pairs.height and pairs["partner"].null_count() == 0
    assert (pairs["partner"] < pairs["line"]).all()  # a near-duplicate points at the earlier row it repeats
    manifest = json.loads((run.out_dir / "manifest.json").read_text())
    assert "findings.parquet" in manifest["files"]


def test_explain_answers_for_every_line(run):
    ledger = pl.read_parquet(run.out_dir / "ledger.parquet")
    for line, disposition in ledger.select("line", "disposition").iter_rows():
        story = explain(run.out_dir, str(line))
        (row,) = story.rows
        assert row["line"] == line and row["disposition"] == disposition
        assert {f["rule"] for f in row["findings"]} == set(run.findings.filter(pl.col("line") == line)["rule"])


def test_explain_names_partners_both_ways(run):
    pair = run.findings.filter(pl.col("rule") == "near_duplicate").row(0, named=True)
    later = explain(run.out_dir, str(pair["line"])).rows[0]
    earlier = explain(run.out_dir, str(pair["partner"])).rows[0]
    assert pair["partner"] in [p["line"] for p in later["partners"]]
    assert pair["line"] in [p["line"] for p in earlier["partners"]]
    ledger = dict(pl.read_parquet(run.out_dir / "ledger.parquet").select("line", "disposition").iter_rows())
    assert all(p["disposition"] == ledger[p["line"]] for p in later["partners"])
    source_line = EXAMPLE.with_name("raw.jsonl").read_text().splitlines()[pair["partner"] - 1]
    text = next(p["text"] for p in later["partners"] if p["line"] == pair["partner"])
    assert source_line.startswith(text.rstrip("…"))
    assert f"paired with line {pair['partner']}" in render(explain(run.out_dir, str(pair["line"])))


def test_explain_by_id_and_clear_errors(run, tmp_path):
    first = pl.read_parquet(run.out_dir / "ledger.parquet").row(0, named=True)
    assert explain(run.out_dir, first["id"]).rows[0]["line"] == first["line"]
    with pytest.raises(SourceError, match="no row at line"):
        explain(run.out_dir, "no-such-id")
    with pytest.raises(SourceError, match="no ledger.parquet"):
        explain(tmp_path, "1")
    out = subprocess.run([sys.executable, "-m", "curate", "explain", str(tmp_path / "nope"), "1"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "Traceback" not in out.stderr and "no such output folder" in out.stderr
