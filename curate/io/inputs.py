"""Read a source of one or several inputs as one record frame, and say where each row came from.

Each input (file, or split of a saved dataset; see :mod:`curate.io.expand`) is read by
:func:`curate.io.load.load_records` exactly as a single-file source would be. Its rows then take a
global ``line``: the line (or row) number within the file plus the line span of the files before
it, so ``line`` stays the one Int64 row key every stage, the split, the findings and ``curate
explain`` use. The span of a file is its last line (or row) that holds a row; it equals the file's
row count unless lines hold no row (a CSV header, blank lines, a quoted field over several lines),
which keeps the global lines distinct. :class:`Inputs` maps a global line back to ``(file,
file_line)``: the ledger, ``findings.parquet`` and ``rejected.jsonl`` of a run with several inputs
carry both columns, and messages naming a line name its file too.

>>> import json, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "a.jsonl").write_text(json.dumps({"text": "x", "labels": ["1"]}) + "\\n")
>>> _ = (d / "b.jsonl").write_text("{oops\\n" + json.dumps({"text": "y", "labels": ["2"]}) + "\\n")
>>> loaded = load_inputs(SourceSpec.from_mapping({"path": "*.jsonl"}, base_dir=d))
>>> loaded.frame.select("line", "text").rows(), loaded.findings.select("line", "rule").rows()
([(1, 'x'), (3, 'y')], [(2, 'malformed_json')])
>>> loaded.inputs.annotate(loaded.frame).select("line", "file", "file_line").rows()
[(1, 'a.jsonl', 1), (3, 'b.jsonl', 2)]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from curate.errors import LedgerError, SourceError
from curate.frame import ID, LINE, concat_findings
from curate.io.load import Loaded, load_records
from curate.io.source import SourceSpec
from curate.kinds.base import Kind

FILE = "file"
FILE_LINE = "file_line"
_LINE_IN_MESSAGE = r"(?s)^(.*?\bline )(\d+)\b(.*)$"


@dataclass(frozen=True)
class Origin:
    """One input: its name as shown, where it is, how it was read, and its share of the global lines."""

    name: str
    path: Path
    format: str
    split: str | None
    offset: int  # global line = file line + offset
    rows: int  # input rows (each ends in exactly one ledger disposition)


@dataclass(frozen=True)
class Inputs:
    """The inputs of a source in reading order; ``several`` when ``source.path`` names several."""

    files: tuple[Origin, ...]
    several: bool

    def locate(self, lines: pl.Series) -> tuple[pl.Series, pl.Series]:
        """``(file, file_line)`` of each global line (null where the line is null)."""
        offsets = np.array([f.offset for f in self.files], dtype=np.int64)
        values = lines.cast(pl.Int64)
        index = np.searchsorted(offsets, values.fill_null(1).to_numpy(), side="left") - 1
        names = pl.Series([f.name for f in self.files], dtype=pl.String)
        file = names.gather(index)
        if values.null_count():
            file = pl.select(pl.when(values.is_not_null()).then(file)).to_series()
        file_line = values - pl.Series(offsets[index])
        return file.alias(FILE), file_line.alias(FILE_LINE)

    def annotate(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with ``file`` and ``file_line`` after ``line`` (unchanged for a single file)."""
        if not self.several:
            return frame
        file, file_line = self.locate(frame[LINE])
        at = frame.columns.index(LINE) + 1
        return frame.insert_column(at, file).insert_column(at + 1, file_line)

    def name_lines(self, findings: pl.DataFrame) -> pl.DataFrame:
        """Messages that name a line name its file too: ``line 57 (fold1.json:8)`` (several inputs only)."""
        if not self.several or findings.is_empty():
            return findings
        parts = findings["message"].str.extract_groups(_LINE_IN_MESSAGE)
        number = parts.struct.field("2").cast(pl.Int64)
        if number.null_count() == len(number):
            return findings
        file, file_line = self.locate(number)
        named = pl.concat_str([parts.struct.field("1"), number.cast(pl.String), pl.lit(" ("), file, pl.lit(":"),
                               file_line.cast(pl.String), pl.lit(")"), parts.struct.field("3")])
        return findings.with_columns(pl.when(number.is_not_null()).then(named)
                                     .otherwise(findings["message"]).alias("message"))

    def accounts(self, ledger: pl.DataFrame) -> list[dict[str, Any]]:
        """Per input: its rows and where they ended; raises :class:`LedgerError` unless every row of
        every input is in the ledger exactly once. Empty for a single file (the manifest is as before)."""
        if not self.several:
            return []
        file, _ = self.locate(ledger[LINE])
        counts = pl.DataFrame({FILE: file, "disposition": ledger["disposition"]}).group_by(FILE, "disposition").len()
        out = []
        for origin in self.files:
            mine = counts.filter(pl.col(FILE) == origin.name)
            found = {d: int(n) for _, d, n in mine.sort("disposition").iter_rows()}
            if sum(found.values()) != origin.rows:
                raise LedgerError(f"{origin.name}: the ledger holds {sum(found.values())} of its {origin.rows} rows")
            entry: dict[str, Any] = {"file": origin.name, "path": str(origin.path), "format": origin.format}
            if origin.split is not None:
                entry["split"] = origin.split
            entry.update(line_offset=origin.offset, rows=origin.rows, counts=found)
            if origin.path.is_file():
                from curate.manifest import sha256_of

                entry["sha256"] = sha256_of(origin.path)
            out.append(entry)
        return out


