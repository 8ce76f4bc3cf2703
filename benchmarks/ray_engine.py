"""The Ray engine beside the local engine: wall time and peak memory on the same generated pool.

Generates the records of ``benchmarks/pipeline.py`` (about 600 bytes of text, 1 to 6 of 100 labels)
and runs the pipeline with the ``default`` pack, each engine in a fresh subprocess:

- ``local``: ``curate.run(...)``; peak memory is the process's own ``VmHWM``;
- ``ray``: a local Ray with ``--cpus`` CPUs started in the child (its start-up time is shown apart
  and included in the wall time), then ``curate.run(..., engine="ray")``; peak memory is the driver's own ``VmHWM`` and, beside it, the sum of the ``VmHWM`` of every process
  Ray started (GCS, raylet, workers), read before Ray stops. The sum over-counts: shared object-store
  pages are counted in each process that touched them, and peaks at different times are added.

Both runs must give the same counts, and byte-identical ``train.jsonl``, ``valid.jsonl``,
``ledger.parquet`` and ``findings.parquet`` (checked here too).

    python benchmarks/ray_engine.py                 # 200,000 records
    python benchmarks/ray_engine.py --rows 1000000
    python benchmarks/ray_engine.py --quick         # 20,000 records
    python benchmarks/ray_engine.py --rows 50000 --ray-components   # also: the components on Ray
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
_spec = importlib.util.spec_from_file_location("_pipeline_bench", Path(__file__).with_name("pipeline.py"))
_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_bench)

WORK = Path(__file__).resolve().parent / "_work" / "ray_engine"
SAME = ("train.jsonl", "valid.jsonl", "ledger.parquet", "findings.parquet")

LOCAL = """
import curate, sys
curate.run(sys.argv[1], export__out=sys.argv[2])
"""

RAY = """
import curate, sys, logging, os, time
import ray

began = time.perf_counter()
ray.init(num_cpus=int(sys.argv[3]), include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
print("RAYINIT", time.perf_counter() - began)

def _ray_peaks_kib():
    # every process this driver started (GCS, raylet, workers): their own high-water marks
    import psutil
    total = 0
    for child in psutil.Process().children(recursive=True):
        try:
            with open(f"/proc/{child.pid}/status") as fh:
                total += next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:"))
        except (OSError, StopIteration):
            pass
    return total

if sys.argv[4] == "1":  # the connected components on Ray whatever their size (else below 1M edges locally)
    import curate.engine.ray_components
    curate.engine.ray_components.LOCAL_BELOW = 0
curate.run(sys.argv[1], export__out=sys.argv[2], engine__name="ray")
print("RAYPEAK", _ray_peaks_kib())
ray.shutdown()
"""


def run_engine(config: Path, out: Path, engine: str, cpus: int) -> dict:
    """Wall seconds and peaks (MiB) of one engine's run in a fresh Python, and its counts.
    ``engine``: ``local``, ``ray`` or ``ray+cc`` (the components on Ray too, whatever their size)."""
    probe = textwrap.dedent(LOCAL if engine == "local" else RAY) + _bench.PEAK_PROBE
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe, str(config), str(out), str(cpus),
                           "1" if engine == "ray+cc" else "0"], capture_output=True, text=True)
    wall = time.perf_counter() - began
    if done.returncode:
        raise SystemExit(done.stderr)
    peak = int(done.stdout.split("PEAK")[-1].split()[0]) / 1024
    ray_peak = int(done.stdout.split("RAYPEAK")[1].split()[0]) / 1024 if "RAYPEAK" in done.stdout else None
    start = float(done.stdout.split("RAYINIT")[1].split()[0]) if "RAYINIT" in done.stdout else 0.0
    manifest = json.loads((out / "manifest.json").read_text())
    return {"engine": engine, "wall_s": round(wall, 2), "ray_start_s": round(start, 2), "driver_peak_mib": round(peak),
            "ray_processes_peak_mib": None if ray_peak is None else round(ray_peak), "counts": manifest["counts"]}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help="20,000 rows")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--rules", default="default")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--ray-components", action="store_true",
                        help="also run the Ray engine with the connected components on Ray whatever their size "
                             "(by default fewer than 1M edges are joined on the driver)")
    args = parser.parse_args(argv)
    rows = 20_000 if args.quick else args.rows
    folder, _, size_mib = _bench.pool(args.work, rows)
    config = _bench.write_config(folder, [args.rules])
    print(f"rows {rows:,}  input {size_mib:,.0f} MiB  rules {args.rules}  Ray CPUs {args.cpus}  "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'engine':10}{'wall s':>9}{'Ray start s':>13}{'driver peak MiB':>17}{'Ray processes MiB':>19}"
          f"{'driver peak/input':>19}")
    results = []
    engines = ("local", "ray", "ray+cc") if args.ray_components else ("local", "ray")
    for engine in engines:
        out = folder / f"out-{engine}"
        shutil.rmtree(out, ignore_errors=True)
        r = run_engine(config, out, engine, args.cpus)
        r["rows"], r["input_mib"] = rows, round(size_mib, 1)
        r["driver_peak_ratio_to_input"] = round(r["driver_peak_mib"] / size_mib, 2)
        results.append(r)
        ray_col = "-" if r["ray_processes_peak_mib"] is None else f"{r['ray_processes_peak_mib']:,}"
        print(f"{engine:10}{r['wall_s']:>9.2f}{r['ray_start_s']:>13.2f}{r['driver_peak_mib']:>17,}{ray_col:>19}"
              f"{r['driver_peak_ratio_to_input']:>18.2f}x", flush=True)
    same = all((folder / "out-local" / n).read_bytes() == (folder / f"out-{e}" / n).read_bytes()
               for n in SAME for e in engines[1:])
    print(f"counts equal: {all(r['counts'] == results[0]['counts'] for r in results)}; "
          f"{', '.join(SAME)} byte-identical: {same}")
    print(f"load average {os.getloadavg()[0]:.1f}")
    for r in results:
        r["identical"] = same
    return results


if __name__ == "__main__":
    main()
