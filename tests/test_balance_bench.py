"""The balance benchmark's quick mode runs and curate is at least as even as the capped baseline."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "balance.py"


@pytest.mark.slow
def test_quick_benchmark_prints_one_table():
    out = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = [line for line in out.stdout.splitlines() if line.startswith("| ") and "|---" not in line][1:]
    assert len(rows) >= 2
    for line in rows:
        assert line.rstrip(" |").split("|")[-1].strip().startswith("yes"), line
