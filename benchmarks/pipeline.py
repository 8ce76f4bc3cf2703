"""Whole-pipeline wall time and peak memory against the I/O floor, measured in one run.

Generates N synthetic raw records (about 600 bytes of text each, 1 to 6 labels from 100 ids, a
vocabulary mapping the ids to names), then runs, each in a fresh subprocess:

- the I/O floor: ``polars.read_ndjson`` of the raw file and ``write_ndjson`` of the frame;
- the curate pipeline on the same file (load, map labels, rules, split, export, ledger, report).

Prints both wall times and each child's own peak RSS (``VmHWM`` read by the child at exit;
``ru_maxrss`` would include the benchmark process's size, which Linux carries across fork+exec),
and the ratios (targets: time within 3x the floor, peak memory under 3x the input file size). By default the pipeline runs twice: without rules, and with
the ``minimal`` pack (empty and broken text, exact duplicates, conflicting labels on identical
input: the checks the spine's first version ran). The ``default`` pack adds MinHash
near-duplicates, whose cost grows with the corpus (``benchmarks/rules.py`` measures it).

    python benchmarks/pipeline.py                    # 1,000,000 records, rules none and minimal
    python benchmarks/pipeline.py --rules default    # with near-duplicates (minutes at 1M)
    python benchmarks/pipeline.py --quick            # 20,000 records, seconds
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import polars as pl
import yaml

WORK = Path(__file__).resolve().parent / "_work" / "pipeline"
VOCAB_SIZE = 100


def generate(path: Path, rows: int, seed: int = 0) -> None:
    """Synthetic raw JSONL: id, nested text (~600 bytes), 1-6 label ids from 100. Vectorised (no
    Python object per word or label), so 10M rows take a couple of minutes."""
    rng = np.random.default_rng(seed)
    words = ("regulation council member state import export duty product market aid fisheries "
             "agriculture customs tariff quota annex article commission decision directive "
             "transport energy finance budget environment health safety trade law court").split()
    chunk = 100_000
    with open(path, "wb") as fh:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            picks = pl.Series(rng.integers(0, len(words), size=(n, 90), dtype=np.uint32)).cast(pl.List(pl.UInt32))
            draws = pl.Series(rng.integers(0, VOCAB_SIZE, size=(n, 6), dtype=np.uint32)).cast(pl.List(pl.UInt32))
            frame = pl.DataFrame({"picks": picks, "draws": draws, "count": rng.integers(1, 7, size=n)}).select(
                pl.format("doc-{}", pl.int_range(start, start + n)).alias("doc_id"),
                pl.struct(pl.format("{} {}", pl.int_range(start, start + n),
                                    pl.col("picks").list.eval(pl.element().replace_strict(
                                        list(range(len(words))), words, return_dtype=pl.String))
                                    .list.join(" ").str.slice(0, 600)).alias("en")).alias("text"),
                pl.col("draws").list.unique(maintain_order=True).list.head(pl.col("count"))
                .list.eval(pl.element().cast(pl.String)).alias("codes"),
            )
            buffer = io.BytesIO()
            frame.write_ndjson(buffer)
            fh.write(buffer.getvalue())


def pool(work: Path, rows: int) -> tuple[Path, Path, float]:
    """``(folder, raw file, its size in MiB)`` of the ``rows``-record pool under ``work``,
    generated on first use and reused after."""
    folder = work / f"n{rows}"
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / "raw.jsonl"
    if not raw.exists():
        print(f"generating {rows:,} records ...", flush=True)
        generate(raw, rows)
    return folder, raw, raw.stat().st_size / 2**20


def write_config(folder: Path, rules: list) -> Path:
    vocab = pl.DataFrame({"id": [str(i) for i in range(VOCAB_SIZE)], "name": [f"topic {i:03d}" for i in range(VOCAB_SIZE)]})
    vocab.write_csv(folder / "vocab.csv")
    config = {
        "source": {"path": "raw.jsonl", "id": "doc_id", "text": "text.en", "labels": "codes"},
        "labels": {"vocabulary": "vocab.csv"},
        "rules": rules,
        "split": {"validation": 1000, "seed": 1},
        "export": {"out": "out", "developer": "Classify the text into topics.", "user": "{{ text }}",
                   "options": {"enforce_row_limits": False}},
    }
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


FLOOR = """
import polars as pl, sys
pl.read_ndjson(sys.argv[1]).write_ndjson(sys.argv[2])
"""

PIPELINE = """
import curate, sys
curate.run(sys.argv[1])
"""


PEAK_PROBE = """
def _own_peak_kib():
    # VmHWM is this process's own resident high-water mark: exec starts a fresh address space, so
    # unlike ru_maxrss (which Linux carries over from the parent across fork+exec) it does not
    # include the benchmark process's size. Fallback elsewhere: ru_maxrss (KiB on Linux, bytes on macOS).
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource, sys
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak
print("PEAK", _own_peak_kib())
"""


def measure(code: str, *args: str) -> tuple[float, float, float]:
    """Wall seconds, the child's own peak RSS (MiB) and its CPU seconds (user + system, all
    threads) of a fresh Python running ``code``. On a shared machine CPU time varies far less
    than wall time."""
    probe = textwrap.dedent(code) + PEAK_PROBE
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(done.stderr)
    peak_kib = int(done.stdout.split("PEAK")[-1].split()[0])
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, peak_kib / 1024, cpu


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="20,000 rows")
    parser.add_argument("--rules", default="none,minimal",
                        help="comma-separated rule packs to run the pipeline with ('none' for no rules)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each command; the fastest counts")
    parser.add_argument("--work", type=Path, default=WORK)
    args = parser.parse_args(argv)
    rows = 20_000 if args.quick else args.rows
    folder, raw, size_mib = pool(args.work, rows)
    print(f"rows {rows:,}  input {size_mib:,.0f} MiB  (fastest of {args.repeat}; floor measured next to each run)")
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'':28}{'wall s':>9}{'peak MiB':>10}{'cpu s':>8}{'time ratio':>12}{'cpu ratio':>11}{'peak/input':>12}")
    results = []
    for pack in args.rules.split(","):
        config = write_config(folder, [] if pack == "none" else [pack])
        floor = min(measure(FLOOR, str(raw), str(folder / "floor.jsonl")) for _ in range(args.repeat))
        run = min(measure(PIPELINE, str(config)) for _ in range(args.repeat))
        manifest = json.loads((folder / "out" / "manifest.json").read_text())
        result = {
            "rules": pack, "rows": rows, "input_mib": round(size_mib, 1),
            "floor_s": round(floor[0], 2), "floor_peak_mib": round(floor[1]),
            "pipeline_s": round(run[0], 2), "pipeline_peak_mib": round(run[1]),
            "floor_cpu_s": round(floor[2], 2), "pipeline_cpu_s": round(run[2], 2),
            "time_ratio": round(run[0] / floor[0], 2), "cpu_ratio": round(run[2] / max(floor[2], 1e-9), 2),
            "memory_ratio_to_input": round(run[1] / size_mib, 2),
            "counts": manifest["counts"],
        }
        results.append(result)
        print(f"{'I/O floor (polars)':28}{floor[0]:>9.2f}{floor[1]:>10.0f}{floor[2]:>8.1f}")
        print(f"{'curate, rules: ' + pack:28}{run[0]:>9.2f}{run[1]:>10.0f}{run[2]:>8.1f}"
              f"{result['time_ratio']:>11.2f}x{result['cpu_ratio']:>10.2f}x{result['memory_ratio_to_input']:>11.2f}x")
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("targets: time ratio <= 3x (default pack: 6x), peak memory / input size < 3x")
    return results


if __name__ == "__main__":
    main()
