"""Benchmark: curate's stratified split vs scikit-multilearn and iterative-stratification.

Prints one table, all measured in this run: wall time of the split (each call in a fresh
single-threaded worker process, 120 s limit per peer; curate's time is the whole split from label
lists: label matrix, stratify and quality) and LD / LPD / ED / FZ of the resulting
train/validation split (validation = 1/3), on synthetic skewed label matrices and on the MULAN
sets and the EUR-Lex level-1 labels in ../shared/data. Then the speed ratios against iterstrat and
the 1,000,000 x 100 scale rows. The load average is printed before and after (timings on a shared
machine are noisy: compare ratios within one run).

    python benchmarks/split.py               # full run (several minutes: skml is quadratic)
    python benchmarks/split.py --quick       # small sizes, seconds
    python benchmarks/split.py --acceptance  # issue 14: 20k-row pools, seeds 0-2, every seed vs the peers
    python benchmarks/split.py --kfold       # issue 14: 10-fold on the seven MULAN sets
    python benchmarks/split.py --speed       # only the speed ratio and the 1M-row scale rows
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


POOLS = {  # issue 14's 20k-row pools: (labels, label weights, mean labels per row)
    "zipf 21 (1/(i+1))": (21, 1.0, 2.0),
    "zipf 21 (1/(i+1)^2)": (21, 2.0, 2.0),
    "zipf 100 (1/(i+1))": (100, 1.0, 3.0),
    "5 of 30 (1/(i+1))": (30, 1.0, 5.0),
}


def weighted_pool(n: int, n_labels: int, power: float, mean: float, seed: int) -> sp.csr_matrix:
    """Rows with 1 + Poisson(mean - 1) distinct labels, label i drawn with weight 1/(i+1)^power."""
    rng = np.random.default_rng(1000 + seed)
    p = 1 / np.arange(1, n_labels + 1) ** power
    card = np.clip(rng.poisson(mean - 1, n) + 1, 1, n_labels)
    keys = np.log(p / p.sum())[None, :] + rng.gumbel(size=(n, n_labels))  # Gumbel top-k: no replacement
    cols = np.argsort(-keys, axis=1)[np.arange(n_labels)[None, :] < card[:, None]]
    x = sp.csr_matrix((np.ones(len(cols), np.int8), (np.repeat(np.arange(n), card), cols)), shape=(n, n_labels))
    x.sort_indices()
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
def label_lists(x: sp.csr_matrix):
    """The label lists (List(String) series) a pipeline hands to the split; built before timing."""
    import polars as pl

    names = np.array([f"l{j:03d}" for j in range(x.shape[1])], dtype=object)
    rows = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr))
    frame = pl.DataFrame({"row": rows, "v": pl.Series(names[x.indices], dtype=pl.String)})
    grouped = frame.group_by("row").agg("v")
    every = pl.DataFrame({"row": np.arange(x.shape[0], dtype=rows.dtype)})
    return every.join(grouped, on="row", how="left").sort("row")["v"].fill_null([])


def run_curate(x, n_valid, order, seed):
    """The whole split from label lists: label matrix, stratify, quality."""
    from curate.select.split import split_options, split_train_valid

    lists = label_lists(x)
    t, cpu = time.perf_counter(), time.process_time()
    r = split_train_valid(lists, split_options({"validation": n_valid, "seed": seed, "order": order}))
    # CPU time too: on a shared machine the wall time mostly measures the other jobs
    return time.perf_counter() - t, r.assignment.astype(np.int64), time.process_time() - cpu


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


CPU: dict[str, float] = {}  # CPU seconds of the last timed() call's fastest run (curate only)


def _worker(conn, fn, x, n_valid, order, seeds):
    try:
        times, folds, cpus = [], [], []
        for seed in seeds:
            out = fn(x, n_valid, order, seed)
            times.append(out[0])
            folds.append(out[1])
            cpus.append(out[2] if len(out) > 2 else None)
            if out[0] > SLOW:
                break
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        conn.send(("ok", min(times), folds, (peak, cpus[int(np.argmin(times))])))
    except Exception as exc:  # a peer that cannot run is reported, not fatal
        conn.send(("error", f"{type(exc).__name__}: {exc}", None, None))


def timed(fn, x, n_valid, order=1, limit=LIMIT, method=None, seeds=SEEDS):
    """(best seconds, assignments per seed, peak RSS MB) in a fresh worker, or (None, reason, None).

    curate's workers are spawned (polars' thread pool does not survive a fork: the worker can hang),
    the peers' forked."""
    ctx = mp.get_context(method or ("spawn" if fn is run_curate else "fork"))
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(child, fn, x, n_valid, order, seeds))
    proc.start()
    if not parent.poll(limit * len(seeds)):
        proc.terminate()
        proc.join()
        return None, f">{limit:.0f}s", None
    status, elapsed, a, extra = parent.recv()
    proc.join()
    if status != "ok":
        return None, elapsed, None
    peak, CPU["last"] = extra
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
        return f"| {n:,} x {n_labels}, order {order} | {a} | – | – | – |"
    q = split_quality(x, a[0], wanted=[n - n // 3, n // 3])
    return (f"| {n:,} x {n_labels}, order {order} | {elapsed:.2f} | {CPU['last']:.2f} | {peak:.0f} "
            f"| LD {q['LD']:.7f}, ED {q['ED']:.0f}, FZ {q['FZ']} |")


def speed_rows(sizes, n_labels: int = 100) -> list[str]:
    """curate (order 1, the whole split) against iterstrat on the same matrix, fastest of 3 runs each."""
    out = []
    for n in sizes:
        x = synthetic(n, n_labels)
        ours, _, _ = timed(run_curate, x, round(n / 3), 1, seeds=SEEDS)
        cpu = CPU["last"]
        theirs, reason, _ = timed(run_iterstrat, x, round(n / 3), 1, seeds=SEEDS) if available("iterstrat") else (None, "–", None)
        ratio = f"{theirs / ours:.1f}x" if ours and theirs else "–"
        out.append(f"| {n:,} x {n_labels} | {ours:.3f} (CPU {cpu:.3f}) | {theirs:.3f} | {ratio} |" if theirs else
                   f"| {n:,} x {n_labels} | {ours:.3f} (CPU {cpu:.3f}) | {reason} | – |")
    return out


def acceptance(n: int = 20_000) -> int:
    """Issue 14: on every pool and seed, curate's LD <= iterstrat's and <= skml's (same order), order 2
    LPD <= skml order 2's, sizes exact, no fold misses a label with >= 2 rows. Prints a row per seed."""
    peers = [("curate", run_curate, 1), ("curate", run_curate, 2), ("iterstrat", run_iterstrat, 1),
             ("skml", run_skml, 1), ("skml", run_skml, 2)]
    print("| pool | seed | LD curate o1 / o2 / iterstrat / skml o1 / skml o2 | LPD curate o2 / skml o2 "
          "| curate valid rows o1 / o2 (wanted) | FZ o1 / o2 | met |")
    print("|---|---|---|---|---|---|---|")
    failed = 0
    for name, (n_labels, power, mean) in POOLS.items():
        for seed in SEEDS:
            x = weighted_pool(n, n_labels, power, mean, seed)
            n_valid = round(n / 3)
            q = {}
            for peer, fn, order in peers:
                if not available(peer):
                    continue
                elapsed, a, _ = timed(fn, x, n_valid, order, seeds=(seed,))
                if elapsed is not None:
                    q[(peer, order)] = (split_quality(x, a[0]), int(a[0].sum()))
            c1, c2 = q[("curate", 1)], q[("curate", 2)]
            refs1 = [q[p][0]["LD"] for p in (("iterstrat", 1), ("skml", 1)) if p in q]
            refs2 = [q[p][0]["LD"] for p in (("iterstrat", 1), ("skml", 2)) if p in q]
            met = (all(c1[0]["LD"] <= r for r in refs1) and all(c2[0]["LD"] <= r for r in refs2)
                   and (("skml", 2) not in q or c2[0]["LPD"] <= q[("skml", 2)][0]["LPD"])
                   and c1[1] == c2[1] == n_valid and c1[0]["FZ"] == c2[0]["FZ"] == 0)
            failed += not met
            lds = " / ".join(f"{q[p][0]['LD']:.7f}" if p in q else "–" for p in
                             (("curate", 1), ("curate", 2), ("iterstrat", 1), ("skml", 1), ("skml", 2)))
            lpd = f"{c2[0]['LPD']:.7f} / " + (f"{q[('skml', 2)][0]['LPD']:.7f}" if ("skml", 2) in q else "–")
            print(f"| {name} | {seed} | {lds} | {lpd} | {c1[1]} / {c2[1]} ({n_valid}) "
                  f"| {c1[0]['FZ']} / {c2[0]['FZ']} | {'yes' if met else 'NO'} |", flush=True)
    print(f"\n{failed} of {len(POOLS) * len(SEEDS)} rows miss a criterion.")
    return 1 if failed else 0


def kfold(k: int = 10) -> int:
    """Issue 14: k-fold LD and LPD (means over seeds 0-2) on the seven MULAN sets."""
    from curate.select.split import kfold_assign

    def ours(order):
        return lambda x, seed: kfold_assign(x, k, seed, order)

    def iterstrat(x, seed):
        from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

        a = np.zeros(x.shape[0], dtype=np.int64)
        for i, (_, test) in enumerate(MultilabelStratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
                                      .split(np.zeros(x.shape[0]), x.toarray())):
            a[test] = i
        return a

    def skml(order):
        def run(x, seed):
            mod = __import__("skmultilearn.model_selection", fromlist=["IterativeStratification"])
            a = np.zeros(x.shape[0], dtype=np.int64)
            state = np.random.get_state()
            np.random.seed(seed)
            try:
                folds = mod.IterativeStratification(n_splits=k, order=order).split(
                    np.zeros((x.shape[0], 1)), sp.csr_matrix(x, dtype=np.int64))
                for i, (_, test) in enumerate(folds):
                    a[test] = i
            finally:
                np.random.set_state(state)
            return a
        return run

    methods = [("curate o1", ours(1), None), ("curate o2", ours(2), None), ("iterstrat", iterstrat, "iterstrat"),
               ("skml o1", skml(1), "skml"), ("skml o2", skml(2), "skml")]
    methods = [(nm, fn) for nm, fn, need in methods if need is None or available(need)]
    print(f"{k}-fold, means over seeds 0-2. Cells: " + " / ".join(nm for nm, _ in methods) + ".\n")
    print("| data | LD | LPD | seconds (3 seeds) | lowest LD |")
    print("|---|---|---|---|---|")
    misses = 0
    for name in MULAN_SETS:
        if not (SHARED / "mulan" / name).exists():
            continue
        x = mulan(name)
        res = {}
        for nm, fn in methods:
            t = time.perf_counter()
            qs = [split_quality(x, fn(x, seed)) for seed in SEEDS]
            res[nm] = (np.mean([q["LD"] for q in qs]), np.mean([q["LPD"] for q in qs]), time.perf_counter() - t)
        best = min(res, key=lambda nm: res[nm][0])
        misses += not best.startswith("curate")
        cells = [" / ".join(f"{res[nm][i]:.5f}" for nm, _ in methods) for i in (0, 1)]
        secs = " / ".join(f"{res[nm][2]:.1f}" for nm, _ in methods)
        print(f"| {name} {x.shape[0]} x {x.shape[1]} | {cells[0]} | {cells[1]} | {secs} | {best} |", flush=True)
    return 1 if misses else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only (seconds)")
    parser.add_argument("--acceptance", action="store_true", help="issue 14's 20k-row pools, every seed")
    parser.add_argument("--kfold", action="store_true", help="10-fold on the seven MULAN sets")
    parser.add_argument("--speed", action="store_true", help="only the speed ratio and the 1M-row scale rows")
    args = parser.parse_args(argv)
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    try:
        if args.acceptance:
            return acceptance()
        if args.kfold:
            return kfold()
        if args.speed:
            return speed(args.quick)
        return table(args.quick)
    finally:
        print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


def table(quick: bool) -> int:
    sizes = (1_000, 3_000) if quick else (1_000, 5_000, 20_000, 50_000, 100_000)
    print("Validation = 1/3. Each method runs seeds 0, 1, 2 in a fresh worker process (seed 0 only when a run")
    print(f"takes over {SLOW:.0f} s); seconds = fastest run; LD/LPD/ED/FZ = mean over the seeds run.")
    print("Cells: curate (order 1) / curate (order 2) / iterstrat MultilabelStratifiedShuffleSplit / "
          "skml IterativeStratification order 2 (= iterative_train_test_split).")
    print("curate's seconds are the whole split from label lists (label matrix, stratify, quality).\n")
    print("| data | seconds | LD | LPD | ED rows | FZ |")
    print("|---|---|---|---|---|---|")
    for n_labels in (21, 100):
        skip: set[str] = set()
        for n in sizes:
            print(fmt(row(f"synthetic {n:,} x {n_labels}", synthetic(n, n_labels), skip)), flush=True)
    real = ("emotions",) if quick else MULAN_SETS
    for name in real:
        if (SHARED / "mulan" / name).exists():
            x = mulan(name)
            print(fmt(row(f"{name} {x.shape[0]} x {x.shape[1]}", x, set())), flush=True)
    if (SHARED / "eurlex57k_sample").exists():
        x = eurlex()
        print(fmt(row(f"eurlex57k-L1 {x.shape[0]} x {x.shape[1]}", x, set())), flush=True)
    return speed(quick)


def speed(quick: bool) -> int:
    print("\n| speed (order 1) | curate s (whole split) | iterstrat s | iterstrat / curate |")
    print("|---|---|---|---|")
    for line in speed_rows((20_000,) if quick else (100_000,)):
        print(line, flush=True)
    print("\n| scale (curate, whole split) | seconds | CPU seconds | peak RSS MB (worker) | quality |")
    print("|---|---|---|---|---|")
    if quick:
        print(scale_row(20_000, 100, 1))
    else:
        print(scale_row(1_000_000, 100, 1), flush=True)
        print(scale_row(1_000_000, 100, 2), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
