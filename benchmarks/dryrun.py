"""Dry-run request throughput against a bare asyncio ``openai`` loop, same concurrency, same run.

A local chat completions server that answers at once runs in its own process (tests/chat_server.py)
so server and clients do not share a GIL. Each round runs a bare loop (``AsyncOpenAI`` +
``asyncio.Semaphore`` + ``gather``, the same messages and response format) and a full
``run_dryrun`` on a fresh export folder (cache writes, retry wrapper, progress accounting
included), alternating which goes first; medians are reported, since other processes on the
machine add noise. The dry run's throughput is its requests over its sampling phase; its
end-to-end time (self-test, grading, reports) is printed too. The target ratio is at least 0.90.

    python benchmarks/dryrun.py            # 1000 requests per round, 5 rounds each
    python benchmarks/dryrun.py --quick    # 200 requests, 1 round each
    python benchmarks/dryrun.py --check    # exit 1 if the ratio is below --min-ratio
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SERVER = REPO / "tests" / "chat_server.py"
FIXTURE = REPO / "tests" / "data" / "dryrun_out"
KEY = "sk-bench-0123456789"
MODEL = "stub-model"


def start_server(max_requests: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "--max-requests", str(max_requests), "--lifetime", "600",
         "--api-key", KEY, "--model", MODEL, "--reply", '{"labels": ["trade"]}'],
        stdout=subprocess.PIPE, text=True,
    )
    url = proc.stdout.readline().strip()  # type: ignore[union-attr]
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit("the chat server did not start")
    return proc, url


def make_export(folder: Path, n_items: int) -> list[dict]:
    """An export folder with ``n_items`` train items (the fixture's, made distinct)."""
    shutil.copytree(FIXTURE, folder)
    base = [json.loads(line) for line in (FIXTURE / "train.jsonl").read_text().splitlines()]
    items = []
    for i in range(n_items):
        item = json.loads(json.dumps(base[i % len(base)]))
        item["id"] = f"{item['id']}-{i}"
        item["messages"][-1]["content"] += f"\n[copy {i}]"
        items.append(item)
    (folder / "train.jsonl").write_text("".join(json.dumps(it) + "\n" for it in items))
    return items


async def bare_loop(url: str, items: list[dict], samples: int, concurrency: int, fmt: dict) -> tuple[float, float]:
    """Requests per second of the plain SDK loop, and this process's CPU seconds per request."""
    import openai

    start, cpu = time.perf_counter(), time.process_time()
    client = openai.AsyncOpenAI(api_key=KEY, base_url=url, max_retries=0, timeout=300.0)
    sem = asyncio.Semaphore(concurrency)

    async def one(item: dict) -> str | None:
        async with sem:
            completion = await client.chat.completions.create(
                model=MODEL, messages=item["messages"], response_format=fmt)
            return completion.choices[0].message.content

    await asyncio.gather(*(one(item) for item in items for _ in range(samples)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    await client.close()
    n = len(items) * samples
    return n / elapsed, cpu / n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200 requests, 1 round (for tests)")
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-ratio", type=float, default=0.9)
    parser.add_argument("--check", action="store_true", help="exit 1 if the ratio is below --min-ratio")
    args = parser.parse_args(argv)
    if args.quick:
        args.items, args.rounds = 40, 1
    sys.path.insert(0, str(REPO))
    import openai  # noqa: F401  (imported once, outside every timing)

    from curate.dryrun import run_dryrun

    n = args.items * args.samples
    os.environ["BENCH_DRYRUN_KEY"] = KEY
    server, url = start_server(max_requests=2 * args.rounds * (n + 10))
    bare, dry, total, bare_cpu, dry_cpu = [], [], [], [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            fmt = json.loads((FIXTURE / "response_format.json").read_text())
            for r in range(args.rounds):
                folder = Path(tmp) / f"round{r}"
                items = make_export(folder, args.items)
                for turn in (("bare", "dry") if r % 2 == 0 else ("dry", "bare")):  # alternate who goes first
                    if turn == "bare":
                        rps, cpu = asyncio.run(bare_loop(url, items, args.samples, args.concurrency, fmt))
                        bare.append(rps)
                        bare_cpu.append(cpu)
                        continue
                    start, cpu = time.perf_counter(), time.process_time()
                    report = run_dryrun(folder, model=MODEL, base_url=url, samples=args.samples,
                                        concurrency=args.concurrency, api_key_env="BENCH_DRYRUN_KEY",
                                        progress=False, mark_ledger=False)
                    total.append(time.perf_counter() - start)
                    dry_cpu.append((time.process_time() - cpu) / n)
                    if report.requests_sent != n:
                        raise SystemExit(f"the dry run sent {report.requests_sent} requests, expected {n}")
                    dry.append(n / report.timings["sampling"])
                print(f"round {r + 1}: bare {bare[-1]:.0f} req/s, dry run {dry[-1]:.0f} req/s "
                      f"(sampling {report.timings['sampling']:.2f} s, end to end {total[-1]:.2f} s)", flush=True)
    finally:
        server.kill()
        server.wait()
    b, d = statistics.median(bare), statistics.median(dry)
    ratio = d / b
    print(f"bare asyncio openai loop: {b:.0f} req/s (median of {args.rounds}, {n} requests each, concurrency {args.concurrency})")
    print(f"curate dry run, sampling: {d:.0f} req/s")
    print(f"ratio: {ratio:.3f} (target >= {args.min_ratio:.2f})")
    print(f"dry run end to end (self-test, sampling, grading, reports): {statistics.median(total):.2f} s for {n} samples")
    print(f"client CPU per request: bare {statistics.median(bare_cpu) * 1e3:.2f} ms, "
          f"dry run end to end {statistics.median(dry_cpu) * 1e3:.2f} ms (less sensitive to other load)")
    print(json.dumps({"bare_rps": round(b, 1), "dryrun_rps": round(d, 1), "ratio": round(ratio, 4),
                      "bare_cpu_ms": round(statistics.median(bare_cpu) * 1e3, 3),
                      "dryrun_cpu_ms": round(statistics.median(dry_cpu) * 1e3, 3),
                      "requests": n, "rounds": args.rounds, "concurrency": args.concurrency}))
    return 1 if args.check and ratio < args.min_ratio else 0


if __name__ == "__main__":
    sys.exit(main())
