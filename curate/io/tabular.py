"""Read CSV, Parquet and saved Hugging Face datasets into a frame with row numbers."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from curate._deps import optional_import
from curate.errors import SourceError
from curate.frame import ERROR, LINE, as_findings, empty_findings
from curate.io.source import SourceSpec


def read_csv(spec: SourceSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    """All columns as strings; ``line`` is the physical line of the row (the header is line 1).

    Rows with the wrong number of fields become ``malformed_csv`` findings.
    """
    delimiter = spec.delimiter or ("\t" if spec.path.suffix.lower() == ".tsv" else ",")
    with open(spec.path, newline="", encoding="utf-8", errors="strict") as fh:
        try:
            reader = csv.reader(fh, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                return pl.DataFrame({LINE: []}, schema={LINE: pl.Int64}), empty_findings()
            rows: list[list[str]] = []
            lines: list[int] = []
            bad: list[dict] = []
            start = reader.line_num + 1
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    start = reader.line_num + 1
                    continue
                if len(row) != len(header):
                    bad.append({"line": start, "rule": "malformed_csv", "severity": ERROR,
                                "message": f"row has {len(row)} fields, the header has {len(header)}",
                                "value": delimiter.join(row)[:80]})
                else:
                    rows.append(row)
                    lines.append(start)
                start = reader.line_num + 1
        except UnicodeDecodeError as exc:
            raise SourceError(f"{spec.path}: not valid UTF-8 (byte {exc.start})") from None
        except csv.Error as exc:
            raise SourceError(f"{spec.path}:{reader.line_num}: {exc}") from None
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(header)
    frame = pl.DataFrame(
        {name: pl.Series(name, list(col), dtype=pl.String) for name, col in zip(header, columns, strict=True)}
    ).with_columns(pl.Series(LINE, lines, dtype=pl.Int64))
    findings = as_findings(pl.DataFrame(bad, schema_overrides={"line": pl.Int64})) if bad else empty_findings()
    return frame.select(LINE, pl.exclude(LINE)), findings


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


def check_readable(path: Path) -> None:
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
