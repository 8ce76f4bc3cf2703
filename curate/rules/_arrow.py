"""What the compiled kernels share: a string column's raw Arrow buffers, and a map over chunks of
rows on one thread per core (the kernels release the GIL; :mod:`curate._threads`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from curate._threads import ordered_map


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


def chunked(texts: pl.Series, rows: int, fn: Callable[[pl.Series], Any]) -> list[Any]:
    """``fn`` of every ``rows``-row slice of ``texts``, in order, on all cores."""
    return [out for _, out in ordered_map(lambda start: fn(texts.slice(start, rows)), range(0, max(1, texts.len()), rows))]
