"""One exported file through ``curate check``: read, parse, row rules, dataset rules.

:class:`FileCheck` starts when the path is known: the file is read and its clean lines
(:mod:`curate.check.fast`) are decoded by polars on the worker threads while the caller resolves
the rule pack. :meth:`FileCheck.finish` parses the other lines with Python's ``json`` (exact
per-line findings), then runs the row rules and the text normalisation of all rows on the two
worker threads (polars releases the GIL) and the dataset rules once over all rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import polars as pl

from curate.check import read
from curate.check.fast import (
    LABEL_SEP,
    NO_LABELS,
    CleanRows,
    Layout,
    clean_rows,
    layout,
    split_lines,
)
from curate.check.norm import complete_norm, norm_ends, with_ends
from curate.check.read import Unreadable, _parse_lines, _read_parquet, byte_chunks, peek_rows
from curate.check.rft import (
    FORMAT_RULES,
    MAX_FILE_BYTES,
    MAX_ROWS,
    key_problems,
    message_problems,
    prompt_text,
    reference_labels,
)
from curate.errors import ConfigError
from curate.frame import ERROR, concat_findings

REFERENCE_KEYS = ("reference_answer", "reference", "answer", "labels")
Row = dict[str, Any]


def file_role(path: Path) -> str | None:
    """``"valid"``, ``"train"`` or None, from the file name.

    >>> file_role(Path("out/valid_production.jsonl")), file_role(Path("train.parquet")), file_role(Path("x.jsonl"))
    ('valid', 'train', None)
    """
    name = path.name.lower()
    if "valid" in name or "val." in name or name.startswith("val_"):
        return "valid"
    if "train" in name:
        return "train"
    return None


def finding(path: Path, line: int, rule: str, message: str, value: str | None = None, severity: str | None = None, id_: str | None = None, field: str | None = None) -> dict[str, Any]:
    return {
        "path": str(path), "line": line, "id": id_, "rule": rule,
        "severity": severity or FORMAT_RULES.get(rule, (ERROR, ""))[0],
        "field": field, "value": None if value is None else str(value)[:80], "message": message,
    }


def reference_key(rows: Sequence[tuple[int, Mapping[str, Any] | frozenset[str]]]) -> str | None:
    """The reference-answer key: the first of :data:`REFERENCE_KEYS` in the first 100 rows."""
    for key in REFERENCE_KEYS:
        if any(key in row for _, row in rows[:100]):
            return key
    return None


def _response_format(path: Path, given: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if given is not None:
        return dict(given)
    candidate = path.parent / "response_format.json"
    if candidate.is_file():
        try:
            data = json.loads(candidate.read_text(encoding="utf-8"))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None
    return None


def row_frame(rows: list[tuple[int, Row]], ref_key: str | None) -> pl.DataFrame:
    """``line, id, text, joined`` of parsed rows (see :func:`with_labels`)."""
    lines, ids, texts, joined = [], [], [], []
    for line, row in rows:
        lines.append(line)
        rid = row.get("id")
        ids.append(None if rid is None else str(rid))
        texts.append(prompt_text(row))
        labels = reference_labels(row, ref_key)
        # building List(String) from Python lists is slow; join here, split in polars
        joined.append(None if labels is None else (NO_LABELS if not labels else LABEL_SEP.join(labels)))
    return pl.DataFrame(
        {"line": lines, "id": ids, "text": texts, "joined": joined},
        schema={"line": pl.Int64, "id": pl.String, "text": pl.String, "joined": pl.String},
    )


def with_labels(frame: pl.DataFrame) -> pl.DataFrame:
    """The record frame the rules read, from ``line, id, text, joined`` (labels joined by
    ``LABEL_SEP``, ``NO_LABELS`` for an empty list, null when there is no list)."""
    labels_expr = (
        pl.when(pl.col("joined") == NO_LABELS).then(pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(pl.col("joined").str.split(LABEL_SEP))
    )
    return frame.select("line", "id", "text", labels_expr.alias("labels"), labels_expr.alias("label_names"))


class _Exact:
    """Rows that take the exact per-line Python path: their format findings and key sets."""

    def __init__(self, path: Path, found: list[dict[str, Any]]) -> None:
        self.path, self.found = path, found
        self.keys: list[tuple[int, frozenset[str]]] = []  # (line, key set) of every readable row

    def add(self, parsed: list[tuple[int, Row | Unreadable]]) -> list[tuple[int, Row]]:
        """Record the findings of parsed lines; return the readable rows."""
        rows = []
        for line, row in parsed:
            if isinstance(row, Unreadable):
                self.found.append(finding(self.path, line, row.rule, row.message, row.value))
                continue
            rows.append((line, row))
            self.keys.append((line, frozenset(row)))
            rid = None if row.get("id") is None else str(row.get("id"))
            for rule, message, value in message_problems(row):
                self.found.append(finding(self.path, line, rule, message, value, id_=rid, field="messages"))
        return rows


def _clean_part(chunk: bytes, first: int, lay: Layout) -> tuple[CleanRows, list[bytes]]:
    """:func:`clean_rows` of one chunk of lines, plus the bytes of the lines that need the exact path."""
    text, lines = split_lines(chunk)
    part = clean_rows(text, first, lay)
    return part, [lines[line - first] for line in part.slow]


def _row_rules(records: pl.DataFrame, rules: list, context: Any) -> pl.DataFrame:
    from curate.rules.base import RowRule
    from curate.rules.engine import row_findings
    from curate.rules.workspace import Workspace

    return row_findings(Workspace(records), [r for r in rules if isinstance(r, RowRule)], context)


def _norm(texts: pl.Series, lazy: bool) -> pl.DataFrame:
    from curate.rules.workspace import normalised_text

    if lazy:
        return norm_ends(texts)
    return pl.DataFrame([normalised_text(texts).alias("norm"), pl.Series("ends", [None] * len(texts), dtype=pl.String)])


class FileCheck:
    """One file, started at construction (reading and decoding need no rules), then
    :meth:`submit` once the rules are known and :meth:`finish`. An error while starting is raised
    by :meth:`submit`."""

    def __init__(self, path: Path, pool: ThreadPoolExecutor, *, labels: bool = True) -> None:
        self.path, self.pool = path, pool
        self.labels = labels  # False: an answer task's export, whose reference is no label set
        self.error: Exception | None = None
        self.parquet = path.suffix.lower() == ".parquet"
        self.chunks: list[tuple[int, list[bytes]]] = []  # lines for the exact path (no clean layout)
        self.parts: list[Future] = []
        self.peek: dict[int, Row | Unreadable] = {}
        self.ref_key: str | None = None
        self.layout: Layout | None = None
        if not self.parquet:
            try:
                self._start()
            except Exception as exc:  # raised by submit, after the rule pack is resolved
                self.error = exc

    def _start(self) -> None:
        data = read.file_bytes(self.path)
        self.peek = peek_rows(data)
        readable = [(line, row) for line, row in self.peek.items() if not isinstance(row, Unreadable)]
        self.ref_key = reference_key(readable) if self.labels else None  # from the first 100 readable rows
        self.layout = layout([row for _, row in readable], self.ref_key)
        # two chunks or more: one per worker thread
        chunk_bytes = min(read.CHUNK_BYTES, max(1 << 20, -(-len(data) // 2)))
        for first, chunk in byte_chunks(data, chunk_bytes):
            if self.layout is None:
                self.chunks.append((first, chunk.split(b"\n")))
            else:  # split and decoded on a worker thread
                self.parts.append(self.pool.submit(_clean_part, chunk, first, self.layout))

    def submit(self, rules: list, *, response_format: Mapping[str, Any] | None = None, lazy_norm: bool = False) -> None:
        """Collect the decoded rows, parse the others, find the format problems and hand the row
        rules and the normalisation to the worker threads (:meth:`finish` collects them)."""
        from curate.rules import RuleContext
        from curate.rules.labels import answer_constraints

        if self.error is not None:
            raise self.error
        path = self.path
        found: list[dict[str, Any]] = []
        role = file_role(path)
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            found.append(finding(path, 0, "file_too_large", f"file is {size / 2**20:.0f} MB; the platform accepts at most 512 MB"))
        rf = _response_format(path, response_format)
        if rf:
            try:
                answer_constraints(rf)
            except ConfigError:  # an unusable schema is the export's problem, not the rows'
                rf = None
        # answer_schema covers the label set here (the enum is the vocabulary of an exported file)
        context = RuleContext(label_names=None, response_format=rf)
        exact = _Exact(path, found)
        frames: list[pl.DataFrame] = []  # line, id, text, joined
        clean: list[pl.Series] = []  # lines of the rows decoded on the fast path
        n_rows = 0
        if self.parquet:
            parsed = _read_parquet(path)
            n_rows = len(parsed)
            readable = [(line, row) for line, row in parsed if not isinstance(row, Unreadable)]
            self.ref_key = reference_key(readable) if self.labels else None
            frames.append(row_frame(exact.add(parsed), self.ref_key))
        for first, lines in self.chunks:
            parsed = _parse_lines(lines, first)
            n_rows += len(parsed)
            frames.append(row_frame(exact.add(parsed), self.ref_key))
        for future in self.parts:
            part, slow_raw = future.result()
            n_rows += part.rows
            frames.append(part.frame)
            clean.append(part.frame["line"])
            if part.slow:
                parsed = []
                for line, raw in zip(part.slow, slow_raw, strict=True):
                    parsed += [(line, self.peek[line])] if line in self.peek else _parse_lines([raw], line)
                frames.append(row_frame(exact.add(parsed), self.ref_key))
        self.chunks, self.parts, self.peek = [], [], {}
        records = pl.concat(frames) if frames else row_frame([], self.ref_key)
        if not records["line"].is_sorted():  # rows of the exact path go among the decoded ones
            records = records.sort("line")
        records = with_labels(records)
        self.row_task = self.pool.submit(_row_rules, records, rules, context)
        self.norm_task = self.pool.submit(_norm, records["text"], lazy_norm)
        self.rules, self.context, self.records, self.found = rules, context, records, found
        if not n_rows:
            found.append(finding(path, 0, "empty_file", "file has no rows"))
        if role in MAX_ROWS and n_rows > MAX_ROWS[role]:
            found.append(finding(path, 0, "too_many_rows", f"{n_rows} rows; {role} files accept at most {MAX_ROWS[role]:,}"))
        shared = {self.layout.keys: pl.concat(clean)} if self.layout is not None and clean else {}
        for line, rule, message, value in key_problems(exact.keys, shared):
            found.append(finding(path, line, rule, message, value))
        for line in records.filter(pl.col("labels").list.len() == 0)["line"].to_list():
            found.append(finding(path, line, "no_labels", f"the reference answer {self.ref_key!r} is an empty list", field=self.ref_key))

    def finish(self) -> tuple[list[dict[str, Any]], pl.DataFrame, pl.DataFrame]:
        """Format findings (dicts), rule findings (frame) and ``line, id, norm, ends, text`` of the
        file's rows (for the overlap check). With ``lazy_norm`` (the dataset rules only group on the
        normalised text), ``norm`` is null where no other row of the file shares the ends of the
        normalised text (:mod:`curate.check.norm`); without it, ``ends`` is null."""
        from curate.rules.base import RowRule
        from curate.rules.engine import run_rules
        from curate.rules.workspace import Workspace

        records, rules = self.records, self.rules
        norms = self.norm_task.result()
        norm, ends = norms["norm"], norms["ends"]
        if norm.has_nulls():
            # rows can share a normalised text only if they share its ends: complete those; the
            # others get a stand-in no normalised text can equal (it holds a newline)
            ends = with_ends(norm, ends)
            norm = complete_norm(norm, records["text"], ends.is_duplicated().arg_true())
        ws_norm = records.select(pl.when(norm.is_null()).then(pl.format("\n{}", "line")).otherwise(norm).alias("norm"))["norm"]
        keyed = records.select("line", "id", norm.alias("norm"), ends.alias("ends"), "text")  # for the overlap check
        row_found = self.row_task.result()
        if records["id"].null_count() == records.height:  # ids are optional in RFT files: no noise when absent
            row_found = row_found.filter(pl.col("rule") != "missing_id")
        ws = Workspace(records, norm=ws_norm)
        dataset, _ = run_rules(records, [r for r in rules if not isinstance(r, RowRule)], self.context, ws, groups=False)
        findings = concat_findings([row_found, dataset])
        return self.found, findings.with_columns(pl.lit(str(self.path)).alias("path")), keyed


def check_file(path: Path, rules: list, *, response_format: Mapping[str, Any] | None = None, lazy_norm: bool = False) -> tuple[list[dict[str, Any]], pl.DataFrame, pl.DataFrame]:
    """One file on its own (see :meth:`FileCheck.finish`)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        file = FileCheck(path, pool)
        file.submit(rules, response_format=response_format, lazy_norm=lazy_norm)
        return file.finish()
