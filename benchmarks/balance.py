"""Benchmark: curate's balanced selection vs the practitioners' capped baseline (and random).

Prints one table, measured in this run on the same pools (synthetic Zipf 5k x 21, MULAN yeast,
emotions and bibtex, EUR-Lex level-1 labels): coefficient of variation and min-max per-label count
of ``size`` selected rows (over the labels present in the pool), and wall time. When the capped
baseline stops at cap 50 short of ``size`` rows, curate is also shown at the size it reached.

    python benchmarks/balance.py            # size 150 (and 1000 on the larger pools)
    python benchmarks/balance.py --quick    # seconds
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curate.select.baseline import capped_baseline  # noqa: E402
from curate.select.quality import evenness_of_counts  # noqa: E402
from curate.select.uniform import even_select  # noqa: E402

_spec = importlib.util.spec_from_file_location("_split_bench", Path(__file__).with_name("split.py"))
_split_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_split_bench)
SHARED, synthetic, mulan, eurlex = _split_bench.SHARED, _split_bench.synthetic, _split_bench.mulan, _split_bench.eurlex
SEED = 1


def describe(x: sp.csr_matrix, rows: np.ndarray) -> dict:
    present = np.bincount(x.indices, minlength=x.shape[1]) > 0
    counts = np.bincount(x[np.asarray(rows, dtype=np.int64)].indices, minlength=x.shape[1])[present]
    e = evenness_of_counts(counts)
    return {"rows": len(rows), "cv": e["cv"], "min": e["min_count"], "max": e["max_count"]}


def cell(d: dict, t: float | None = None) -> str:
    text = f"{d['cv']:.3f} / {d['min']}–{d['max']}"
    if d.get("short"):
        text += f" ({d['rows']} rows)"
    if t is not None:
        text += f" / {t:.2f}s"
    return text


def measure(name: str, x: sp.csr_matrix, size: int) -> str:
    n = x.shape[0]
    rng = np.random.default_rng(SEED)
    rand = describe(x, rng.choice(n, size=min(size, n), replace=False))
    t = time.perf_counter()
    base_rows, cap = capped_baseline(x, size, np.random.default_rng(SEED))
    t_base = time.perf_counter() - t
    base = describe(x, base_rows)
    base["short"] = len(base_rows) < size
    t = time.perf_counter()
    ours_rows = even_select(x, size, np.random.default_rng(SEED), reference=base_rows)
    t_ours = time.perf_counter() - t
    ours = describe(x, ours_rows)
    same, verdict = "=", "yes" if ours["cv"] <= base["cv"] + 1e-12 and ours["min"] >= base["min"] else "no"
    if base["short"]:
        at = describe(x, even_select(x, len(base_rows), np.random.default_rng(SEED), reference=base_rows))
        same = cell(at)
        verdict = "yes (at equal size)" if at["cv"] <= base["cv"] + 1e-12 and at["min"] >= base["min"] else "no"
    return (f"| {name} | {size} | {cell(rand)} | {cell(base, t_base)} (cap {cap}) | {cell(ours, t_ours)} | "
            f"{same} | {verdict} |")


TESTS_DATA = Path(__file__).resolve().parents[1] / "tests" / "data"


def shipped(path: Path) -> sp.csr_matrix:
    """Label matrix of a shipped ``{"labels": [...]}`` JSONL slice (see tests/data/*SOURCE.md)."""
    import polars as pl

    from curate.select.labels import label_matrix

    return label_matrix(pl.read_ndjson(path)["labels"]).csr


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small pools only (seconds)")
    args = parser.parse_args(argv)
    pools = [("synthetic 2k x 21" if args.quick else "synthetic 5k x 21", synthetic(2000 if args.quick else 5000, 21))]
    if args.quick:  # the label slices the project ships: no dependency on data outside the repository
        for nm, file in (("emotions", "mulan_emotions_labels.jsonl"), ("eurlex57k-L1", "eurlex57k_level1_labels.jsonl")):
            x = shipped(TESTS_DATA / file)
            pools.append((f"{nm} {x.shape[0]} x {x.shape[1]}", x))
    names = () if args.quick else ("yeast", "emotions", "bibtex")
    for nm in names:
        if (SHARED / "mulan" / nm).exists():
            x = mulan(nm)
            pools.append((f"{nm} {x.shape[0]} x {x.shape[1]}", x))
    if not args.quick and (SHARED / "eurlex57k_sample").exists():
        x = eurlex()
        pools.append((f"eurlex57k-L1 {x.shape[0]} x {x.shape[1]}", x))
    print(f"Seed {SEED}. Cells: CV of per-label counts / min–max count (labels present in the pool) / seconds.")
    print("'curate at baseline size': curate run at the row count the baseline reached, when it fell short.\n")
    print("| pool | size | random | capped baseline | curate (uniform) | curate at baseline size | curate as even, min as high |")
    print("|---|---|---|---|---|---|---|")
    for name, x in pools:
        sizes = (150,) if args.quick or x.shape[0] < 3000 else (150, 1000)
        for size in sizes:
            print(measure(name, x, size), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
