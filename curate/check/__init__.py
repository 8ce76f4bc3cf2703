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
import sys
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from curate.check.file import FileCheck, check_file, file_role  # noqa: F401  (check_file: one file on its own)
from curate.check.file import finding as _finding
from curate.check.norm import complete_norm, with_ends
from curate.check.rft import FORMAT_RULES
from curate.frame import ERROR, FINDINGS_SCHEMA, WARN

__all__ = ["CheckResult", "FORMAT_RULES", "check_files", "file_role", "format_findings", "main"]

CHECK_SCHEMA = {"path": pl.String(), **FINDINGS_SCHEMA}


@dataclass(frozen=True)
class CheckResult:
    findings: pl.DataFrame  # CHECK_SCHEMA: path + the findings columns; line 0 = the whole file
    rows: dict[str, int]  # readable rows per checked path
    skipped: tuple[tuple[str, str], ...] = ()  # (path, why) of files not checked (curate's side files)

    @property
    def errors(self) -> int:
        return int((self.findings["severity"] == ERROR).sum())


def _check_rules(rules: list, near: bool) -> list:
    """The pack's rules that apply to exported rows (near-duplicate search only with ``near``)."""
    from curate.rules import StageRule
    from curate.rules.duplicates import LabelConflict, NearDuplicate, NearLabelConflict

    out = []
    for rule in rules:
        # exported files are checked as label tasks: rules on open answers do not apply
        if not rule.enabled or isinstance(rule, StageRule) or rule.task == "answer":
            continue
        if isinstance(rule, NearDuplicate | NearLabelConflict) and not near:
            continue
        if isinstance(rule, LabelConflict) and rule.match == "near" and not near:
            rule = rule.replace(match="normalized")
        out.append(rule)
    return out


def _groups_on_norm_only(rules: list) -> bool:
    """True when every dataset rule is a built-in one that uses the normalised text only to group
    rows, or not at all (so rows whose normalised text no other row shares need none)."""
    from curate.rules.base import DatasetRule
    from curate.rules.duplicates import Duplicate, LabelConflict, NormalizedDuplicate
    from curate.rules.ids import IdConflict
    from curate.rules.length import MinChars, UnusualLength

    known = (Duplicate, NormalizedDuplicate, LabelConflict, IdConflict, MinChars, UnusualLength)
    return all(type(r) in known and getattr(r, "match", None) != "near" for r in rules if isinstance(r, DatasetRule))


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


def _overlap(train: list[tuple[Path, pl.DataFrame]], valid: list[tuple[Path, pl.DataFrame]], near: bool, threshold: float) -> list[dict[str, Any]]:
    def keyed(rows: list[tuple[Path, pl.DataFrame]]) -> pl.DataFrame:
        return pl.concat([f.select(pl.lit(str(p)).alias("path"), "line", "id", "norm", "ends", "text") for p, f in rows])

    if not train or not valid:
        return []
    t, v = keyed(train), keyed(valid)
    if t["norm"].has_nulls() or v["norm"].has_nulls():
        # a validation row can share a training row's normalised text only if they share its ends:
        # complete the normalised text of those rows (and of all training rows with such ends)
        t, v = (f.with_columns(with_ends(f["norm"], f["ends"])) for f in (t, v))
        v = v.filter(pl.col("ends").is_in(t["ends"].implode()))
        t = t.filter(pl.col("ends").is_in(v["ends"].implode()))
        t = t.with_columns(complete_norm(t["norm"], t["text"], pl.int_range(t.height, eager=True)))
        v = v.with_columns(complete_norm(v["norm"], v["text"], pl.int_range(v.height, eager=True)))
    t = t.select("path", "line", "id", "norm").filter(pl.col("norm") != "")
    v = v.select("path", "line", "id", "norm").filter(pl.col("norm") != "")
    out = []
    first_t = t.group_by("norm", maintain_order=True).agg(pl.col("path").first(), pl.col("line").first())
    hits = v.join(first_t, on="norm", how="inner", suffix="_train").sort("path", "line")
    for row in hits.iter_rows(named=True):
        out.append(_finding(Path(row["path"]), row["line"], "train_valid_overlap",
                            f"same input as {Path(row['path_train']).name}:{row['line_train']} (after normalisation)",
                            f"{Path(row['path_train']).name}:{row['line_train']}", id_=row["id"], field="messages"))
    if near:
        from curate.rules.lsh import near_duplicate_pairs

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
    target: str | None = None,
) -> CheckResult:
    """Check exported files (``.jsonl`` or ``.parquet``). Findings come back as one table.

    Files an export target wrote are read as that target's rows (``target``, or the target in the
    ``manifest.json`` beside them: :mod:`curate.check.views`); curate's side files are skipped.
    """
    import tempfile

    from curate.check.views import prepare

    with tempfile.TemporaryDirectory(prefix="curate-check-") as scratch:
        planned = prepare([Path(p) for p in paths], target, Path(scratch))
        reads = [p.read for p in planned if p.read is not None]
        answers = {str(p.read) for p in planned if p.read is not None and not p.labels}
        result = _check_files(reads, packs=packs, base_dir=base_dir, near=near, response_format=response_format,
                              answers=answers)
    back = {str(p.read): str(p.path) for p in planned if p.read is not None}
    findings = result.findings.with_columns(pl.col("path").replace(back))
    rows = {back.get(k, k): v for k, v in result.rows.items()}
    return CheckResult(findings, rows, skipped=tuple((str(p.path), p.note) for p in planned if p.read is None))


