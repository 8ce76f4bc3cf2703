"""Read CSV, Parquet and saved Hugging Face datasets into a frame with row numbers."""

from __future__ import annotations

import csv
import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from curate._deps import optional_import
from curate.errors import SourceError
from curate.frame import ERROR, LINE, as_findings, empty_findings
from curate.io.source import SourceSpec


def read_csv(spec: SourceSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """All columns as strings; ``line`` is the physical line where the row starts (the header is
    line 1). A quoted field may span lines; every other physical line is one row.

    Rows that cannot be read are findings, and reading goes on at the next physical line:
    ``malformed_csv`` for a row with the wrong number of fields, or whose quote never closes where
    it should (a stray ``"`` would otherwise swallow every line up to the next quote),
    ``invalid_utf8`` for a line that is not UTF-8.
    """
    delimiter = spec.delimiter or ("\t" if spec.path.suffix.lower() == ".tsv" else ",")
    if len(delimiter) != 1:
        raise SourceError(f"{spec.path}: source.delimiter must be one character, got {delimiter!r}")
    lines, bad = _decoded_lines(spec.path)
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, _FIELD_LIMIT))  # long documents are fields too
    try:
        header, rows, starts = _records(lines, delimiter, bad, spec.path)
    finally:
        csv.field_size_limit(limit)
    if header is None:
        return pl.DataFrame({LINE: []}, schema={LINE: pl.Int64}), _as_findings(bad)
    names = _unique_names(header, spec.path)
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    frame = pl.DataFrame(
        {name: pl.Series(name, list(col), dtype=pl.String) for name, col in zip(names, columns, strict=True)}
    ).with_columns(pl.Series(LINE, starts, dtype=pl.Int64))
    return frame.select(LINE, pl.exclude(LINE)), _as_findings(bad)


_FIELD_LIMIT = 1 << 30
_BOM = "\ufeff"


def _decoded_lines(path: Path) -> tuple[list[str | None], list[dict]]:
    """Physical lines (terminators kept) as text; None for a line that is not UTF-8 (a finding)."""
    bad: list[dict] = []
    out: list[str | None] = []
    for number, raw in enumerate(path.read_bytes().splitlines(keepends=True), 1):
        try:
            out.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            out.append(None)
            bad.append(_bad(number, "invalid_utf8", f"line is not valid UTF-8 (byte {exc.start})",
                            raw[:80].decode("utf-8", "replace")))
    if out and out[0] is not None and out[0].startswith(_BOM):  # a byte-order mark is not part of the header
        out[0] = out[0][1:]
    return out, bad


def _records(lines: list[str | None], delimiter: str, bad: list[dict], path: Path) -> tuple[list[str] | None, list[list[str]], list[int]]:
    """The header, the rows with the right number of fields and the line each starts on.

    One reader runs over the lines; when a record goes wrong over several lines (an unbalanced
    quote), its first line is a finding and a new reader starts on the line after it.
    """
    header: list[str] | None = None
    rows: list[list[str]] = []
    starts: list[int] = []
    i, n = 0, len(lines)
    while i < n:
        if lines[i] is None:  # not UTF-8: already a finding
            i += 1
            continue
        reader = csv.reader(_until_invalid(lines, i), delimiter=delimiter, strict=True)
        pos = i  # index of the line the next record starts on
        restart = None
        try:
            for record in reader:
                end = i + reader.line_num
                used = end - pos
                if not record or all(not cell.strip() for cell in record):  # a blank line is no row
                    pos = end
                    continue
                if header is None:
                    if used > 1:
                        raise SourceError(f"{path}:{pos + 1}: the CSV header has a quoted field spanning lines")
                    header = record
                elif len(record) == len(header):
                    rows.append(record)
                    starts.append(pos + 1)
                elif used == 1:
                    bad.append(_bad(pos + 1, "malformed_csv", f"row has {len(record)} fields, the header has {len(header)}",
                                    delimiter.join(record)[:80]))
                else:  # a quote opened here closes lines later: only this line is lost
                    _unbalanced(bad, lines, pos, f"a quoted field runs over {used} lines and leaves {len(record)} fields, "
                                f"the header has {len(header)}")
                    restart = pos + 1
                    break
                pos = end
        except csv.Error as exc:
            if header is None:
                raise SourceError(f"{path}:{pos + 1}: cannot read the CSV header ({exc})") from None
            _unbalanced(bad, lines, pos, str(exc))
            restart = pos + 1
        i = restart if restart is not None else max(pos, i + 1)
    return header, rows, starts


def _unbalanced(bad: list[dict], lines: list[str | None], pos: int, why: str) -> None:
    bad.append(_bad(pos + 1, "malformed_csv", f"unbalanced quote or bad quoting: {why}",
                    (lines[pos] or "")[:80].rstrip("\r\n")))


def _until_invalid(lines: list[str | None], i: int) -> Iterator[str]:
    for line in itertools.islice(lines, i, None):
        if line is None:
            return
        yield line


def _unique_names(header: list[str], path: Path) -> list[str]:
    seen = set()
    for name in header:
        if name in seen:
            raise SourceError(f"{path}: the header names column {name!r} twice")
        seen.add(name)
    return header


def _bad(line: int, rule: str, message: str, value: str) -> dict:
    return {"line": line, "rule": rule, "severity": ERROR, "message": message, "value": value}


def _as_findings(bad: list[dict]) -> pl.DataFrame:
    if not bad:
        return empty_findings()
    return as_findings(pl.DataFrame(bad, schema_overrides={"line": pl.Int64})).sort("line")


def read_parquet(spec: SourceSpec) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(spec.path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise SourceError(f"{spec.path}: cannot read as Parquet ({exc})") from None
    return _with_row_numbers(frame)


def read_hf(spec: SourceSpec) -> pl.DataFrame:
    """A dataset saved with ``datasets.save_to_disk`` (a ``DatasetDict`` needs ``source.split``)."""
    datasets = optional_import("datasets", "hf")
    try:
        ds = datasets.load_from_disk(str(spec.path))
    except (FileNotFoundError, ValueError) as exc:
        raise SourceError(f"{spec.path}: cannot load the saved dataset ({exc})") from None
    if isinstance(ds, datasets.DatasetDict):
        if spec.split is None or spec.split not in ds:
            raise SourceError(
                f"{spec.path}: a DatasetDict with splits {', '.join(ds)}; choose one with source.split"
            )
        ds = ds[spec.split]
    elif spec.split is not None:
        raise SourceError(f"{spec.path}: a single dataset, but source.split is {spec.split!r}")
    frame = pl.from_arrow(ds.with_format("arrow")[:])
    return _with_row_numbers(frame)


def _with_row_numbers(frame: pl.DataFrame) -> pl.DataFrame:
    if LINE in frame.columns:
        frame = frame.rename({LINE: f"{LINE}_"})
    return frame.with_row_index(LINE, offset=1).with_columns(pl.col(LINE).cast(pl.Int64))


def check_readable(path: Path, fmt: str) -> None:
    """Refuse, before reading a byte, a source that is missing, not a regular file (a device such
    as /dev/zero, a FIFO, a folder where a file is expected) or larger than this machine's memory."""
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if fmt == "hf":
        return
    if not path.is_file():
        what = "a folder" if path.is_dir() else "a device, FIFO or socket"
        raise SourceError(f"{path}: not a regular file ({what}); give a file")
    size, memory = path.stat().st_size, _memory_bytes()
    if memory and size > memory:
        raise SourceError(f"{path}: the source is {size / 2**30:.1f} GiB, more than this machine's "
                          f"{memory / 2**30:.1f} GiB of memory; split it into smaller files")


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None
