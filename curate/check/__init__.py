"""``curate check``: validate exported RFT files before they are committed or uploaded.

Checks the RFT line format (:mod:`curate.check.rft`), the row rules of a rule pack on each row's
user prompt and reference answer, duplicates and conflicts within a file, and train/validation
overlap when both files are given (a file whose name contains ``valid`` is validation data, one
containing ``train`` is training data). The CLI command, the pre-commit hook and this API share
:func:`check_files`.

>>> import json, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> row = {"messages": [{"role": "user", "content": "Classify this regulation on fruit imports."}],
...        "reference_answer": ["trade"]}
>>> bad = {"messages": [{"role": "system", "content": "hi"}, {"role": "assistant", "content": "x"}],
...        "reference_answer": ["trade"]}
>>> _ = (folder / "train.jsonl").write_text(json.dumps(row) + "\\n" + json.dumps(bad) + "\\n")
>>> main([str(folder / "train.jsonl"), "--quiet"])
1
>>> check_files([folder / "train.jsonl"]).findings.select("line", "rule").rows()
[(2, 'disallowed_role'), (2, 'empty_text'), (2, 'last_message_not_user')]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from curate.check.read import Unreadable, iter_export
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
from curate.frame import ERROR, FINDINGS_SCHEMA, WARN, concat_findings

__all__ = ["CheckResult", "FORMAT_RULES", "check_files", "file_role", "format_findings", "main"]

CHECK_SCHEMA = {"path": pl.String(), **FINDINGS_SCHEMA}
REFERENCE_KEYS = ("reference_answer", "reference", "answer", "labels")


@dataclass(frozen=True)
class CheckResult:
    findings: pl.DataFrame  # CHECK_SCHEMA: path + the findings columns; line 0 = the whole file
    rows: dict[str, int]  # readable rows per checked path

    @property
    def errors(self) -> int:
        return int((self.findings["severity"] == ERROR).sum())


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


def _finding(path: Path, line: int, rule: str, message: str, value: str | None = None, severity: str | None = None, id_: str | None = None, field: str | None = None) -> dict[str, Any]:
    return {
        "path": str(path), "line": line, "id": id_, "rule": rule,
        "severity": severity or FORMAT_RULES.get(rule, (ERROR, ""))[0],
        "field": field, "value": None if value is None else str(value)[:80], "message": message,
    }


def _reference_key(rows: Sequence[tuple[int, Mapping[str, Any] | frozenset[str]]]) -> str | None:
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


def _row_frame(rows: list[tuple[int, dict[str, Any]]], ref_key: str | None) -> pl.DataFrame:
    lines, ids, texts, joined = [], [], [], []
    sep = "\x1f"
    for line, row in rows:
        lines.append(line)
        rid = row.get("id")
        ids.append(None if rid is None else str(rid))
        texts.append(prompt_text(row))
        labels = reference_labels(row, ref_key)
        # building List(String) from Python lists is slow; join here, split in polars
        joined.append(None if labels is None else ("\x1e" if not labels else sep.join(labels)))
    frame = pl.DataFrame(
        {"line": lines, "id": ids, "text": texts, "joined": joined},
        schema={"line": pl.Int64, "id": pl.String, "text": pl.String, "joined": pl.String},
    )
    labels_expr = (
        pl.when(pl.col("joined") == "\x1e").then(pl.lit([], dtype=pl.List(pl.String)))
        .otherwise(pl.col("joined").str.split(sep))
    )
    return frame.select("line", "id", "text", labels_expr.alias("labels"), labels_expr.alias("label_names"))


def _check_rules(rules: list, near: bool) -> list:
    """The pack's rules that apply to exported rows (near-duplicate search only with ``near``)."""
    from curate.rules import StageRule
    from curate.rules.duplicates import LabelConflict, NearDuplicate

    out = []
    for rule in rules:
        if not rule.enabled or isinstance(rule, StageRule):
            continue
        if isinstance(rule, NearDuplicate) and not near:
            continue
        if isinstance(rule, LabelConflict) and rule.match == "near" and not near:
            rule = rule.replace(match="normalized")
        out.append(rule)
    return out


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while rows are parsed: the parsed rows are tens of
    thousands of new containers and none forms a cycle, so collections there only cost time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _row_work(frame: pl.DataFrame, rules: list, context: Any) -> pl.DataFrame:
    """Row-rule findings of one chunk of rows (pure polars: runs off the GIL)."""
    from curate.rules.base import RowRule
    from curate.rules.engine import row_findings
    from curate.rules.workspace import Workspace

    return row_findings(Workspace(frame), [r for r in rules if isinstance(r, RowRule)], context)


