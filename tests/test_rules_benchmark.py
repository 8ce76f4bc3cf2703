"""The rules benchmark runs end to end in quick mode and reports numbers it measured."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_benchmark_runs_and_reports(tmp_path):
    pytest.importorskip("datasketch")
    out = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "rules.py"), "--quick", "--json", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    check, near = report["check"], report["near_duplicates"]
    assert check["eurlex"]["lines"] == 1000 and check["eurlex"]["python_m_s"] > 0
    assert check["eurlex"]["exit_m"] == 0  # the generated export is clean
    assert near["documents"] == 2000 and near["true_pairs_in_sample"] > 0
    assert near["recall_curate"] >= near["recall_datasketch"] - 0.05
    assert near["precision_curate_in_sample"] == 1.0  # every reported pair is verified exactly
    assert f"{near['curate_s']} s" in proc.stdout
