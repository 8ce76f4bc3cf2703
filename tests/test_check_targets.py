"""`curate check` knows export targets: every target's own files pass, curate's side files are skipped,
and the README's pre-commit hook passes on every export folder while still blocking a broken file."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import curate
from curate.check import check_files
from curate.export.base import target_names

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "eurlex" / "pipeline.yaml"
SIDE = {"ledger.parquet", "rejected.jsonl", "findings.parquet"}


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("exports")
    return {name: curate.run(EXAMPLE, export__out=str(root / name), export__target=name).out_dir for name in target_names()}


def data_and_side_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in (".jsonl", ".parquet") and "hf_dataset" not in p.parts)


@pytest.mark.parametrize("name", target_names())
def test_every_target_passes_and_side_files_are_skipped(exports, name):
    files = data_and_side_files(exports[name])
    result = check_files(files)
    errors = result.findings.filter(result.findings["severity"] == "error")
    assert errors.height == 0, errors.head(5).to_dicts()
    skipped = {Path(p).name for p, _ in result.skipped}
    assert SIDE & {p.name for p in files} <= skipped
    checked = [Path(p) for p in result.rows]
    assert checked and all(p.name not in SIDE for p in checked)
    assert sum(result.rows.values()) > 0


def test_explicit_target_overrides_and_broken_rows_are_found(exports, tmp_path):
    folder = tmp_path / "verl"
    shutil.copytree(exports["verl"], folder)
    import polars as pl

    frame = pl.read_parquet(folder / "train.parquet")
    broken = frame.with_columns(pl.when(pl.int_range(pl.len()) == 2).then(pl.lit(None)).otherwise(pl.col("prompt")).alias("prompt"))
    broken.write_parquet(folder / "train.parquet")
    result = check_files([folder / "train.parquet"], target="verl")
    lines = result.findings.filter(result.findings["severity"] == "error").select("line", "rule").rows()
    assert (3, "missing_messages") in lines
    # with no manifest beside it and no --target, the file is read as plain RFT rows: no messages anywhere
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(folder / "valid.parquet", alone / "valid.parquet")
    plain = check_files([alone / "valid.parquet"])
    missing = plain.findings.filter(plain.findings["rule"] == "missing_messages").height
    assert missing == plain.rows[str(alone / "valid.parquet")] > 0
    # a side file named explicitly under a target is skipped, not misread
    assert check_files([folder / "ledger.parquet"], target="verl").skipped[0][0] == str(folder / "ledger.parquet")


@pytest.mark.skipif(importlib.util.find_spec("pre_commit") is None or shutil.which("git") is None,
                    reason="needs the pre-commit package and git")
def test_readme_hook_passes_on_every_export_folder_and_blocks_a_broken_file(exports, tmp_path):
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("repos:\n  - repo: local"):]
    config = yaml.safe_load(block[: block.index("```")])
    hook = config["repos"][0]["hooks"][0]
    assert hook["entry"] == "curate check" and hook["files"] == r"\.(jsonl|parquet)$"
    exe = Path(sys.executable).with_name("curate")
    hook["entry"] = f"{exe} check" if exe.exists() else f"{sys.executable} -m curate.check"
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e", "PYTHONPATH": str(ROOT)}

    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=60)

    def pre_commit() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--all-files"], cwd=repo, env=env,
                              capture_output=True, text=True, timeout=600)

    git("init", "-q")
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    for name, folder in exports.items():
        shutil.copytree(folder, repo / "exports" / name)
    git("add", ".")
    passed = pre_commit()
    assert passed.returncode == 0, passed.stdout[-3000:] + passed.stderr[-2000:]

    gemini = repo / "exports" / "gemini-rl" / "valid.jsonl"
    lines = gemini.read_text().splitlines()
    row = json.loads(lines[0])
    row["contents"] = []
    gemini.write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    git("add", ".")
    failed = pre_commit()
    assert failed.returncode == 1
    assert "exports/gemini-rl/valid.jsonl:1: missing_messages" in failed.stdout or \
        "exports/gemini-rl/valid.jsonl:1: last_message_not_user" in failed.stdout, failed.stdout[-3000:]