def check_file(path: Path, rules: list, *, response_format: Mapping[str, Any] | None = None) -> tuple[list[dict[str, Any]], pl.DataFrame, pl.DataFrame]:
    """Format findings (dicts), rule findings (frame) and ``line, id, norm`` of the file's rows.

    The file is parsed in chunks; while Python parses one chunk, two worker threads run the row
    rules and the text normalisation of the earlier ones in polars (which releases the GIL).
    Dataset rules then run once over all rows.
    """
    from curate.rules import RuleContext
    from curate.rules.base import RowRule
    from curate.rules.engine import run_rules
    from curate.rules.labels import answer_constraints
    from curate.rules.workspace import Workspace, normalised_text

    found: list[dict[str, Any]] = []
    role = file_role(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        found.append(_finding(path, 0, "file_too_large", f"file is {size / 2**20:.0f} MB; the platform accepts at most 512 MB"))
    rf = _response_format(path, response_format)
    if rf:
        try:
            answer_constraints(rf)
        except ConfigError:  # an unusable schema is the export's problem, not the rows'
            rf = None
    # answer_schema covers the label set here (the enum is the vocabulary of an exported file)
    context = RuleContext(label_names=None, response_format=rf)
    keys: list[tuple[int, frozenset[str]]] = []  # (line, key set) of every readable row
    unframed: list[tuple[int, dict[str, Any]]] = []  # parsed rows not yet in a frame (then freed)
    n_rows = 0
    ref_key: str | None = None
    frames: list[pl.DataFrame] = []
    pending = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        chunks = iter_export(path)
        chunk = next(chunks, None)
        while chunk is not None:
            n_rows += len(chunk)
            for line, row in chunk:
                if isinstance(row, Unreadable):
                    found.append(_finding(path, line, row.rule, row.message, row.value))
                    continue
                unframed.append((line, row))
                keys.append((line, frozenset(row)))
                rid = None if row.get("id") is None else str(row.get("id"))
                for rule, message, value in message_problems(row):
                    found.append(_finding(path, line, rule, message, value, id_=rid, field="messages"))
            chunk = next(chunks, None)
            # the reference key comes from the first 100 readable rows: frame rows once it is known
            if not frames and len(keys) < 100 and chunk is not None:
                continue
            if not frames:
                ref_key = _reference_key(keys)
            if unframed:
                frame = _row_frame(unframed, ref_key)
                unframed = []
                frames.append(frame)
                # chunks are in line order, so the text needs no sorting for normalisation
                pending.append((pool.submit(_row_work, frame, rules, context), pool.submit(normalised_text, frame["text"])))
        done = [(a.result(), b.result()) for a, b in pending]
    if not n_rows:
        found.append(_finding(path, 0, "empty_file", "file has no rows"))
    if role in MAX_ROWS and n_rows > MAX_ROWS[role]:
        found.append(_finding(path, 0, "too_many_rows", f"{n_rows} rows; {role} files accept at most {MAX_ROWS[role]:,}"))
    for line, rule, message, value in key_problems(keys):
        found.append(_finding(path, line, rule, message, value))
    frame = pl.concat(frames) if frames else _row_frame([], ref_key)
    # lines only grow through the file, so chunks concatenate in line order
    frame = frame.with_columns(pl.col("line").set_sorted())
    row_found = concat_findings([f for f, _ in done])
    if frame["id"].null_count() == frame.height:  # ids are optional in RFT files: no noise when absent
        row_found = row_found.filter(pl.col("rule") != "missing_id")
    for line in frame.filter(pl.col("labels").list.len() == 0)["line"].to_list():
        found.append(_finding(path, line, "no_labels", f"the reference answer {ref_key!r} is an empty list", field=ref_key))
    norm = pl.concat([n for _, n in done]) if done else pl.Series("norm", [], dtype=pl.String)
    ws = Workspace(frame, norm=norm)
    dataset, _ = run_rules(frame, [r for r in rules if not isinstance(r, RowRule)], context, ws, groups=False)
    findings = concat_findings([row_found, dataset])
    keyed = ws.frame.select("line", "id").with_columns(ws.norm)  # reused by the overlap check
    return found, findings.with_columns(pl.lit(str(path)).alias("path")), keyed


def _overlap(train: list[tuple[Path, pl.DataFrame]], valid: list[tuple[Path, pl.DataFrame]], near: bool, threshold: float) -> list[dict[str, Any]]:
    def keyed(path: Path, frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select(pl.lit(str(path)).alias("path"), "line", "id", "norm").filter(pl.col("norm") != "")

    if not train or not valid:
        return []
    t = pl.concat([keyed(p, f) for p, f in train])
    v = pl.concat([keyed(p, f) for p, f in valid])
    out = []
    first_t = t.group_by("norm", maintain_order=True).agg(pl.col("path").first(), pl.col("line").first())
    hits = v.join(first_t, on="norm", how="inner", suffix="_train").sort("path", "line")
    for row in hits.iter_rows(named=True):
        out.append(_finding(Path(row["path"]), row["line"], "train_valid_overlap",
                            f"same input as {Path(row['path_train']).name}:{row['line_train']} (after normalisation)",
                            f"{Path(row['path_train']).name}:{row['line_train']}", id_=row["id"], field="messages"))
    if near:
        from curate.rules.minhash import near_duplicate_pairs

        both = pl.concat([t.with_columns(pl.lit(0).alias("side")), v.with_columns(pl.lit(1).alias("side"))])
        pairs = near_duplicate_pairs(both["norm"], threshold=threshold)
        exact = set(zip(hits["path"].to_list(), hits["line"].to_list(), strict=True))
        side = both["side"].to_list()
        seen = set()
        for a, b, j in pairs.iter_rows():
            if side[a] == side[b]:
                continue
            ta, va = (a, b) if side[a] == 0 else (b, a)
            vr, tr = both.row(va, named=True), both.row(ta, named=True)
            key = (vr["path"], vr["line"])
            if key in exact or key in seen:
                continue
            seen.add(key)
            out.append(_finding(Path(vr["path"]), vr["line"], "train_valid_overlap",
                                f"near-duplicate (Jaccard {j:.2f}) of {Path(tr['path']).name}:{tr['line']}",
                                f"{Path(tr['path']).name}:{tr['line']}", id_=vr["id"], field="messages"))
    return out


def check_files(
    paths: Sequence[str | Path],
    *,
    packs: Sequence[str | Mapping[str, Any]] = ("default",),
    base_dir: Path | None = None,
    near: bool = False,
    response_format: Mapping[str, Any] | None = None,
) -> CheckResult:
    """Check exported RFT files (``.jsonl`` or ``.parquet``). Findings come back as one table."""
    from curate.rules import resolve_rules

    rules = _check_rules(resolve_rules(packs, base_dir), near)
    near_threshold = next((r.threshold for r in rules if r.name == "near_duplicate"), 0.8)
    records: list[dict[str, Any]] = []
    frames: list[pl.DataFrame] = []
    per_role: dict[str, list[tuple[Path, pl.DataFrame]]] = {"train": [], "valid": []}
    counts: dict[str, int] = {}
    for raw in paths:
        path = Path(raw)
        if not path.is_file():
            records.append(_finding(path, 0, "missing_file", "file does not exist", severity=ERROR))
            continue
        with _gc_paused():
            found, findings, frame = check_file(path, rules, response_format=response_format)
        records += found
        frames.append(findings)
        counts[str(path)] = frame.height
        role = file_role(path)
        if role:
            per_role[role].append((path, frame))
    records += _overlap(per_role["train"], per_role["valid"], near, near_threshold)
    parts = [pl.DataFrame(records, schema=CHECK_SCHEMA)] if records else []
    parts += [f.select(list(CHECK_SCHEMA)).cast(CHECK_SCHEMA) for f in frames if f.height]
    order = {str(Path(p)): i for i, p in enumerate(paths)}
    table = pl.concat(parts) if parts else pl.DataFrame(schema=CHECK_SCHEMA)
    table = (
        table.with_columns(pl.col("path").replace_strict(order, default=len(order), return_dtype=pl.Int64).alias("_o"))
        .sort(["_o", "line", "rule", "field"], nulls_last=True, maintain_order=True)
        .drop("_o")
    )
    return CheckResult(table, counts)


def format_findings(findings: pl.DataFrame, *, warnings: bool = True) -> list[str]:
    """``path:line: rule: message`` lines (``path: rule: ...`` for whole-file findings)."""
    out = []
    for row in findings.iter_rows(named=True):
        if row["severity"] == WARN and not warnings:
            continue
        where = f"{row['path']}:{row['line']}" if row["line"] else row["path"]
        tag = row["rule"] if row["severity"] == ERROR else f"{row['rule']} (warn)"
        out.append(f"{where}: {tag}: {row['message']}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """The pre-commit hook and ``curate check``: print findings, return 1 on any error finding."""
    parser = argparse.ArgumentParser(prog="curate check", description="Check exported RFT files (.jsonl, .parquet).")
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--rules", action="append", default=None, metavar="PACK",
                        help="rule pack name or path (repeatable; default: default)")
    parser.add_argument("--near", action="store_true", help="also search near-duplicates (slower)")
    parser.add_argument("--no-warnings", action="store_true", help="print errors only")
    parser.add_argument("--quiet", action="store_true", help="print nothing; exit status only")
    args = parser.parse_args(argv)
    return run(args.files, packs=args.rules or ["default"], near=args.near, warnings=not args.no_warnings, quiet=args.quiet)


def run(files: Sequence[Path], *, packs: Sequence[str], near: bool = False, warnings: bool = True, quiet: bool = False) -> int:
    from curate.errors import CurateError

    try:
        result = check_files(files, packs=packs, near=near)
    except CurateError as exc:
        print(f"curate check: {exc}", file=sys.stderr)
        return 2
    if not quiet:
        for line in format_findings(result.findings, warnings=warnings):
            print(line)
    return 1 if result.errors else 0
