"""Benchmarks for the rules issue, measured in one run.

1. ``curate check`` wall time on a 10,000-line export (9,000 train + 1,000 validation lines built
   from real EUR-Lex acts), including interpreter start, through the ``curate`` console script
   and through ``python -m curate.check``; also on short prompts.
2. Near-duplicate search on 100,000 documents: curate's vectorised MinHash/LSH against
   ``datasketch.MinHashLSH`` with the same parameters (128 permutations, threshold 0.8, the same
   word 3-gram shingles). Recall of pairs with exact Jaccard >= 0.8 is measured against exact
   Jaccard for every document of a random sample (exact candidates by prefix filtering).

Usage: ``python benchmarks/rules.py [--quick] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests" / "data" / "rules_eurlex_sample.jsonl"
THRESHOLD, NUM_PERM, NGRAM = 0.8, 128, 3


def real_texts() -> list[tuple[str, list[str]]]:
    rows = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    return [(r["text"], sorted(r["level_1_en"])) for r in rows]


# -- 1. curate check ---------------------------------------------------------------------------
def write_export(folder: Path, n: int, short: bool) -> list[Path]:
    from curate.rules.text import MOJIBAKE_PATTERN

    # a clean export: leave out the two real acts with mis-decoded characters (the check finds them)
    base = [(t, labels) for t, labels in real_texts() if not re.search(MOJIBAKE_PATTERN, t)]
    lines = []
    for i in range(n):
        text, labels = base[i % len(base)]
        if short:
            text = text[:600]
        # each line is a distinct act: a real text plus its own reference sentence
        text = f"{text}\nReference number {i} of the consolidated register."
        lines.append(json.dumps({
            "id": f"act-{i}",
            "messages": [{"role": "developer", "content": "Classify the act into EuroVoc level-1 domains."},
                         {"role": "user", "content": text}],
            "reference_answer": labels,
        }, ensure_ascii=False))
    n_valid = min(1000, n // 10)
    train, valid = folder / "train.jsonl", folder / "valid.jsonl"
    train.write_text("\n".join(lines[: n - n_valid]) + "\n", encoding="utf-8")
    valid.write_text("\n".join(lines[n - n_valid :]) + "\n", encoding="utf-8")
    return [train, valid]


CPU: dict[str, float] = {}  # command label -> median CPU seconds (user + sys) of the child


def time_command(cmd: list[str], repeats: int, label: str | None = None) -> tuple[float, int]:
    """Median wall time (and, under ``label`` in CPU, median child CPU time) of ``cmd``."""
    import resource

    times, cpus, code = [], [], 0
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        out = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        code = out.returncode
    if label:
        CPU[label] = round(statistics.median(cpus), 2)
    return statistics.median(times), code


def bench_check(n: int, repeats: int, quick: bool = False) -> dict:
    results: dict = {}
    curate_exe = shutil.which("curate") or str(Path(sys.executable).with_name("curate"))
    variants = (("eurlex", False),) if quick else (("eurlex", False), ("short", True))
    with tempfile.TemporaryDirectory() as tmp:
        for label, short in variants:
            folder = Path(tmp) / label
            folder.mkdir()
            files = [str(p) for p in write_export(folder, n, short)]
            size = sum(Path(f).stat().st_size for f in files)
            res = {"lines": n, "megabytes": round(size / 1e6, 1)}
            if Path(curate_exe).exists():
                res["curate_check_s"], res["exit"] = time_command([curate_exe, "check", *files], repeats, f"{label}_cli")
                res["curate_check_cpu_s"] = CPU[f"{label}_cli"]
            res["python_m_s"], res["exit_m"] = time_command([sys.executable, "-m", "curate.check", *files], repeats, f"{label}_m")
            res["python_m_cpu_s"] = CPU[f"{label}_m"]
            results[label] = res
        results["python_startup_s"], _ = time_command([sys.executable, "-c", "pass"], repeats)
        results["import_polars_s"], _ = time_command([sys.executable, "-c", "import polars"], repeats)
        if not quick:
            results["import_curate_s"], _ = time_command([sys.executable, "-c", "import curate"], repeats)
    return results


# -- 2. near-duplicates ------------------------------------------------------------------------
def make_corpus(n: int, seed: int = 0, dup_fraction: float = 0.1) -> list[str]:
    """Documents of 50-90 words drawn from real EUR-Lex sentences; ``dup_fraction`` of them are
    edited copies (0-3 words replaced) of an earlier document."""
    sentences = [s.strip() for t, _ in real_texts() for s in re.split(r"(?<=[.;:])\s+|\n", t)]
    sentences = [s.split() for s in sentences if len(s.split()) >= 6]
    rng = np.random.default_rng(seed)
    docs: list[list[str]] = []
    for i in range(n):
        if i > 10 and rng.random() < dup_fraction:
            words = list(docs[int(rng.integers(0, i))])
            for _ in range(int(rng.integers(0, 4))):
                words[int(rng.integers(0, len(words)))] = f"w{int(rng.integers(0, 10**6))}"
            docs.append(words)
            continue
        words = []
        while len(words) < 50:
            words += sentences[int(rng.integers(0, len(sentences)))]
        docs.append(words[:90])
    return [" ".join(d) for d in docs]


def shingle_lists(texts: list[str]) -> list[list[str]]:
    from curate.rules.minhash import normalise

    words = normalise(pl.Series(texts)).str.extract_all(r"\w+").to_list()
    out = []
    for w in words:
        if len(w) < NGRAM:
            out.append([" ".join(w)] if w else [])
        else:
            out.append([" ".join(w[i : i + NGRAM]) for i in range(len(w) - NGRAM + 1)])
    return out


def exact_truth(texts: list[str], sample: np.ndarray) -> set[tuple[int, int]]:
    """Every pair (sampled doc, any doc) with exact Jaccard >= THRESHOLD, by prefix filtering:
    if J(A, B) >= t then B holds one of A's |A| - ceil(t|A|) + 1 rarest shingles."""
    from curate.rules.minhash import exact_jaccard, shingle

    sh = shingle(texts, ngram=NGRAM)
    sets = pl.DataFrame({"doc": sh.doc, "h": sh.hashes}).unique()
    df = sets.group_by("h").agg(pl.len().alias("df"))
    mine = sets.filter(pl.col("doc").is_in(sample.tolist())).join(df, on="h")
    mine = mine.with_columns(pl.len().over("doc").alias("n")).sort(["doc", "df", "h"])
    mine = mine.with_columns(pl.int_range(pl.len()).over("doc").alias("rank"))
    prefix = mine.filter(pl.col("rank") < pl.col("n") - (pl.col("n") * THRESHOLD).ceil() + 1)
    cands = (
        prefix.select(pl.col("doc").alias("a"), "h").join(sets.rename({"doc": "b"}), on="h")
        .filter(pl.col("a") != pl.col("b")).select("a", "b").unique()
    )
    cands = cands.select(pl.min_horizontal("a", "b").alias("a"), pl.max_horizontal("a", "b").alias("b")).unique()
    cands = cands.with_columns(exact_jaccard(sh, cands))
    hits = cands.filter(pl.col("jaccard") >= THRESHOLD)
    return set(hits.select("a", "b").iter_rows())


