"""Build the ``messages`` column (List(Struct{role, content})) without copying any text.

Each row gets one message per turn; a turn's content is one string for every row (the developer
prompt) or a column (the rendered user message). Arrow's string-view layout lets one array point
into several data buffers, so the interleaved content column is made of 16-byte views into the
existing text buffers: building it costs 32 bytes per message, not a second copy of every
prompt. Columns with nulls take a plain (copying) path.

>>> message_lists([("developer", "Be brief."), ("user", pl.Series(["a", "a much longer text"]))], 2).to_list()[1]
[{'role': 'developer', 'content': 'Be brief.'}, {'role': 'user', 'content': 'a much longer text'}]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
import pyarrow as pa

MESSAGE = pl.Struct({"role": pl.String, "content": pl.String})
_INLINE = 12  # strings up to this many bytes live inside the view itself


def message_lists(turns: Sequence[tuple[str, str | pl.Series]], rows: int) -> pl.Series:
    """A List(Struct{role, content}) column: row ``i`` holds one message per turn, in order."""
    if rows == 0:
        return pl.Series("messages", [], dtype=pl.List(MESSAGE))
    columns = [c for _, c in turns if isinstance(c, pl.Series)]
    if any(c.null_count() for c in columns):
        return _by_gather(turns, rows)
    k = len(turns)
    roles = _interleave([_constant_view(role) for role, _ in turns], rows, [])
    buffers: list[pa.Buffer] = []
    parts = []
    for _, content in turns:
        if isinstance(content, str):
            parts.append(_constant_view(content, buffers))
        else:
            parts.append(_column_views(content, buffers))
    contents = _interleave(parts, rows, buffers)
    struct = pa.StructArray.from_arrays([roles, contents], names=["role", "content"])
    offsets = pa.array(np.arange(0, k * rows + 1, k, dtype=np.int64))
    lists = pa.LargeListArray.from_arrays(offsets, struct)
    return pl.Series("messages", lists).cast(pl.List(MESSAGE))


def _constant_view(text: str, buffers: list[pa.Buffer] | None = None) -> np.ndarray:
    """One 16-byte view of ``text``; a long text gets a data buffer of its own in ``buffers``."""
    data = text.encode("utf-8")
    view = np.zeros(16, dtype=np.uint8)
    view[:4] = np.frombuffer(np.int32(len(data)).tobytes(), np.uint8)
    if len(data) <= _INLINE:
        view[4 : 4 + len(data)] = np.frombuffer(data, np.uint8)
        return view
    assert buffers is not None, "long constants need a buffer list"
    view[4:8] = np.frombuffer(data[:4], np.uint8)
    view[8:12] = np.frombuffer(np.int32(len(buffers)).tobytes(), np.uint8)
    buffers.append(pa.py_buffer(data))
    return view  # offset 0 (bytes 12:16 stay zero)


def _column_views(column: pl.Series, buffers: list[pa.Buffer]) -> np.ndarray:
    """The (rows, 16) views of a string column, re-pointed at its buffers' place in ``buffers``."""
    array = column.cast(pl.String).rechunk().to_arrow(compat_level=pl.CompatLevel.newest())
    if not isinstance(array, pa.StringViewArray):
        array = pa.array(array.to_pylist(), type=pa.string_view())
    _validity, views_buffer, *data = array.buffers()
    views = np.frombuffer(views_buffer, dtype=np.uint8).reshape(-1, 16)[array.offset : array.offset + len(array)].copy()
    lengths = views[:, :4].copy().view(np.int32).ravel()
    long = lengths > _INLINE
    index = views[:, 8:12].copy().view(np.int32).ravel()
    index[long] += len(buffers)
    views[long, 8:12] = index[long].view(np.uint8).reshape(-1, 4)
    buffers.extend(data)
    return views


def _interleave(parts: list[np.ndarray], rows: int, buffers: list[pa.Buffer]) -> pa.Array:
    k = len(parts)
    views = np.empty((k * rows, 16), dtype=np.uint8)
    for j, part in enumerate(parts):
        views[j::k] = part
    return pa.Array.from_buffers(pa.string_view(), k * rows, [None, pa.py_buffer(views), *buffers])


def _by_gather(turns: Sequence[tuple[str, str | pl.Series]], rows: int) -> pl.Series:
    """The copying construction: interleave by gather, then reshape."""
    k = len(turns)
    roles = pl.concat([pl.repeat(role, rows, eager=True, dtype=pl.String) for role, _ in turns])
    contents = pl.concat([
        pl.repeat(c, rows, eager=True, dtype=pl.String) if isinstance(c, str) else c.cast(pl.String).rename("literal")
        for _, c in turns
    ])
    flat = pl.DataFrame({"role": roles, "content": contents})
    if k > 1:
        flat = flat[np.arange(k * rows).reshape(k, rows).T.ravel()]
    return flat.to_struct("messages").reshape((rows, k)).cast(pl.List(MESSAGE))
