"""The split benchmark's quick mode runs and prints its table (so it cannot rot)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "split.py"


@pytest.mark.slow
def test_quick_benchmark_prints_one_table():
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| synthetic")]
    assert len(rows) == 4
    for line in rows:
        cells = [c.strip() for c in line.strip("|").split("|")]
        times = cells[1].split(" / ")
        assert len(times) == 4 and float(times[0]) >= 0  # curate always runs
        assert cells[5].split(" / ")[0] == "0"  # curate FZ
        assert cells[4].split(" / ")[0] == "0"  # curate ED: exact sizes
    assert "| 20,000 x 100, order 1 |" in out.stdout


def test_mulan_loader_reads_values_after_comma_space(tmp_path, monkeypatch):
    # genbase writes "O00060, NO, ..., 1, 0": the loader used to compare " 1" with "1" and read no labels
    import importlib.util

    spec = importlib.util.spec_from_file_location("split_bench", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    folder = tmp_path / "mulan" / "toy"
    folder.mkdir(parents=True)
    (folder / "toy.xml").write_text('<labels><label name="A"></label><label name="B"></label></labels>')
    (folder / "toy.arff").write_text(
        "@relation toy\n@attribute protein {P1, P2, P3}\n@attribute PS1 {YES, NO}\n"
        "@attribute A {0, 1}\n@attribute B {0, 1}\n@data\nP1, YES, 1, 0\nP2, NO, 1, 1\nP3, NO, 0, 0\n"
    )
    monkeypatch.setattr(bench, "SHARED", tmp_path)
    assert bench.mulan("toy").toarray().tolist() == [[1, 0], [1, 1], [0, 0]]
