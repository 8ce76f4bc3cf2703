"""Load a source into curate's record frame (see :mod:`curate.frame`).

Rows that cannot be used (malformed lines, wrong types, missing fields) are not errors: they come
back as findings with their line number and the field at fault, and the run goes on. A missing
file, an unknown format or a field mapping that matches no column is a :class:`SourceError`
raised before any work.

>>> import json, tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "raw.jsonl"
>>> _ = p.write_text(json.dumps({"k": "a", "t": {"en": "hi"}, "y": ["1"]}) + "\\n{oops\\n")
>>> loaded = load_records(SourceSpec(p, "jsonl", id="k", text="t.en", labels="y"))
>>> loaded.frame.select("line", "id", "text", "labels").rows()
[(1, 'a', 'hi', ['1'])]
>>> loaded.findings.select("line", "rule").rows(), loaded.input_rows
([(2, 'malformed_json')], 2)
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from curate.errors import SourceError
from curate.frame import (
    ANSWER,
    ERROR,
    ID,
    LABELS,
    LINE,
    TEXT,
    WARN,
    as_findings,
    concat_findings,
    empty_findings,
    findings_for,
)
from curate.io import jsonl, read_schema, strict_json, tabular
from curate.io.source import SourceSpec
from curate.kinds.base import Kind, json_literal

# A decoded JSON string that may have been a number, boolean, object or array before polars
# coerced a mixed-type column to strings: such rows are re-checked against their raw line.
_MAYBE_COERCED = r"^(?:-?\d[\d.eE+-]*|true|false|null|\{[\s\S]*\}|\[[\s\S]*\])$"
# An id or a label that may have been a boolean or a non-integer number (integers are accepted).
_NOT_INTEGER = r"true|false|-?\d+(?:\.\d+|(?:\.\d+)?[eE][+-]?\d+)"
_SEP = "\x1f"


@dataclass(frozen=True)
class Loaded:
    """The usable rows, the findings of unusable ones, and how many rows the source had."""

    frame: pl.DataFrame
    findings: pl.DataFrame
    input_rows: int


def load_records(spec: SourceSpec, kind: Kind | None = None) -> Loaded:
    """Read ``spec.path`` and map its fields onto ``line, id, text, labels`` (or ``answer``) +
    passthrough. ``kind`` (see :mod:`curate.kinds`) type-checks the answer; default: the kind the
    mapping implies with default options."""
    tabular.check_readable(spec.path, spec.format)
    raw_lines = None
    if spec.format == "jsonl":
        decoded = _read_jsonl(spec)
        frame, findings, input_rows, raw_lines = decoded.frame, decoded.findings, decoded.input_rows, decoded.raw_lines
    elif spec.format == "json":
        decoded = jsonl.read_json_array(spec.path)
        frame, findings, input_rows, raw_lines = decoded.frame, decoded.findings, decoded.input_rows, decoded.raw_lines
    elif spec.format == "csv":
        frame, findings = tabular.read_csv(spec)
        input_rows = frame.height + findings.height
    elif spec.format == "parquet":
        frame, findings = tabular.read_parquet(spec), None
        input_rows = frame.height
    elif spec.format == "hf":
        frame, findings = tabular.read_hf(spec), None
        input_rows = frame.height
    else:
        raise SourceError(f"{spec.path}: unknown format {spec.format!r}")
    records, type_findings = map_fields(frame, spec, raw_lines, kind)
    return Loaded(records, concat_findings([f for f in (findings, type_findings) if f is not None]), input_rows)


def _read_jsonl(spec: SourceSpec) -> jsonl.Decoded:
    """Read only the mapped fields with an explicit schema; fall back to full schema inference."""
    schema = read_schema.mapping_schema(spec, read_schema.sample_schema(spec.path) if spec.passthrough else None)
    if schema is not None:
        decoded = jsonl.read_jsonl(spec.path, schema)
        if decoded is not None and read_schema.mapped_paths_present(decoded.frame, spec):
            return decoded
    decoded = jsonl.read_jsonl(spec.path)
    assert decoded is not None
    return decoded


def map_fields(
    frame: pl.DataFrame,
    spec: SourceSpec,
    raw_lines: Callable[[Sequence[int]], dict[int, str]] | None = None,
    kind: Kind | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Resolve the mapped paths, check types row by row, and return (records, findings)."""
    if kind is None:
        from curate.kinds import get_kind

        kind = get_kind("text" if spec.answer is not None else "labels")
    reference = spec.answer_field
    problems: list[pl.DataFrame] = []
    if raw_lines is not None:
        frame, found = _decode_mixed_columns(frame, spec, raw_lines, getattr(kind, "scalar_labels", False))
        problems.append(found)
    exprs = {name: _path_expr(frame, path, spec) for name, path in spec.field_paths.items()}
    picked = frame.select(pl.col(LINE), *(e.alias(n) for n, e in exprs.items()))
    if ID not in picked.columns:
        picked = picked.with_columns(pl.format("line-{}", pl.col(LINE)).alias(ID))
    picked, found = _normalise_id(picked, spec)
    problems.append(found)
    picked, found = _normalise_text(picked, spec)
    problems.append(found)
    if spec.answer is None:
        picked, found = _normalise_labels(picked, spec, empty_ok=getattr(kind, "allow_empty", False),
                                          scalar_ok=getattr(kind, "scalar_labels", False), json_text=raw_lines is not None)
    else:
        picked, found = _normalise_answer(picked, spec.answer, kind)
    problems.append(found)
    if raw_lines is not None:
        picked, found = _recheck_coerced(picked, spec, raw_lines, kind)
        problems.append(found)
    findings = concat_findings(problems)
    passthrough = [name for name, _ in spec.passthrough]
    if findings.is_empty():
        return picked.select(LINE, ID, TEXT, reference, *passthrough), findings
    findings = _tidy(findings, picked)
    bad_lines = findings.filter(pl.col("severity") == ERROR)["line"].unique()
    records = picked.filter(~pl.col(LINE).is_in(bad_lines.implode()))
    return records.select(LINE, ID, TEXT, reference, *passthrough), findings


