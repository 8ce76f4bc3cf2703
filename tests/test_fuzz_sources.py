"""Fuzz the loader with hostile sources in every format (issue 13).

For any file: loading raises nothing but :class:`curate.errors.CurateError` (a whole file may be
refused with one line), and when it loads every row is accounted for exactly once: a record or an
error finding, never both, never neither; the count is the file's row count; a second load gives
the same frame and findings. Deterministic (derandomized) and bounded, so CI runs it in seconds.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
from fuzz_sources import Source, any_source, random_files
from hypothesis import HealthCheck, given, settings

from curate.errors import CurateError
from curate.io.load import load_records
from curate.io.source import SourceSpec

FUZZ = settings(deadline=None, derandomize=True, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])


def load(source: Source, folder: Path):
    path = folder / source.name
    path.write_bytes(source.data)
    return load_records(SourceSpec.from_mapping({"path": str(path), **source.mapping}))


def assert_accounted(loaded, rows: int | None) -> None:
    records = loaded.frame["line"].to_list()
    assert len(records) == len(set(records)), "a line became two records"
    errors = set(loaded.findings.filter(pl.col("severity") == "error")["line"].to_list())
    assert not errors & set(records), "a rejected line is also a record"
    everything = set(records) | set(loaded.findings["line"].to_list())
    assert len(everything) == loaded.input_rows, "rows are missing from records + findings or counted twice"
    if rows is not None:
        assert loaded.input_rows == rows


def load_or_refuse(source: Source, folder: Path):
    """The loaded source, or None when it is refused as a whole with a one-line CurateError."""
    try:
        return load(source, folder)
    except CurateError as exc:
        assert "\n" not in str(exc)
        # only a JSON array or a Parquet file may be refused as a whole (e.g. not JSON at all);
        # a line-based file is read row by row
        assert source.rows is None or source.name.endswith((".json", ".parquet")), f"{source.name}: {exc}"
        return None


@settings(FUZZ, max_examples=120)
@given(any_source())
def test_any_hostile_source_loads_row_by_row(source):
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_or_refuse(source, Path(tmp))
        if loaded is None:
            return
        assert_accounted(loaded, source.rows)
        again = load(source, Path(tmp))
        assert again.frame.equals(loaded.frame) and again.findings.equals(loaded.findings)


@settings(FUZZ, max_examples=60)
@given(random_files())
def test_random_bytes_are_refused_or_read_row_by_row(source):
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_or_refuse(source, Path(tmp))
        if loaded is not None:
            assert_accounted(loaded, None)