def _check_files(
    paths: Sequence[str | Path],
    *,
    packs: Sequence[str | Mapping[str, Any]] = ("default",),
    base_dir: Path | None = None,
    near: bool = False,
    response_format: Mapping[str, Any] | None = None,
    answers: set[str] | frozenset[str] = frozenset(),
) -> CheckResult:
    """``answers``: paths of answer-task exports (their reference is not a label set)."""
    from curate.rules import resolve_rules

    records: list[dict[str, Any]] = []
    frames: list[pl.DataFrame] = []
    per_role: dict[str, list[tuple[Path, pl.DataFrame]]] = {"train": [], "valid": []}
    counts: dict[str, int] = {}
    with _gc_paused(), ThreadPoolExecutor(max_workers=2) as pool:
        # files are read and their clean lines decoded while the rule pack is resolved
        started = [FileCheck(Path(raw), pool, labels=str(raw) not in answers) if Path(raw).is_file() else None
                   for raw in paths]
        try:
            rules = _check_rules(resolve_rules(packs, base_dir), near)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        near_threshold = next((r.threshold for r in rules if r.name == "near_duplicate"), 0.8)
        lazy_norm = not near and _groups_on_norm_only(rules)
        for file in started:
            if file is not None:  # the next file's rules run while this one's dataset rules do
                file.submit(rules, response_format=response_format, lazy_norm=lazy_norm)
        for raw, file in zip(paths, started, strict=True):
            path = Path(raw)
            if file is None:
                records.append(_finding(path, 0, *_not_a_file(path), severity=ERROR))
                continue
            found, findings, frame = file.finish()
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


def _not_a_file(path: Path) -> tuple[str, str]:
    """The rule and message for a path that is not a regular file."""
    if path.is_dir():
        return "not_a_file", "is a folder, not a file"
    if path.exists():
        return "not_a_file", "is not a regular file (a device, pipe or socket)"
    return "missing_file", "file does not exist"


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
    parser.add_argument("--target", default=None, metavar="NAME",
                        help="the export target that wrote the files (default: from manifest.json beside them)")
    args = parser.parse_args(argv)
    return run(args.files, packs=args.rules or ["default"], near=args.near, warnings=not args.no_warnings,
               quiet=args.quiet, target=args.target)


def run(files: Sequence[Path], *, packs: Sequence[str], near: bool = False, warnings: bool = True, quiet: bool = False,
        target: str | None = None) -> int:
    from curate.errors import CurateError

    try:
        result = check_files(files, packs=packs, near=near, target=target)
    except CurateError as exc:
        print(f"curate check: {exc}", file=sys.stderr)
        return 2
    if not quiet:
        for line in format_findings(result.findings, warnings=warnings):
            print(line)
    return 1 if result.errors else 0