def _tidy(findings: pl.DataFrame, picked: pl.DataFrame) -> pl.DataFrame:
    """Fill ids from the frame, and drop ``missing_field`` where ``wrong_type`` already explains it."""
    typed = findings.filter(pl.col("rule") == "wrong_type").select(LINE).unique()
    redundant = (pl.col("rule") == "missing_field") & pl.col(LINE).is_in(typed[LINE].implode())
    ids = picked.select(LINE, pl.col(ID).alias("_id"))
    return (
        findings.filter(~redundant)
        .join(ids, on=LINE, how="left")
        .with_columns(pl.coalesce(ID, "_id").alias(ID))
        .drop("_id")
    )


def _decode_mixed_columns(
    frame: pl.DataFrame, spec: SourceSpec, raw_lines: Callable[[Sequence[int]], dict[int, str]],
    scalar_labels: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Undo polars' coercion of mixed-type JSON columns to strings, for the columns we map.

    When one row holds an object (or a list) and another a string, polars keeps the column as
    strings with the objects as JSON text. Rows holding JSON text of the expected kind are decoded
    again; the others are reported as ``wrong_type``, naming the type their raw line holds.
    """
    found: list[pl.DataFrame] = []
    wanted: dict[str, tuple[str, str]] = {}  # column -> (kind, mapping path)
    for name, path in spec.field_paths.items():
        head = path.split(".")[0]
        if "." in path:
            wanted[head] = ("{", path)
        elif name == LABELS and spec.labels_sep is None:
            wanted[head] = ("[", path)
    updates = []
    for column, (opener, path) in wanted.items():
        if frame.schema.get(column) != pl.String():
            continue
        is_json = pl.col(column).str.starts_with(opener)
        if not frame.select(is_json.any()).item():
            continue
        mask = frame.select(is_json.fill_null(False)).to_series()
        try:
            values = _decode_json_text(frame[column], mask)
        except (pl.exceptions.PolarsError, ValueError):  # some strings merely start like JSON
            mask = mask & pl.Series([_is_json(v) for v in frame[column].to_list()])
            values = _decode_json_text(frame[column], mask)
        is_json = pl.lit(mask)
        if scalar_labels and opener == "[":  # a plain label next to lists: a one-element list
            values = frame.select(pl.when(is_json).then(pl.lit(values).cast(pl.List(pl.String)))
                                  .when(pl.col(column).is_not_null()).then(pl.concat_list(pl.col(column)))).to_series()
            updates.append(values.alias(column))
            continue
        updates.append(values.alias(column))
        kind = "an object" if opener == "{" else "a list of label ids"
        what = f"field {column!r} must be {kind}" + (f" (to reach {path!r})" if opener == "{" else "")
        bad = frame.filter(pl.col(column).is_not_null() & ~is_json)
        raw = raw_lines(bad[LINE].to_list())
        got = pl.Series([_json_type(_raw_object(raw[line]).get(column)) for line in bad[LINE]], dtype=pl.String)
        found.append(findings_for(bad.with_columns(pl.lit(None, dtype=pl.String).alias(ID)), rule="wrong_type",
                                  severity=ERROR, field=column, message=pl.format("{}; got {}", pl.lit(what), pl.lit(got)),
                                  value=pl.col(column).str.slice(0, 80)))
    if updates:
        frame = frame.with_columns(updates)
    return frame, concat_findings(found)


def _decode_json_text(column: pl.Series, mask: pl.Series) -> pl.Series:
    """Decode the JSON text of the rows in ``mask`` (null elsewhere) with full type inference."""
    source = pl.when(mask).then(column).otherwise(pl.lit("null"))
    wrapped = pl.select(pl.format('{{"v":{}}}', source)).to_series().str.join("\n").item()
    return pl.read_ndjson(io.BytesIO(wrapped.encode()), infer_schema_length=None)["v"]


def _is_json(text: str | None) -> bool:
    try:
        return text is not None and (strict_json.loads(text) is not None)
    except strict_json.JsonProblem:
        return False


def _raw_object(text: str) -> dict:
    """A raw line as curate reads it ({} when it is not an object curate reads)."""
    try:
        obj = strict_json.loads(text)
    except strict_json.JsonProblem:
        return {}
    return obj if isinstance(obj, dict) else {}


def _path_expr(frame: pl.DataFrame, path: str, spec: SourceSpec) -> pl.Expr:
    head, *rest = path.split(".")
    if head not in frame.columns:
        if frame.height == 0 and not frame.columns[1:]:
            return pl.lit(None)
        known = ", ".join(c for c in frame.columns if c != LINE)
        raise SourceError(f"{spec.path}: no field {head!r} (from the mapping {path!r}); fields present: {known}")
    expr, dtype = pl.col(head), frame.schema[head]
    for i, part in enumerate(rest):
        if not isinstance(dtype, pl.Struct):
            where = ".".join([head, *rest[:i]])
            if isinstance(dtype, pl.String | pl.Null):
                return pl.lit(None)  # every value at this level is a string or null: the field is absent
            raise SourceError(f"{spec.path}: field {where!r} is {dtype}, so {path!r} cannot reach inside it")
        names = {f.name: f.dtype for f in dtype.fields}
        if part not in names:
            raise SourceError(
                f"{spec.path}: no field {part!r} under {'.'.join([head, *rest[:i]])!r} (from the mapping "
                f"{path!r}); fields there: {', '.join(names)}"
            )
        expr, dtype = expr.struct.field(part), names[part]
    return expr


def _missing(frame: pl.DataFrame, column: str, path: str) -> pl.DataFrame:
    rows = frame.filter(pl.col(column).is_null())
    return findings_for(rows, rule="missing_field", severity=ERROR, field=path,
                        message=f"field {path!r} is missing or null")


def _wrong_type(rows: pl.DataFrame, path: str, expected: str, got: str) -> pl.DataFrame:
    return findings_for(rows, rule="wrong_type", severity=ERROR, field=path,
                        message=f"field {path!r} must be {expected}; got {got}")


def _normalise_id(frame: pl.DataFrame, spec: SourceSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    if spec.id is None:
        return frame, empty_findings()
    ok = frame.schema[ID].is_integer() or isinstance(frame.schema[ID], pl.String | pl.Null)
    return _as_string_field(frame, ID, spec.id, ok, "a string or an integer")


def _normalise_text(frame: pl.DataFrame, spec: SourceSpec) -> tuple[pl.DataFrame, pl.DataFrame]:
    ok = isinstance(frame.schema[TEXT], pl.String | pl.Null)
    return _as_string_field(frame, TEXT, spec.text, ok, "a string")


def _as_string_field(
    frame: pl.DataFrame, column: str, path: str, ok: bool, expected: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Cast an acceptable column to strings; otherwise every non-null value is a ``wrong_type``."""
    if ok:
        out = frame.with_columns(pl.col(column).cast(pl.String))
        return out, _missing(out, column, path)
    bad = frame.filter(pl.col(column).is_not_null())
    wrong = _wrong_type(bad, path, expected, _dtype_name(frame.schema[column]))
    found = concat_findings([_missing(frame, column, path), wrong])
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(column)), found


