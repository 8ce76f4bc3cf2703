"""The ``dryrun:`` section of a pipeline config: the EUR-Lex example, exported, then dry-run."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from chat_server import ChatServer

import curate
from curate.errors import GateFailed

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "eurlex"
KEY = "sk-test-pipeline-0123"


def with_dryrun(tmp_path: Path, **dryrun) -> Path:
    folder = tmp_path / "ex"
    if not folder.exists():
        shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("out"))
    config = (EXAMPLE / "pipeline.yaml").read_text()
    lines = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in dryrun.items())
    (folder / "pipeline.yaml").write_text(config + "dryrun:\n" + lines)
    return folder / "pipeline.yaml"


def test_pipeline_runs_the_dry_run_after_export_and_gates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRYRUN_TEST_KEY", KEY)
    options = {"samples": 2, "api_key_env": "DRYRUN_TEST_KEY", "grader_workers": 0, "grader": "multilabel_f1"}
    with ChatServer(api_key=KEY, models=["base", "better"]) as server:  # answers {"labels": []}
        config = with_dryrun(tmp_path, model="base", base_url=server.url, **options)
        with pytest.raises(GateFailed, match="dry run verdict no-go"):
            curate.run(config)
        assert server.requests == 200
    out = config.parent / "out"
    train = [json.loads(line) for line in (out / "train.jsonl").read_text().splitlines()]
    report = json.loads((out / "dryrun.json").read_text())
    assert report["summary"]["verdict"] == "no-go" and len(report["items"]) == len(train) == 100
    ledger = pl.read_parquet(out / "ledger.parquet")
    flagged = set(ledger.filter(pl.col("reasons").list.contains("suspect_label"))["id"])
    assert flagged == {row["id"] for row in train}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rules"]["suspect_label"] == 100
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name

    script = {}
    for row in train:  # a model that is right on the first of every two samples
        script[row["messages"][-1]["content"]] = [json.dumps({"labels": row["reference_answer"]}), '{"labels": []}']
    with ChatServer(script, api_key=KEY, models=["base", "better"]) as server:
        config = with_dryrun(tmp_path, model="better", base_url=server.url, **options)
        curate.run(config)  # go: no exception
        assert server.requests == 200
    report = json.loads((out / "dryrun.json").read_text())
    assert (report["summary"]["verdict"], report["summary"]["mean"]) == ("go", 0.5)
    assert not pl.read_parquet(out / "ledger.parquet")["reasons"].list.contains("suspect_label").any()
