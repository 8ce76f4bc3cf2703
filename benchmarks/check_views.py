"""Benchmark: ``curate check``'s RFT view of a TRL Parquet file, row loop vs polars expressions.

Writes a synthetic TRL export (``prompt`` chat messages with a system turn, ``id``,
``reference_answer`` label lists, two passthrough columns) and converts it to the RFT view both
ways in this run: the per-row Python path (``ExportTarget.rft_row``, what ``write_view`` did
before) and the target's ``rft_view`` expression. Prints wall and CPU seconds of each, the ratio,
and checks that both views hold the same rows.

    python benchmarks/check_views.py              # 200,000 rows
    python benchmarks/check_views.py --rows 20000
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curate.check import views  # noqa: E402
from curate.export import get_target  # noqa: E402

TOPICS = ("harbour", "orchard", "glacier", "violin", "lantern", "meadow", "copper", "falcon", "canyon", "saffron")


def trl_file(rows: int, folder: Path) -> Path:
    i = pl.int_range(rows, eager=True)
    topic = pl.Series(TOPICS)
    frame = pl.DataFrame({"i": i}).select(
        pl.concat_list(
            pl.struct(pl.lit("system").alias("role"), pl.lit("Classify the regulation.").alias("content")),
            pl.struct(pl.lit("user").alias("role"),
                      pl.format("Regulation {} on the {} trade, caf\u00e9 rules and tariffs.", "i",
                                pl.col("i") % 10).alias("content")),
        ).alias("prompt"),
        pl.format("r{}", "i").alias("id"),
        pl.concat_list(pl.lit(topic).gather(pl.col("i") % 10), pl.lit(topic).gather((pl.col("i") // 10) % 10))
          .list.unique().list.sort().alias("reference_answer"),
        (2000 + pl.col("i") % 9).alias("year"),
        pl.struct((pl.col("i") % 7).alias("a"), pl.lit("x").alias("b")).alias("meta"),
    )
    path = folder / "train.parquet"
    frame.write_parquet(path, statistics=False)
    return path


def timed(fn) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args(argv)
    target = get_target("trl-grpo")
    with tempfile.TemporaryDirectory() as tmp:
        path = trl_file(args.rows, Path(tmp))
        rows = pl.read_parquet(path)
        loop_wall, loop_cpu, loop = timed(lambda: views._rows_view(rows.to_dicts(), target))
        expr_wall, expr_cpu, expr = timed(lambda: views._parquet_view(rows, target))
    same = len(loop) == len(expr) and all(json.loads(a) == json.loads(b) for a, b in zip(loop, expr, strict=True))
    print(f"TRL Parquet -> RFT view, {args.rows:,} rows ({path.name})")
    print(f"  row loop (rft_row):      {loop_wall:7.2f}s wall {loop_cpu:7.2f}s CPU")
    print(f"  expression (rft_view):   {expr_wall:7.2f}s wall {expr_cpu:7.2f}s CPU")
    print(f"  ratio loop/expression:   {loop_wall / expr_wall:7.1f}x wall {loop_cpu / max(expr_cpu, 1e-9):7.1f}x CPU")
    print(f"  same rows: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