def _normalise_answer(frame: pl.DataFrame, path: str, kind: Kind) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The raw answer as text (JSON text for objects and lists), or ``wrong_type`` for the kind."""
    dtype = frame.schema[ANSWER]
    ok = kind.accepts_dtype(dtype)
    if ok and not (isinstance(dtype, pl.String | pl.Null) or dtype.is_numeric()):
        # a structured answer read with inferred types: back to JSON text
        frame = frame.with_columns(json_literal(pl.col(ANSWER)).alias(ANSWER))
    return _as_string_field(frame, ANSWER, path, ok, kind.expected)


def _normalise_labels(frame: pl.DataFrame, spec: SourceSpec, *, empty_ok: bool = False, scalar_ok: bool = False,
                      json_text: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    dtype = frame.schema[LABELS]
    path = spec.labels or LABELS
    if scalar_ok and spec.labels_sep is None and (isinstance(dtype, pl.String) or dtype.is_integer()):
        # single-label tasks: one label given as a plain string (a CSV column) is a one-element list
        frame = frame.with_columns(pl.when(pl.col(LABELS).is_not_null())
                                   .then(pl.concat_list(pl.col(LABELS).cast(pl.String))).alias(LABELS))
        dtype = frame.schema[LABELS]
    if empty_ok:  # an absent label field is the empty set (e.g. NLU++ utterances with no intent)
        frame = frame.with_columns(pl.col(LABELS).fill_null(pl.lit([], dtype=pl.List(pl.String)) if
                                                            isinstance(dtype, pl.List | pl.Null) else pl.lit("")))
        dtype = frame.schema[LABELS]
    if isinstance(dtype, pl.List) and (dtype.inner.is_integer() or isinstance(dtype.inner, pl.String | pl.Null)):
        out = frame.with_columns(pl.col(LABELS).cast(pl.List(pl.String)))
        out, nulls = _drop_null_labels(out, path)
        return out, concat_findings([_missing(out, LABELS, path), nulls])
    if isinstance(dtype, pl.String) and spec.labels_sep is not None:
        labels = (pl.col(LABELS).str.split(spec.labels_sep).list.eval(pl.element().str.strip_chars())
                  .list.eval(pl.element().filter(pl.element() != "")))
        if json_text and frame.select(pl.col(LABELS).str.starts_with("[").any()).item():
            # JSON(L): a list next to separated strings was read as its JSON text; it stays a list
            mask = frame.select(pl.col(LABELS).str.starts_with("[").fill_null(False)).to_series()
            lists = _json_lists(frame[LABELS], mask)
            if lists is None:  # some strings merely start like a list
                mask = mask & pl.Series([_is_json(v) for v in frame[LABELS].to_list()])
                lists = _json_lists(frame[LABELS], mask)
            if lists is not None:
                labels = pl.when(pl.lit(mask)).then(pl.lit(lists)).otherwise(labels)
        out = frame.with_columns(labels.alias(LABELS))
        return out, _missing(out, LABELS, path)
    if isinstance(dtype, pl.Null):
        out = frame.with_columns(pl.col(LABELS).cast(pl.List(pl.String)))
        return out, _missing(out, LABELS, path)
    bad = frame.filter(pl.col(LABELS).is_not_null())
    hint = " (set source.labels_sep to split strings)" if isinstance(dtype, pl.String) else ""
    found = concat_findings([_missing(frame, LABELS, path),
                             _wrong_type(bad, path, "a list of label ids", _dtype_name(dtype) + hint)])
    return frame.with_columns(pl.lit(None, dtype=pl.List(pl.String)).alias(LABELS)), found


def _json_lists(column: pl.Series, mask: pl.Series) -> pl.Series | None:
    """The JSON lists of label ids in the rows of ``mask``, as lists of strings (None if they are not)."""
    try:
        return _decode_json_text(column, mask).cast(pl.List(pl.String))
    except (pl.exceptions.PolarsError, ValueError):
        return None


def _drop_null_labels(frame: pl.DataFrame, path: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Drop nulls inside label lists, each with an ``empty_label`` warning (cheap when there are none:
    ``explode`` is zero-copy, and its nulls are only the empty and null lists)."""
    labels = frame[LABELS]
    inner = labels.explode().null_count() - labels.null_count() - int((labels.list.len() == 0).sum())
    if inner == 0:
        return frame, empty_findings()
    has_null = labels.list.eval(pl.element().is_null().any()).list.first().fill_null(False)
    rows = frame.filter(has_null)
    found = findings_for(rows, rule="empty_label", severity=WARN, field=path, value=pl.col(LABELS).list.join(",", ignore_nulls=True),
                         message=f"field {path!r} holds null among its labels; the null is dropped")
    return frame.with_columns(pl.when(has_null).then(pl.col(LABELS).list.drop_nulls()).otherwise(pl.col(LABELS))
                              .alias(LABELS)), found