def bench_near(n: int, sample_size: int) -> dict:
    from datasketch import MinHash, MinHashLSH

    from curate.rules.lsh import lsh_params, near_duplicate_pairs

    texts = make_corpus(n)
    lsh_params(THRESHOLD, NUM_PERM)  # parameter search is cached per process; keep it out of timing
    t = time.perf_counter()
    ours = near_duplicate_pairs(texts, threshold=THRESHOLD, ngram=NGRAM, num_perm=NUM_PERM)
    ours_s = time.perf_counter() - t
    ours_pairs = set(ours.select("a", "b").iter_rows())

    t = time.perf_counter()
    shingles = shingle_lists(texts)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    hashes = []
    for i, sh in enumerate(shingles):
        m = MinHash(num_perm=NUM_PERM, seed=1)
        m.update_batch([s.encode("utf-8") for s in sh])
        lsh.insert(i, m, check_duplication=False)
        hashes.append(m)
    ds_pairs: set[tuple[int, int]] = set()
    for i, m in enumerate(hashes):
        for j in lsh.query(m):
            if j != i:
                ds_pairs.add((min(i, j), max(i, j)))
    ds_s = time.perf_counter() - t

    rng = np.random.default_rng(42)
    sample = rng.choice(n, size=min(sample_size, n), replace=False)
    t = time.perf_counter()
    truth = exact_truth(texts, sample)
    truth_s = time.perf_counter() - t
    sampled = set(sample.tolist())

    def restricted(pairs: set[tuple[int, int]]) -> set[tuple[int, int]]:
        return {p for p in pairs if p[0] in sampled or p[1] in sampled}

    def recall(pairs: set[tuple[int, int]]) -> float:
        return len(truth & pairs) / len(truth) if truth else float("nan")

    ours_r, ds_r = restricted(ours_pairs), restricted(ds_pairs)
    return {
        "documents": n,
        "lsh_bands_rows_curate": list(lsh_params(THRESHOLD, NUM_PERM)),
        "lsh_bands_rows_datasketch": [lsh.b, lsh.r],
        "curate_s": round(ours_s, 2),
        "datasketch_s": round(ds_s, 2),
        "speedup": round(ds_s / ours_s, 1),
        "sample_docs": len(sampled),
        "true_pairs_in_sample": len(truth),
        "recall_curate": round(recall(ours_pairs), 4),
        "recall_datasketch": round(recall(ds_pairs), 4),
        "precision_curate_in_sample": round(len(ours_r & truth) / len(ours_r), 4) if ours_r else None,
        "precision_datasketch_in_sample": round(len(ds_r & truth) / len(ds_r), 4) if ds_r else None,
        "pairs_curate": len(ours_pairs),
        "candidate_pairs_datasketch": len(ds_pairs),
        "truth_s": round(truth_s, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (for tests)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args(argv)
    check_lines, docs, sample, repeats = (1000, 2000, 200, 1) if args.quick else (10_000, 100_000, 2000, 3)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    report = {"quick": args.quick, "cpus": os.cpu_count(), "load_average_1m_at_start": load}
    report["check"] = bench_check(check_lines, repeats, args.quick)
    report["near_duplicates"] = bench_near(docs, sample)
    c, nd = report["check"], report["near_duplicates"]
    for key, what in (("eurlex", "EUR-Lex acts"), ("short", "600-char prompts")):
        if key not in c:
            continue
        r = c[key]
        print(f"curate check, {r['lines']:,} lines ({r['megabytes']} MB, {what}): "
              f"`curate check` {r.get('curate_check_s', float('nan')):.2f} s wall / {r.get('curate_check_cpu_s', float('nan')):.2f} s CPU, "
              f"`python -m curate.check` {r['python_m_s']:.2f} s wall / {r['python_m_cpu_s']:.2f} s CPU (median of {repeats})")
    print(f"  start-up floor: python {c['python_startup_s']:.2f} s, import polars {c['import_polars_s']:.2f} s, "
          f"import curate {c.get('import_curate_s', float('nan')):.2f} s")
    print(f"near-duplicates, {nd['documents']:,} docs: curate {nd['curate_s']} s, datasketch {nd['datasketch_s']} s "
          f"({nd['speedup']}x); recall of J>={THRESHOLD} pairs on {nd['sample_docs']} sampled docs "
          f"({nd['true_pairs_in_sample']} true pairs): curate {nd['recall_curate']}, datasketch {nd['recall_datasketch']}; "
          f"precision in sample: curate {nd['precision_curate_in_sample']}, datasketch {nd['precision_datasketch_in_sample']}")
    print(f"  LSH bands x rows: curate {nd['lsh_bands_rows_curate']}, datasketch {nd['lsh_bands_rows_datasketch']}; "
          f"load average at start {load}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
