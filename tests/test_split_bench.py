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
