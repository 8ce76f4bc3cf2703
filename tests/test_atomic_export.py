"""A run killed at any moment never leaves a half-written export, nor a mix of two runs' files."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

FINAL_NAMES = ("train.jsonl", "valid.jsonl", "rejected.jsonl", "response_format.json", "manifest.json")


def make_source(folder: Path, rows: int) -> Path:
    rng = np.random.default_rng(0)
    words = np.array("the of act shall member state regulation council import export duty fish aid".split())
    with open(folder / "raw.jsonl", "w") as fh:
        for i in range(rows):
            text = " ".join(rng.choice(words, 40))
            labels = [f"L{j}" for j in rng.choice(12, rng.integers(1, 4), replace=False)]
            fh.write(json.dumps({"id": f"r{i}", "text": f"{i} {text}", "labels": labels}) + "\n")
    config = {"source": {"path": "raw.jsonl"}, "rules": [], "split": {"validation": 1000, "seed": 3},
              "export": {"out": "out", "developer": "Pick labels from {{ label_names | join(', ') }}."}}
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(config))
    return folder / "pipeline.yaml"


def start(pipeline: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "curate", "run", str(pipeline), "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def check_consistent(out: Path) -> None:
    """Every file under its final name is complete; a manifest vouches for all files beside it."""
    for name in FINAL_NAMES:
        path = out / name
        if not path.exists():
            continue
        if name.endswith(".jsonl"):
            for line in path.read_text().splitlines():
                json.loads(line)  # a half-written file fails here
        else:
            json.loads(path.read_text())
    manifest = out / "manifest.json"
    if manifest.exists():
        for name, digest in json.loads(manifest.read_text())["files"].items():
            assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name


def check_one_set(out: Path, input_rows: set[int]) -> int:
    """The folder is one whole run's set: a manifest listing exactly the files beside it (issue 13, D12);
    nothing of a staging folder is left beside it once a run ends. Returns the set's input rows."""
    check_consistent(out)
    manifest = json.loads((out / "manifest.json").read_text())
    present = {p.name for p in out.iterdir()} - {"manifest.json"}
    assert present == set(manifest["files"]), present ^ set(manifest["files"])
    assert manifest["input_rows"] in input_rows
    return manifest["input_rows"]


def test_killing_a_run_at_any_moment_leaves_no_partial_file(tmp_path):
    pipeline = make_source(tmp_path, 20_000)
    began = time.perf_counter()
    done = start(pipeline)
    assert done.wait(timeout=120) == 0, done.stderr.read().decode()
    duration = time.perf_counter() - began
    check_consistent(tmp_path / "out")
    check_one_set(tmp_path / "out", {20_000})
    # each later run reads one more row, so the manifest tells which run's set the folder holds
    rows = (tmp_path / "raw.jsonl").read_text()
    seen = {20_000}
    for extra, fraction in enumerate((0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 1.0), 1):
        (tmp_path / "raw.jsonl").write_text(rows + "".join(
            json.dumps({"id": f"x{i}", "text": f"extra row {i} " * 5, "labels": ["L1"]}) + "\n" for i in range(extra)))
        proc = start(pipeline)
        time.sleep(duration * fraction)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        seen.add(check_one_set(tmp_path / "out", seen | {20_000 + extra}))
    proc = start(pipeline)
    assert proc.wait(timeout=120) == 0
    assert check_one_set(tmp_path / "out", {20_008}) == 20_008
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "pipeline.yaml", "raw.jsonl"]
