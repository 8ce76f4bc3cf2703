"""Benchmark: curate's stratified split vs scikit-multilearn and iterative-stratification.

Prints one table, all measured in this run: wall time of the split alone (each call in a fresh
single-threaded worker process, 120 s limit per peer) and LD / LPD / ED / FZ of the resulting
train/validation split (validation = 1/3), on synthetic skewed label matrices and on the MULAN
sets and the EUR-Lex level-1 labels in ../shared/data. Then the 1,000,000 x 100 scale row.

    python benchmarks/split.py            # full run (several minutes: skml is quadratic)
    python benchmarks/split.py --quick    # small sizes, seconds
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import resource
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curate.select.quality import split_quality  # noqa: E402
from curate.select.split import stratified_folds  # noqa: E402

SHARED = Path(os.environ.get("CURATE_SHARED_DATA", ROOT.parent / "shared" / "data"))
LIMIT = 120.0
SEEDS = (0, 1, 2)  # quality is the mean over these; a peer slower than SLOW s runs seed 0 only
SLOW = 10.0
MULAN_SETS = ("emotions", "yeast", "scene", "genbase", "medical", "enron", "bibtex")


# ---------------------------------------------------------------- data
def synthetic(n: int, n_labels: int, seed: int = 0) -> sp.csr_matrix:
    """Zipf(1) label frequencies, 3 labels a row, neighbouring labels co-occur."""
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, n_labels + 1)
    first = rng.choice(n_labels, size=n, p=p / p.sum())
    cols = np.stack([first, (first + rng.integers(1, 3, n)) % n_labels, (first + rng.integers(3, 6, n)) % n_labels], 1)
    x = sp.csr_matrix((np.ones(3 * n, np.int8), (np.repeat(np.arange(n), 3), cols.ravel())), shape=(n, n_labels))
    x.data[:] = 1
    return x


def mulan(name: str) -> sp.csr_matrix:
    """Label matrix of a MULAN data set (ARFF + XML, dense or sparse rows; train+test if split)."""
    folder = SHARED / "mulan" / name
    names = re.findall(r'<label name="([^"]+)"', (folder / f"{name}.xml").read_text())
    files = [folder / f"{name}.arff"] if (folder / f"{name}.arff").exists() else [
        folder / f"{name}-train.arff", folder / f"{name}-test.arff"]
    rows, cols, r = [], [], 0
    for path in files:
        attrs, lab = [], None
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                s = line.strip()
                if lab is None:
                    if s.lower().startswith("@attribute"):
                        attrs.append(s.split()[1].strip("'\""))
                    elif s.lower().startswith("@data"):
                        where = {a: i for i, a in enumerate(attrs)}
                        lab = {where[nm]: j for j, nm in enumerate(names)}
                    continue
                if not s or s.startswith("%"):
                    continue
                if s.startswith("{"):
                    for item in s[1:-1].split(","):
                        if item.strip():
                            i, v = item.split()
                            if int(i) in lab and v.strip().strip("'\"") == "1":
                                rows.append(r)
                                cols.append(lab[int(i)])
                else:
                    vals = s.split(",")  # genbase writes ", " between values
                    for i, j in lab.items():
                        if vals[i].strip().strip("'\"") == "1":
                            rows.append(r)
                            cols.append(j)
                r += 1
    return sp.csr_matrix((np.ones(len(rows), np.int8), (rows, cols)), shape=(r, len(names)))


def eurlex() -> sp.csr_matrix:
    import polars as pl

    from curate.select.labels import label_matrix

    path = SHARED / "eurlex57k_sample" / "eurlex57k_sample_en_derived_levels.jsonl"
    return label_matrix(pl.read_ndjson(path)["level_1_en"]).csr


# ---------------------------------------------------------------- methods (run in a worker)
def run_curate(x, n_valid, order, seed):
    n = x.shape[0]
    t = time.perf_counter()
    a = stratified_folds(x, [n - n_valid, n_valid], seed, order)
    return time.perf_counter() - t, a


def run_iterstrat(x, n_valid, order, seed):
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    n = x.shape[0]
    dense = x.toarray()
    t = time.perf_counter()
    sss = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=n_valid / n, random_state=seed)
    _, test = next(sss.split(np.zeros(n), dense))
    elapsed = time.perf_counter() - t
    a = np.zeros(n, dtype=np.int64)
    a[test] = 1
    return elapsed, a


def run_skml(x, n_valid, order, seed):
    from curate.select._skml import skml_assign

    t = time.perf_counter()
    a = skml_assign(x, n_valid, order, seed)  # iterative_train_test_split's algorithm (order 2)
    return time.perf_counter() - t, a


def _worker(conn, fn, x, n_valid, order, seeds):
    try:
        times, folds = [], []
        for seed in seeds:
            elapsed, a = fn(x, n_valid, order, seed)
            times.append(elapsed)
            folds.append(a)
            if elapsed > SLOW:
                break
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        conn.send(("ok", min(times), folds, peak))
    except Exception as exc:  # a peer that cannot run is reported, not fatal
        conn.send(("error", f"{type(exc).__name__}: {exc}", None, None))


def timed(fn, x, n_valid, order=1, limit=LIMIT, method="fork", seeds=SEEDS):
    """(best seconds, assignments per seed, peak RSS MB) in a fresh worker, or (None, reason, None)."""
    ctx = mp.get_context(method)
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(child, fn, x, n_valid, order, seeds))
    proc.start()
    if not parent.poll(limit * len(seeds)):
        proc.terminate()
        proc.join()
        return None, f">{limit:.0f}s", None
    status, elapsed, a, peak = parent.recv()
    proc.join()
    if status != "ok":
        return None, elapsed, None
    return elapsed, a, peak


# ---------------------------------------------------------------- table
PEERS = (("curate", run_curate, 1), ("curate-o2", run_curate, 2), ("iterstrat", run_iterstrat, 1), ("skml", run_skml, 2))


def available(name: str) -> bool:
    module = {"iterstrat": "iterstrat.ml_stratifiers", "skml": "skmultilearn.model_selection"}.get(name)
    if module is None:
        return True
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def row(label: str, x: sp.csr_matrix, skip: set[str]) -> dict:
    n = x.shape[0]
    n_valid = round(n / 3)
    out = {"data": label}
    for name, fn, order in PEERS:
        if name in skip or not available(name):
            out[name] = None
            continue
        elapsed, a, _ = timed(fn, x, n_valid, order)
        if elapsed is None:
            out[name] = a  # reason string
            if a.startswith(">"):
                skip.add(name)  # bigger inputs would take longer still
            continue
        qs = [split_quality(x, f, wanted=[n - n_valid, n_valid]) for f in a]
        out[name] = {key: float(np.mean([q[key] for q in qs])) for key in ("LD", "LPD", "ED", "FZ")}
        out[name].update(s=elapsed, runs=len(qs))
    return out


def fmt(res: dict) -> str:
    names = [p[0] for p in PEERS]

    def cell(name, key, f):
        v = res[name]
        if v is None:
            return "–"
        if isinstance(v, str):
            return v if key == "s" else "–"
        return f(v[key])

    t = " / ".join(cell(nm, "s", lambda s: f"{s:.3f}" if s < 1 else f"{s:.2f}") for nm in names)
    one = [nm for nm in names if isinstance(res[nm], dict) and res[nm]["runs"] == 1]
    if one:
        t += " (" + ", ".join(one) + ": seed 0 only)"
    ld = " / ".join(cell(nm, "LD", lambda v: f"{v:.5f}") for nm in names)
    lpd = " / ".join(cell(nm, "LPD", lambda v: f"{v:.5f}") for nm in names)
    ed = " / ".join(cell(nm, "ED", lambda v: f"{v:.0f}") for nm in names)
    fz = " / ".join(cell(nm, "FZ", lambda v: f"{v:g}") for nm in names)
    return f"| {res['data']} | {t} | {ld} | {lpd} | {ed} | {fz} |"


def scale_row(n: int, n_labels: int, order: int) -> str:
    x = synthetic(n, n_labels, seed=1)
    elapsed, a, peak = timed(run_curate, x, n // 3, order, limit=600, method="spawn", seeds=(0,))
    if elapsed is None:
        return f"| {n:,} x {n_labels}, order {order} | {a} | – | – |"
    q = split_quality(x, a[0], wanted=[n - n // 3, n // 3])
    return f"| {n:,} x {n_labels}, order {order} | {elapsed:.2f} | {peak:.0f} | LD {q['LD']:.5f}, ED {q['ED']:.0f}, FZ {q['FZ']} |"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (seconds)")
    args = parser.parse_args(argv)
    sizes = (1_000, 3_000) if args.quick else (1_000, 5_000, 20_000, 50_000, 100_000)
    print("Validation = 1/3. Each method runs seeds 0, 1, 2 in a fresh worker process (seed 0 only when a run")
    print(f"takes over {SLOW:.0f} s); seconds = fastest run, split alone; LD/LPD/ED/FZ = mean over the seeds run.")
    print("Cells: curate (order 1) / curate (order 2) / iterstrat MultilabelStratifiedShuffleSplit / "
          "skml IterativeStratification order 2 (= iterative_train_test_split).\n")
    print("| data | seconds | LD | LPD | ED rows | FZ |")
    print("|---|---|---|---|---|---|")
    for n_labels in (21, 100):
        skip: set[str] = set()
        for n in sizes:
            print(fmt(row(f"synthetic {n:,} x {n_labels}", synthetic(n, n_labels), skip)), flush=True)
    real = ("emotions",) if args.quick else MULAN_SETS
    for name in real:
        if (SHARED / "mulan" / name).exists():
            x = mulan(name)
            print(fmt(row(f"{name} {x.shape[0]} x {x.shape[1]}", x, set())), flush=True)
    if (SHARED / "eurlex57k_sample").exists():
        x = eurlex()
        print(fmt(row(f"eurlex57k-L1 {x.shape[0]} x {x.shape[1]}", x, set())), flush=True)
    print("\n| scale (curate) | seconds | peak RSS MB (worker) | quality |")
    print("|---|---|---|---|")
    if args.quick:
        print(scale_row(20_000, 100, 1))
    else:
        print(scale_row(1_000_000, 100, 1), flush=True)
        print(scale_row(1_000_000, 100, 2), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
