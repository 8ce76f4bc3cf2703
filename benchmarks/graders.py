"""Grading throughput of the python multi-label F1 grader: local runner vs. calling it in-process.

Both numbers are measured in the same run on the same samples (a mix of correct, partial and
malformed outputs over EUR-Lex-like label sets). The local runner's target is >= 2,000 samples/s on
2 cores, reached by reusing worker processes and sending them batches.

    python benchmarks/graders.py            # 20,000 samples
    python benchmarks/graders.py --quick    # 2,000 samples, for CI
"""

from __future__ import annotations

import argparse
import json
import random
import time

from curate.graders import LocalGrader, build_grader
from curate.graders._worker import compile_source

LABELS = [f"label {i:02d}" for i in range(21)]


def make_pairs(n: int, seed: int = 0, doc_chars: int = 3000) -> list[tuple[str, dict]]:
    """``n`` (model output, item) pairs: correct, partial, over-predicted and malformed outputs.
    Items carry the full prompt (``doc_chars`` of document text), as exported RFT lines do."""
    rng = random.Random(seed)
    words = [
        "regulation",
        "member",
        "state",
        "trade",
        "agricultural",
        "the",
        "of",
        "council",
        "aid",
    ]
    prompt = "Classify the document into EuroVoc level-1 domains: " + ", ".join(LABELS)
    pairs = []
    for i in range(n):
        reference = sorted(rng.sample(LABELS, rng.randint(1, 5)))
        kind = i % 5
        if kind == 0:
            output = json.dumps({"labels": reference})
        elif kind == 1:
            output = json.dumps({"labels": reference[:-1] or ["label 00"]})
        elif kind == 2:
            output = json.dumps({"labels": reference + rng.sample(LABELS, 2)})
        elif kind == 3:
            output = rng.choice(["", "not json", "null", '{"labels": "x"}', "{}"])
        else:
            output = json.dumps({"labels": rng.sample(LABELS, 3)})
        text = " ".join(rng.choice(words) for _ in range(doc_chars // 7))[:doc_chars]
        messages = [{"role": "developer", "content": prompt}, {"role": "user", "content": text}]
        pairs.append(
            (output, {"id": f"doc-{i}", "messages": messages, "reference_answer": reference})
        )
    return pairs


def measure(n: int, workers: int, doc_chars: int = 3000) -> dict[str, float]:
    """Samples per second both ways, plus a check that the scores agree."""
    grader = build_grader("multilabel_f1")
    pairs = make_pairs(n, doc_chars=doc_chars)
    grade = compile_source(grader["source"])
    start = time.perf_counter()
    direct = []
    for text, item in pairs:
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        direct.append(grade({"output_text": text, "output_json": parsed}, item))
    direct_s = time.perf_counter() - start
    with LocalGrader(grader, workers=workers) as runner:
        runner.grade_many(pairs[: workers * 4])  # start the workers; not part of the timing
        start = time.perf_counter()
        results = runner.grade_many(pairs)
        runner_s = time.perf_counter() - start
    mismatches = sum(abs(r.score - d) > 1e-12 for r, d in zip(results, direct, strict=True))
    return {
        "samples": n,
        "workers": workers,
        "doc_chars": doc_chars,
        "in_process_per_s": n / direct_s,
        "local_runner_per_s": n / runner_s,
        "mismatches": mismatches,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 samples instead of 20,000")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--doc-chars", type=int, default=3000, help="document text per item")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    stats = measure(2_000 if args.quick else 20_000, args.workers, args.doc_chars)
    if args.json:
        print(json.dumps(stats))
    else:
        print(
            f"python F1 grader, {stats['samples']:,} samples with {stats['doc_chars']:,}-char prompts, "
            f"{stats['workers']} workers"
        )
        print(f"  in-process call      {stats['in_process_per_s']:>12,.0f} samples/s")
        print(
            f"  local runner         {stats['local_runner_per_s']:>12,.0f} samples/s   (target >= 2,000)"
        )
        print(f"  score mismatches     {stats['mismatches']:>12}")
    return 0 if stats["mismatches"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
