"""The whole-pipeline benchmark runs end to end (quick mode) and reports consistent numbers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "pipeline.py"


def test_quick_pipeline_benchmark_reports_ratios_for_each_pack(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("bench_pipeline", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    results = bench.main(["--quick", "--rules", "none,minimal", "--work", str(tmp_path)])
    assert [r["rules"] for r in results] == ["none", "minimal"]
    for r in results:
        assert r["rows"] == 20_000 and sum(r["counts"].values()) == 20_000
        assert r["counts"]["valid"] == 1000
        assert r["pipeline_s"] > 0 and r["floor_s"] >= 0 and r["time_ratio"] > 0 and r["pipeline_peak_mib"] > 0
        # the ratio agrees with the times it was computed from, within their rounding to 0.01 (pure
        # interval arithmetic: no assumption about how fast the machine is)
        half = 0.005
        assert r["time_ratio"] >= (r["pipeline_s"] - half) / (r["floor_s"] + half) - half
        if r["floor_s"] > half:
            assert r["time_ratio"] <= (r["pipeline_s"] + half) / (r["floor_s"] - half) + half
    assert "curate, rules: minimal" in capsys.readouterr().out
