"""An explicit polars schema for reading a JSON Lines source fast, built from the field mapping.

Inferring the schema over the whole file (``infer_schema_length=None``) roughly doubles the time
``polars.read_ndjson`` takes; inferring it from the first rows only is unsafe, because polars then
coerces later rows silently (a string label ``"3"`` becomes ``["3"]``, a number text ``5`` becomes
``"5"``). Reading with an explicit schema for just the mapped fields is safe when every surprise
either makes polars fail (the caller then reads again with full inference) or leaves a value the
loader re-checks against its raw line (see :func:`curate.io.load.map_fields`):

- ``id`` and ``text`` are read as strings: numbers, booleans, objects and lists come back as their
  JSON text, which the loader's suspect patterns catch;
- an ``answer`` (open-answer tasks) is read as a string, like ``text``;
- ``labels`` are read as a list of strings: a string, a number or an object in place of the list
  fails the read; numbers and objects inside the list come back as text and are re-checked;
- a dotted path reads through structs: a string or a number where an object is expected fails;
- passthrough fields take the type polars infers from the first rows when that type is strict
  (integer, float, boolean: a later mismatch fails the read) or when full inference would give the
  same type anyway (string, list of strings); any other type (objects whose keys may vary, nulls)
  means no explicit schema.

>>> from pathlib import Path
>>> from curate.io.source import SourceSpec
>>> spec = SourceSpec(Path("raw.jsonl"), "jsonl", id="k", text="t.en", labels="y")
>>> mapping_schema(spec)
{'t': Struct({'en': String}), 'y': List(String), 'k': String}
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any

import polars as pl

from curate.io.source import SourceSpec
from curate.io.strict_json import MAX_DEPTH

SAMPLE_ROWS = 1000
# passthrough types safe to take from a sample: a later mismatch fails the read, or full
# inference would coerce to the same type
_SAMPLE_SAFE = (pl.Int64(), pl.Float64(), pl.Boolean(), pl.String(), pl.List(pl.String()))


def mapping_schema(spec: SourceSpec, sample: pl.Schema | None = None) -> dict[str, pl.DataType] | None:
    """The read schema for ``spec``'s mapped fields, or None when it cannot be known safely."""
    leaves: dict[str, pl.DataType] = {"text": pl.String(), "answer": pl.String(),
                                      "labels": pl.String() if spec.labels_sep else pl.List(pl.String())}
    if spec.id is not None:
        leaves["id"] = pl.String()
    paths = spec.field_paths
    tree: dict[str, Any] = {}
    for name, path in paths.items():
        dtype = leaves.get(name) or _sampled(sample, path)  # passthrough types come from the sample
        if dtype is None:
            return None
        if not _place(tree, path.split("."), dtype):
            return None
    return {head: _as_dtype(node) for head, node in tree.items()}


def sample_schema(path: Path, rows: int = SAMPLE_ROWS) -> pl.Schema | None:
    """The schema polars infers from the first ``rows`` lines (None if they do not parse, or
    if one may nest too deeply for polars' inference: see :mod:`curate.io.jsonl`)."""
    try:
        with open(path, "rb") as fh:
            if any(line.count(b"[") + line.count(b"{") > MAX_DEPTH for line in islice(fh, rows)):
                return None
        return pl.scan_ndjson(path, infer_schema_length=rows).collect_schema()
    except (pl.exceptions.PolarsError, ValueError, OSError):
        return None


def mapped_paths_present(frame: pl.DataFrame, spec: SourceSpec) -> bool:
    """True when every mapped path holds at least one non-null value in ``frame``.

    A path that is null everywhere may be absent from the file (a mapping error the loader reports
    with the fields present) or typed differently than the schema assumed: read it again with full
    inference.
    """
    exprs = []
    for i, path in enumerate(dict.fromkeys(spec.field_paths.values())):
        head, *rest = path.split(".")
        expr = pl.col(head)
        for part in rest:
            expr = expr.struct.field(part)
        exprs.append(expr.is_not_null().any().alias(f"_{i}"))
    return frame.height > 0 and all(frame.select(exprs).row(0))


def _sampled(sample: pl.Schema | None, path: str) -> pl.DataType | None:
    if sample is None:
        return None
    head, *rest = path.split(".")
    dtype = sample.get(head)
    for part in rest:
        if not isinstance(dtype, pl.Struct):
            return None
        dtype = {f.name: f.dtype for f in dtype.fields}.get(part)
    return dtype if dtype in _SAMPLE_SAFE else None


def _place(tree: dict[str, Any], parts: list[str], dtype: pl.DataType) -> bool:
    """Put ``dtype`` at ``parts`` in the nested tree; False on a clash (a leaf that is also a struct)."""
    *branches, leaf = parts
    node = tree
    for part in branches:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            return False
    if leaf in node:
        return node[leaf] == dtype
    node[leaf] = dtype
    return True


def _as_dtype(node: Any) -> pl.DataType:
    if isinstance(node, dict):
        return pl.Struct({name: _as_dtype(child) for name, child in node.items()})
    return node
