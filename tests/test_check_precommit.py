"""The pre-commit hook, run by ``pre-commit`` itself on a temporary git repository (no network:
the hook is declared as a local hook with this repository's manifest values)."""

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

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / ".pre-commit-hooks.yaml"

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("pre_commit") is None or shutil.which("git") is None,
    reason="needs the pre-commit package and git",
)


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def hook_entry() -> str:
    exe = Path(sys.executable).with_name("curate")
    return f"{exe} check" if exe.exists() else f"{sys.executable} -m curate.check"


def test_manifest_is_valid_and_targets_exports():
    out = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", str(MANIFEST)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    (hook,) = yaml.safe_load(MANIFEST.read_text())
    assert hook["id"] == "curate-check" and hook["entry"] == "curate check" and hook["language"] == "python"
    assert hook["files"] == r"\.(jsonl|parquet)$"


def test_hook_runs_through_pre_commit(tmp_path):
    (hook,) = yaml.safe_load(MANIFEST.read_text())
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e", "PYTHONPATH": str(ROOT)}
    assert run(["git", "init", "-q"], repo, env).returncode == 0
    local = {**hook, "entry": hook_entry(), "language": "system"}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]}))
    good = {"id": "a", "messages": [{"role": "user", "content": "Regulation on the import of apples into the Union."}],
            "reference_answer": ["trade"]}
    bad = {"id": "b", "messages": [{"role": "system", "content": "Regulation on the export refunds for cereals."}],
           "reference_answer": ["agri-foodstuffs"]}
    export = repo / "train.jsonl"
    export.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    (repo / "notes.txt").write_text("not an export {")
    run(["git", "add", "."], repo, env)

    failed = run([sys.executable, "-m", "pre_commit", "run", "--all-files"], repo, env)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "train.jsonl:2: disallowed_role: messages[0] has role 'system'" in failed.stdout
    assert "train.jsonl:2: last_message_not_user" in failed.stdout
    assert "notes.txt" not in failed.stdout

    bad["messages"][0]["role"] = "user"
    export.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    run(["git", "add", "."], repo, env)
    passed = run([sys.executable, "-m", "pre_commit", "run", "--all-files"], repo, env)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout
