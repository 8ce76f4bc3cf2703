"""An ordered map over work items on one thread per core, for work that releases the GIL
(polars, numba kernels, hashing): results come back in order, at most two per thread waiting."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def threads() -> int:
    """Worker threads: the usable cores, at most 8, and at most ``OMP_NUM_THREADS`` when set (Ray
    sets it for its workers, which run one task per CPU: more threads would oversubscribe)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    limit = os.environ.get("OMP_NUM_THREADS", "").strip()
    if limit.isdigit() and int(limit) > 0:
        cores = min(cores, int(limit))
    return max(1, min(8, cores))


def ordered_map(fn: Callable[[Any], Any], items: Iterable[Any], workers: int | None = None) -> Iterator[tuple[Any, Any]]:
    """``(item, fn(item))`` in order, computed by ``workers`` threads (default :func:`threads`)
    with at most two results per thread waiting (bounded memory; results do not depend on threads).

    >>> [out for _, out in ordered_map(lambda x: x * x, range(5))]
    [0, 1, 4, 9, 16]
    """
    items = list(items)
    workers = threads() if workers is None else workers
    if workers == 1 or len(items) < 2:
        for item in items:
            yield item, fn(item)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="curate-worker") as pool:
        pending: deque = deque()
        for item in items:
            pending.append((item, pool.submit(fn, item)))
            if len(pending) >= 2 * workers:
                head, future = pending.popleft()
                yield head, future.result()
        while pending:
            head, future = pending.popleft()
            yield head, future.result()
