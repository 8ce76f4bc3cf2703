"""``curate explain OUT LINE|ID``: one input row's journey, read back from a run's output folder.

Where the row ended (its disposition: a split, ``rejected`` or ``unused``), every finding on it with
its severity, and the rows it was paired with (duplicates, near-duplicates, conflicts: the
``partner`` column of ``findings.parquet``), each with its own disposition and the start of its
source line. Only the output folder and the source file named in its manifest are read.

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
    match = ledger.filter(pl.col("id") == key)
    if key.strip().isdigit():
        match = pl.concat([ledger.filter(pl.col("line") == int(key)), match]).unique("line", maintain_order=True)
    if match.is_empty():
        raise SourceError(f"{out}: no row at line {key} and no row with id {key!r} "
                          f"(lines 1 to {ledger.height}; ids as in ledger.parquet)")
    source = _source(out)
    lines = set(match["line"].to_list())
    partners = set(findings.filter(pl.col("line").is_in(lines))["partner"].drop_nulls().to_list())
    partners |= set(findings.filter(pl.col("partner").is_in(lines))["line"].to_list())
    wanted = sorted(lines | partners)
    snippets = _snippets(source, wanted)
    where = dict(zip(ledger["line"].to_list(), ledger["disposition"].to_list(), strict=True))
    rows = []
    for row in match.iter_rows(named=True):
        line = row["line"]
        own = findings.filter(pl.col("line") == line).sort("severity", "rule")
        pointing = findings.filter(pl.col("partner") == line).sort("line", "rule")
        paired = sorted(set(own["partner"].drop_nulls().to_list()) | set(pointing["line"].to_list()))
        rows.append({
            "line": line, "id": row["id"], "disposition": row["disposition"], "reasons": row["reasons"],
            "text": snippets.get(line),
            "findings": own.drop("line").to_dicts(),
            "partners": [{"line": p, "disposition": where.get(p), "text": snippets.get(p),
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


def _source(out: Path) -> Path | None:
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        source = manifest["config"]["source"]
        return Path(source["path"]) if source.get("format") in ("jsonl", "csv") else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _snippets(source: Path | None, lines: list[int]) -> dict[int, str]:
    """The start of each wanted physical line of a JSONL/CSV source (a row's ``line`` is its physical line)."""
    if source is None or not source.is_file() or not lines:
        return {}
    wanted = {line: line for line in lines}
    last = max(wanted)
    out: dict[int, str] = {}
    with source.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number in wanted:
                text = raw.decode("utf-8", errors="replace").strip()
                out[wanted[number]] = text if len(text) <= SNIPPET else text[: SNIPPET - 1] + "…"
            if number >= last:
                break
    return out


def render(story: Explanation) -> str:
    """The explanation as text for the terminal."""
    parts = []
    for row in story.rows:
        parts.append(f"line {row['line']}  id {row['id']!r}  ->  {row['disposition']}")
        if row["text"]:
            parts.append(f"  source: {row['text']}")
        if not row["findings"]:
            parts.append("  no rule fired on this row")
        for f in row["findings"]:
            partner = f"  (line {f['partner']})" if f.get("partner") is not None else ""
            parts.append(f"  {f['severity']:<5} {f['rule']}: {f['message']}{partner}")
        for p in row["partners"]:
            parts.append(f"  paired with line {p['line']} ({', '.join(p['rules'])}) -> {p['disposition']}")
            if p["text"]:
                parts.append(f"      {p['text']}")
    return "\n".join(parts)
