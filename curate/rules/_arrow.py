"""What the compiled kernels share: a string column's raw Arrow buffers, and an ordered map over
chunks of rows on one thread per core (the kernels release the GIL)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import polars as pl


def buffers(strings: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes and the int64 offsets of a string series (nulls as empty strings)."""
    import pyarrow as pa

    arr = strings.fill_null("").cast(pl.String).to_arrow()
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    _, off, data = arr.buffers()
    offsets = np.frombuffer(off, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    return (np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, np.uint8)), offsets


def threads() -> int:
    """Worker threads for the compiled kernels: the usable cores, at most 8."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def ordered_map(fn: Callable[[int], Any], items: range) -> Iterator[tuple[int, Any]]:
    """``(item, fn(item))`` in order, computed by :func:`threads` threads with at most two
    results per thread waiting (bounded memory; the results do not depend on the threads)."""
    workers = threads()
    if workers == 1 or len(items) < 2:
        for item in items:
            yield item, fn(item)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="curate-kernel") as pool:
        pending: deque = deque()
        for item in items:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= 2 * workers:
                head, future = pending.popleft()
                yield head, future.result()
        while pending:
            head, future = pending.popleft()
            yield head, future.result()


def chunked(texts: pl.Series, rows: int, fn: Callable[[pl.Series], Any]) -> list[Any]:
    """``fn`` of every ``rows``-row slice of ``texts``, in order, on all cores."""
    return [out for _, out in ordered_map(lambda start: fn(texts.slice(start, rows)), range(0, max(1, texts.len()), rows))]
