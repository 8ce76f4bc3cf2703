"""``curate explain OUT LINE|ID``: one input row's journey, read back from a run's output folder.

Where the row ended (its disposition: a split, ``rejected`` or ``unused``), every finding on it with
its severity, and the rows it was paired with (duplicates, near-duplicates, conflicts: the
``partner`` column of ``findings.parquet``), each with its own disposition and the start of its
source row. Only the output folder and the source files named in its manifest are read. With
several inputs (:mod:`curate.io.inputs`) a row is also found by ``FILE:LINE`` (``fold2.json:8``, the
file as the ledger's ``file`` column names it, or just its name) and is shown with its file.

>>> import curate, tempfile
>>> out = curate.run("examples/eurlex/pipeline.yaml", export__out=tempfile.mkdtemp()).out_dir
>>> story = explain(out, "1")
>>> story.rows[0]["line"], story.rows[0]["disposition"] in ("train", "valid", "unused", "rejected")
(1, True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from curate.errors import SourceError

SNIPPET = 160


@dataclass(frozen=True)
class Explanation:
    """The rows matching the key, with their findings and partners (plain dicts, ready to print)."""

    out: Path
    key: str
    rows: list[dict[str, Any]]


def explain(out: str | Path, key: str) -> Explanation:
    """The journey of the row at ``key`` (a 1-based source line, or an id) in the run written to ``out``."""
    out = Path(out)
    ledger_path = out / "ledger.parquet"
    if not out.is_dir():
        raise SourceError(f"{out}: no such output folder")
    if not ledger_path.is_file():
        raise SourceError(f"{out}: no ledger.parquet here; is this a curate output folder?")
    try:
        ledger = pl.read_parquet(ledger_path)
        findings = _findings(out)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(f"{out}: cannot read the run's files ({str(exc).splitlines()[0]})") from None
    match = _match(ledger, key)
    if match.is_empty():
        raise SourceError(f"{out}: no row at line {key} and no row with id {key!r} "
                          f"(lines 1 to {ledger.height}; ids as in ledger.parquet)")
    lines = set(match["line"].to_list())
    partners = set(findings.filter(pl.col("line").is_in(lines))["partner"].drop_nulls().to_list())
    partners |= set(findings.filter(pl.col("partner").is_in(lines))["line"].to_list())
    wanted = sorted(lines | partners)
    snippets = _snippets(_sources(out), wanted)
    where = dict(zip(ledger["line"].to_list(), ledger["disposition"].to_list(), strict=True))
    origin = ({line: {"file": f, "file_line": n} for line, f, n in ledger.select("line", "file", "file_line").iter_rows()}
              if "file" in ledger.columns else {})  # a source of several inputs (curate.io.inputs)
    rows = []
    for row in match.iter_rows(named=True):
        line = row["line"]
        own = findings.filter(pl.col("line") == line).sort("severity", "rule")
        pointing = findings.filter(pl.col("partner") == line).sort("line", "rule")
        paired = sorted(set(own["partner"].drop_nulls().to_list()) | set(pointing["line"].to_list()))
        rows.append({
            "line": line, **origin.get(line, {}), "id": row["id"], "disposition": row["disposition"],
            "reasons": row["reasons"], "text": snippets.get(line),
            "findings": own.drop("line").to_dicts(),
            "partners": [{"line": p, **origin.get(p, {}), "disposition": where.get(p), "text": snippets.get(p),
                          "rules": sorted(set(own.filter(pl.col("partner") == p)["rule"].to_list())
                                          | set(pointing.filter(pl.col("line") == p)["rule"].to_list()))}
                         for p in paired],
        })
    return Explanation(out, key, rows)


def _findings(out: Path) -> pl.DataFrame:
    from curate.frame import FINDINGS_SCHEMA, as_findings, empty_findings

    path = out / "findings.parquet"
    if path.is_file():
        return as_findings(pl.read_parquet(path))
    return empty_findings().cast(FINDINGS_SCHEMA)  # a run written before findings.parquet existed


def _match(ledger: pl.DataFrame, key: str) -> pl.DataFrame:
    """Rows whose line, id or (several inputs) ``FILE:LINE`` is ``key``."""
    match = ledger.filter(pl.col("id") == key)
    if key.strip().isdigit():
        match = pl.concat([ledger.filter(pl.col("line") == int(key)), match])
    file, sep, number = key.rpartition(":")
    if "file" in ledger.columns and sep and number.strip().isdigit():
        at = ledger.filter(pl.col("file_line") == int(number))
        named = at.filter(pl.col("file") == file)
        if named.is_empty():  # the file's name without its folder, when that names one file
            named = at.filter(pl.col("file").str.split("/").list.last() == Path(file).name)
            named = named if named["file"].n_unique() == 1 else named.clear()
        match = pl.concat([match, named.select(match.columns)])
    return match.unique("line", maintain_order=True)


@dataclass(frozen=True)
class _Source:
    path: Path
    format: str
    offset: int  # the run's line = the file's line + offset


def _sources(out: Path) -> list[_Source]:
    """The files the run read (from its manifest), with their line offsets."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        files = (manifest.get("source") or {}).get("files")
        if files:
            return [_Source(Path(f["path"]), f["format"], int(f["line_offset"])) for f in files]
        source = manifest["config"]["source"]
        return [_Source(Path(source["path"]), source.get("format"), 0)]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


def _snippets(sources: list[_Source], lines: list[int]) -> dict[int, str]:
    """The start of each wanted row as its source holds it: the physical line of a JSONL or CSV
    file, the element of a JSON array."""
    out: dict[int, str] = {}
    starts = [s.offset for s in sources]
    for k, source in enumerate(sources):
        end = starts[k + 1] if k + 1 < len(starts) else None
        mine = {line - source.offset: line for line in lines if line > source.offset and (end is None or line <= end)}
        if mine and source.format in ("jsonl", "csv", "json") and source.path.is_file():
            for number, text in _read_rows(source, mine).items():
                out[mine[number]] = text if len(text) <= SNIPPET else text[: SNIPPET - 1] + "…"
    return out


def _read_rows(source: _Source, wanted: dict[int, int]) -> dict[int, str]:
    if source.format == "json":
        from curate.io.jsonl import array_elements

        elements = array_elements(source.path.read_text(encoding="utf-8-sig", errors="replace")) or []
        return {n: elements[n - 1] for n in wanted if n <= len(elements)}
    out: dict[int, str] = {}
    last = max(wanted)
    with source.path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number in wanted:
                out[number] = raw.decode("utf-8", errors="replace").strip()
            if number >= last:
                break
    return out


def render(story: Explanation) -> str:
    """The explanation as text for the terminal."""
    parts = []
    for row in story.rows:
        parts.append(f"line {row['line']}{_at(row)}  id {row['id']!r}  ->  {row['disposition']}")
        if row["text"]:
            parts.append(f"  source: {row['text']}")
        if not row["findings"]:
            parts.append("  no rule fired on this row")
        for f in row["findings"]:
            partner = f"  (line {f['partner']})" if f.get("partner") is not None else ""
            parts.append(f"  {f['severity']:<5} {f['rule']}: {f['message']}{partner}")
        for p in row["partners"]:
            parts.append(f"  paired with line {p['line']}{_at(p)} ({', '.join(p['rules'])}) -> {p['disposition']}")
            if p["text"]:
                parts.append(f"      {p['text']}")
    return "\n".join(parts)


def _at(row: dict[str, Any]) -> str:
    """`` (fold2.json:8)`` for a row of a source with several inputs, else nothing."""
    return f" ({row['file']}:{row['file_line']})" if row.get("file") is not None else ""
