"""`curate run` from the command line, as a user types it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def curate(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate", *args], capture_output=True, text=True, cwd=cwd)


def test_run_example_with_overrides(tmp_path):
    shutil.copytree(ROOT / "examples" / "eurlex", tmp_path / "ex", ignore=shutil.ignore_patterns("out"))
    done = curate("run", str(tmp_path / "ex" / "pipeline.yaml"), "--out", str(tmp_path / "o"),
                  "--set", "split.validation=40", "--set", "balance.size=120")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert (manifest["counts"]["train"], manifest["counts"]["valid"]) == (80, 40)
    assert "done: 300 rows" in done.stderr


def test_errors_are_one_line_without_traceback(tmp_path):
    done = curate("run", str(tmp_path / "missing.yaml"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {tmp_path / 'missing.yaml'}: pipeline file does not exist"
    (tmp_path / "p.yaml").write_text("source: {path: raw.jsonl}\nexport: {out: out}\n")
    done = curate("run", str(tmp_path / "p.yaml"))
    assert done.returncode == 2 and "raw.jsonl: no such file" in done.stderr and "Traceback" not in done.stderr
    done = curate("run", str(tmp_path / "p.yaml"), "--set", "novalue")
    assert done.returncode == 2 and "--set expects KEY=VALUE" in done.stderr


def test_bad_option_uses_the_one_error_template(tmp_path):
    (tmp_path / "raw.jsonl").write_text('{"id": "a", "text": "some text", "labels": ["x"]}\n')
    (tmp_path / "p.yaml").write_text("source: {path: raw.jsonl}\nbalance: {size: 0}\nexport: {out: out}\n")
    done = curate("run", str(tmp_path / "p.yaml"))
    assert done.returncode == 2
    assert "The 'size' parameter of balance must be an int in the range [1, inf). Got 0 instead." in done.stderr


def test_seed_option_seeds_the_stages_the_pipeline_has(tmp_path):
    shutil.copytree(ROOT / "examples" / "eurlex", tmp_path / "ex", ignore=shutil.ignore_patterns("out"))
    done = curate("run", str(tmp_path / "ex" / "pipeline.yaml"), "--seed", "11", "-q")
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / "ex" / "out" / "manifest.json").read_text())["config"]
    assert config["split"]["seed"] == 11 and config["balance"]["seed"] == 11
    (tmp_path / "raw.jsonl").write_text("".join(
        json.dumps({"id": f"r{i}", "text": f"document number {i} about topic {i % 3}", "labels": [f"t{i % 3}"]}) + "\n"
        for i in range(30)))
    (tmp_path / "p.yaml").write_text("source: {path: raw.jsonl}\nrules: []\nsplit: {validation: 6}\nexport: {out: out}\n")
    done = curate("run", str(tmp_path / "p.yaml"), "--seed", "5", "-q")
    assert done.returncode == 0, done.stderr
    config = json.loads((tmp_path / "out" / "manifest.json").read_text())["config"]
    assert config["split"]["seed"] == 5 and "balance" not in config