def _recheck_coerced(
    frame: pl.DataFrame, spec: SourceSpec, raw_lines: Callable[[Sequence[int]], dict[int, str]], kind: Kind
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Re-read rows whose values polars may have coerced from another JSON type."""
    # polars decodes a lone surrogate escape (\ud800) as NUL: rows holding NUL are read again too
    suspect = pl.col(TEXT).str.contains(_MAYBE_COERCED) | pl.col(TEXT).str.contains("\x00", literal=True)
    if spec.answer is not None:
        suspect = suspect | pl.col(ANSWER).str.contains(_MAYBE_COERCED) | pl.col(ANSWER).str.contains("\x00", literal=True)
    elif spec.labels_sep is None:  # one flat regex over the joined list instead of a per-element eval
        joined = pl.col(LABELS).list.join(_SEP)
        suspect = suspect | joined.str.contains(f"(?:^|{_SEP})(?:[\\[{{]|(?:{_NOT_INTEGER})(?:{_SEP}|$))|\x00")
    else:
        suspect = suspect | pl.col(LABELS).is_not_null()  # a list would have been joined: check the raw type
    if spec.id is not None:
        suspect = suspect | pl.col(ID).str.contains(f"^(?:[\\[{{]|(?:{_NOT_INTEGER})$)|\x00")
    lines = frame.filter(suspect.fill_null(False))[LINE].to_list()
    if not lines:
        return frame, empty_findings()
    raw = raw_lines(lines)
    bad: list[dict[str, Any]] = []
    for line in lines:
        try:
            obj = strict_json.loads(raw[line])
        except strict_json.JsonProblem as exc:  # e.g. nested too deeply (polars read it)
            bad.append({"line": line, "rule": "malformed_json", "severity": ERROR, "field": None,
                        "value": raw[line][:80], "message": f"line {exc}"})
            continue
        bad.extend(_exact_type_problems(obj, line, spec, kind))
    if not bad:
        return frame, empty_findings()
    found = as_findings(pl.DataFrame(bad, schema_overrides={"line": pl.Int64}))
    ids = frame.select(LINE, ID)
    found = found.drop(ID).join(ids, on=LINE, how="left").select(found.columns)
    return frame, found


def _exact_type_problems(obj: dict, line: int, spec: SourceSpec, kind: Kind) -> list[dict[str, Any]]:
    out = []
    checks = [(spec.text, lambda v: isinstance(v, str), "a string")]
    if spec.answer is not None:
        checks.append((spec.answer, kind.accepts, kind.expected))
    elif spec.labels_sep is None and getattr(kind, "scalar_labels", False):
        checks.append((spec.labels, lambda v: isinstance(v, str) or (isinstance(v, list) and all(
            isinstance(x, str) or (isinstance(x, int) and not isinstance(x, bool)) for x in v)),
            "a label id or a list of label ids"))
    elif spec.labels_sep is None:
        checks.append((spec.labels, lambda v: isinstance(v, list) and all(
            isinstance(x, str) or (isinstance(x, int) and not isinstance(x, bool)) for x in v), "a list of label ids"))
    else:
        checks.append((spec.labels, lambda v: isinstance(v, str | list), "a string or a list of label ids"))
    if spec.id is not None:
        checks.append((spec.id, lambda v: isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)),
                       "a string or an integer"))
    for path, ok, expected in checks:
        value = _get_path(obj, path)
        if value is not None and _has_lone_surrogate(value):
            out.append({"line": line, "rule": "invalid_utf8", "severity": ERROR, "field": path,
                        "value": json.dumps(value)[:80],
                        "message": f"field {path!r} holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), "
                                   "which is not valid Unicode"})
        elif value is not None and not ok(value):
            out.append({"line": line, "rule": "wrong_type", "severity": ERROR, "field": path,
                        "value": json.dumps(value, ensure_ascii=False)[:80],
                        "message": f"field {path!r} must be {expected}; got {_json_type(value)}"})
    return out


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    return isinstance(value, list) and any(_has_lone_surrogate(v) for v in value)


def _get_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        inner = {_json_type(v) for v in value}
        return "a list containing " + " and ".join(sorted(inner)) if inner and inner != {"a string"} else "a list"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", dict: "an object"}.get(
        type(value), type(value).__name__)


def _dtype_name(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Struct):
        return "an object"
    if isinstance(dtype, pl.List):
        return f"a list of {_dtype_name(dtype.inner)}" if not isinstance(dtype.inner, pl.Struct) else "a list of objects"
    if dtype.is_numeric():
        return "a number"
    if isinstance(dtype, pl.Boolean):
        return "a boolean"
    if isinstance(dtype, pl.String):
        return "a string"
    return str(dtype)