@dataclass(frozen=True)
class LoadedInputs(Loaded):
    """What :func:`load_inputs` read, with the inputs each row came from."""

    inputs: Inputs


def load_inputs(spec: SourceSpec, kind: Kind | None = None) -> LoadedInputs:
    """Read every input of ``spec`` in order into one record frame with global line numbers."""
    frames, findings, origins, offset = [], [], [], 0
    for part, origin in zip(spec.files, spec.inputs or (None,), strict=True):
        loaded = load_records(part, kind)
        span = max(loaded.input_rows, _last(loaded.frame), _last(loaded.findings))
        frames.append(_shift(loaded.frame, offset, spec.id is None))
        findings.append(_shift(loaded.findings, offset, spec.id is None))
        origins.append(Origin(origin.name if origin else str(part.path), part.path, part.format, part.split,
                              offset, loaded.input_rows))
        offset += span
    names = [o.name for o in origins]
    frame = frames[0] if len(frames) == 1 else _combine(frames, names, spec.passthrough)
    return LoadedInputs(frame, findings[0] if len(findings) == 1 else concat_findings(findings),
                        sum(o.rows for o in origins), Inputs(tuple(origins), bool(spec.inputs)))


def _shift(frame: pl.DataFrame, offset: int, line_ids: bool) -> pl.DataFrame:
    """Lines moved by ``offset``; ids made from line numbers (no ``source.id``) follow them."""
    if not offset:
        return frame
    shifted = [(pl.col(LINE) + offset).alias(LINE)]
    if line_ids:
        shifted.append(pl.when(pl.col(ID).is_not_null()).then(pl.format("line-{}", pl.col(LINE) + offset)).alias(ID))
    return frame.with_columns(shifted)


def _last(frame: pl.DataFrame) -> int:
    return int(frame[LINE].max() or 0) if frame.height else 0


def _combine(frames: list[pl.DataFrame], names: list[str], passthrough: tuple[tuple[str, str], ...]) -> pl.DataFrame:
    """Stack the inputs' frames. A passthrough field typed differently between files takes a common
    type when that loses nothing: numbers widen, scalars mixed with strings become strings (``3`` ->
    ``"3"``), objects and lists merge their fields. An object or list in one file and a scalar in
    another is one :class:`SourceError` naming the field and both files."""
    casts: dict[str, pl.DataType] = {}
    for column in frames[0].columns:
        typed = [(f.schema[column], name) for f, name in zip(frames, names, strict=True)
                 if not isinstance(f.schema[column], pl.Null)]
        if len({dtype for dtype, _ in typed}) <= 1:
            continue
        (d1, n1), *rest = typed
        clash = next(((d, n) for d, n in rest if d.is_nested() != d1.is_nested()), None)
        if clash is not None:
            field = dict(passthrough).get(column, column)
            raise SourceError(f"{clash[1]}: field {field!r} holds {_kind(clash[0])} here but {_kind(d1)} in {n1}; "
                              "give it one type in every file (or leave it out of source.passthrough)")
        scalar = [d for d, _ in typed if not d.is_nested()]
        if scalar and not all(d.is_numeric() for d in scalar):
            casts[column] = pl.String()
    if casts:
        frames = [f.with_columns(pl.col(c).cast(t) for c, t in casts.items()) for f in frames]
    return pl.concat(frames, how="vertical_relaxed", rechunk=False)


def _kind(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Struct):
        return "an object"
    if isinstance(dtype, pl.List | pl.Array):
        return "a list"
    if isinstance(dtype, pl.Boolean):
        return "a boolean"
    return "a number" if dtype.is_numeric() else "a string" if isinstance(dtype, pl.String) else str(dtype)
