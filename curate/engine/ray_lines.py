"""Export files of lines on Ray: blocks of rows turned into their lines on the workers (by the export's
own writer), written by the driver in order into a temporary file renamed over the target at the end.

The rows go to Ray Data as the engine's usual contiguous blocks (``RayEngine.dataset``), each with the
place of its first row; a worker writes its block with ``serialise`` into a file of its own temporary
folder and returns the bytes (one row per block: first row, row count, bytes); the driver reads the
blocks back in order (``iter_batches`` with the session's ``preserve_order``), checks that each starts
where the previous ended, and appends them, hashing them as they go (``curate.manifest.remember_sha256``).
Lines concatenate, so the file is byte for byte the one
``serialise`` writes over the whole frame (tests/test_engine_ray.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from curate.errors import EngineError

if TYPE_CHECKING:
    import pyarrow as pa


def write_lines(engine: Any, frame: pl.DataFrame, serialise: Callable[[pl.DataFrame, Path], None],
                path: Path) -> None:
    """``Engine.write_lines`` on Ray (see :class:`curate.engine.Engine`)."""
    import hashlib

    from curate.io.atomic import atomic_path
    from curate.manifest import remember_sha256

    if frame.height == 0:  # nothing to spread: the (empty) file as the serialiser writes it
        serialise(frame, path)
        return
    index = _free_name(frame, "_curate_row")
    blocks = engine.dataset(frame.with_row_index(index)).map_batches(
        _lines_block, batch_format="pyarrow", batch_size=None, zero_copy_batch=True,
        fn_kwargs={"serialise": serialise, "index": index})
    done, digest = 0, hashlib.sha256()
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        for batch in blocks.iter_batches(batch_size=None, batch_format="pyarrow"):
            for first, rows, data in zip(*(batch.column(c).to_pylist() for c in ("first", "rows", "lines")),
                                         strict=True):
                if first != done:  # a block out of place: never write a shuffled file silently
                    raise EngineError(f"internal error: Ray returned the rows of {Path(path).name} out of order; "
                                      "please report this")
                fh.write(data)
                digest.update(data)
                done += rows
        if done != frame.height:
            raise EngineError(f"internal error: Ray returned {done} of the {frame.height} rows of "
                              f"{Path(path).name}; please report this")
    remember_sha256(path, digest.hexdigest())  # hashed as written: the manifest need not read it again


def write_jsonl(engine: Any, frame: pl.DataFrame, path: Path, reference_json: pl.Series | None = None,
                wrap: str | None = None) -> None:
    """``Engine.write_jsonl`` on Ray: :func:`curate.export.openai_rft.write_jsonl` per block, the
    references carried beside the rows as a column."""
    reference = None
    if reference_json is not None:
        reference = _free_name(frame, "_curate_reference_json")
        frame = frame.with_columns(reference_json.alias(reference))
    write_lines(engine, frame, functools.partial(jsonl_file, reference=reference, wrap=wrap), path)


def jsonl_file(frame: pl.DataFrame, path: Path, *, reference: str | None, wrap: str | None) -> None:
    """The export's JSONL writer over ``frame``, column ``reference`` (when set) as its references."""
    from curate.export.openai_rft import write_jsonl

    if reference is None:
        write_jsonl(frame, path, None, wrap)
    else:
        write_jsonl(frame.drop(reference), path, frame[reference], wrap)


def _free_name(frame: pl.DataFrame, name: str) -> str:
    while name in frame.columns:
        name += "_"
    return name


# -- on the workers (module functions: pickled by reference) -------------------------------------------
def _lines_block(block: pa.Table, *, serialise: Callable[[pl.DataFrame, Path], None], index: str) -> pa.Table:
    """One row: the block's first row, its row count and its lines as ``serialise`` writes them."""
    import tempfile

    import pyarrow as pa

    frame = pl.from_arrow(block)
    first = int(frame[index][0]) if frame.height else -1
    with tempfile.TemporaryDirectory(prefix="curate-lines-") as folder:
        path = Path(folder) / "lines"
        serialise(frame.drop(index), path)
        data = path.read_bytes()
    return pa.table({"first": pa.array([first], pa.int64()), "rows": pa.array([frame.height], pa.int64()),
                     "lines": pa.array([data], pa.large_binary())})
