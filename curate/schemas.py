"""pandera schemas of the frame at each stage boundary, declared as YAML in ``schemas/``.

The YAML follows pandera's serialised ``DataFrameSchema`` layout (``columns: {name: {dtype,
nullable, unique, checks}}``) with polars dtype names (``Int64``, ``String``, ``List(String)``,
``List(Struct(role=String, content=String))``). Checks are pandera built-ins
(``greater_than_or_equal_to``, ``str_length``, ...) or curate's list checks (``list_min_length``,
``list_sorted_unique``, ``roles_in``, ``last_role_is``, ``not_blank``).

Validation never raises on bad rows: :func:`validate` collects every failure (pandera's lazy mode)
and returns findings (rule ``schema_<stage>``) keyed by ``line``.

>>> import polars as pl
>>> frame = pl.DataFrame({"line": [1, 2], "id": ["a", None], "text": ["ok", "  "],
...                       "labels": [["1"], ["2"]], "label_names": [["trade"], []]})
>>> validate(frame, "curated").select("line", "rule", "field").rows()
[(2, 'schema_curated', 'label_names'), (2, 'schema_curated', 'text')]
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from curate.errors import ConfigError
from curate.frame import ERROR, FINDINGS_SCHEMA, empty_findings
from curate.resources import data_dir

STAGES = ("records", "curated", "curated_open", "export", "export_open")  # see Kind.schema_stages
_SIMPLE = {"Int64": pl.Int64, "Int32": pl.Int32, "Float64": pl.Float64, "String": pl.String,
           "Boolean": pl.Boolean, "Utf8": pl.String}


def parse_dtype(text: str) -> pl.DataType:
    """A polars dtype from its name.

    >>> parse_dtype("List(Struct(role=String, content=String))")
    List(Struct({'role': String, 'content': String}))
    """
    text = text.strip()
    if text in _SIMPLE:
        return _SIMPLE[text]()
    m = re.fullmatch(r"List\((.*)\)", text)
    if m:
        return pl.List(parse_dtype(m.group(1)))
    m = re.fullmatch(r"Struct\((.*)\)", text)
    if m:
        fields = {}
        for part in _split_top(m.group(1)):
            name, _, inner = part.partition("=")
            fields[name.strip()] = parse_dtype(inner)
        return pl.Struct(fields)
    raise ConfigError(f"unknown dtype {text!r} in a schema file")


def _split_top(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    return [p for p in (*parts, cur) if p.strip()]


def _list_check(name: str, build) -> Any:
    import pandera.polars as pa

    return pa.Check(lambda data: data.lazyframe.select(build(pl.col(data.key)).fill_null(True)), name=name)


def _sorted_unique(name: str) -> Any:
    """Each list strictly ascending (sorted, no repeats); one flat pass instead of a per-row sort."""
    import pandera.polars as pa

    def check(data: Any) -> pl.LazyFrame:
        col = pl.col(data.key)
        rows = data.lazyframe.select(col).with_row_index("_row")
        previous_in_row = (pl.col("_row") == pl.col("_row").shift(1)) & (col <= col.shift(1))
        bad = rows.explode(data.key).filter(previous_in_row).select("_row").unique().with_columns(ok=pl.lit(False))
        return rows.join(bad, on="_row", how="left", maintain_order="left").select(pl.col("ok").fill_null(True))

    return pa.Check(check, name=name)


def _check(name: str, arg: Any) -> Any:
    import pandera.polars as pa

    roles = lambda col: col.list.eval(pl.element().struct.field("role"))  # noqa: E731
    custom = {
        "list_min_length": lambda n: _list_check(f"list_min_length({n})", lambda c: c.list.len() >= n),
        "list_sorted_unique": lambda _: _sorted_unique("list_sorted_unique"),
        "roles_in": lambda allowed: _list_check(
            f"roles_in({', '.join(allowed)})", lambda c: roles(c).list.eval(pl.element().is_in(list(allowed))).list.all()
        ),
        "last_role_is": lambda role: _list_check(f"last_role_is({role})", lambda c: roles(c).list.last() == role),
        "not_blank": lambda _: _list_check("not_blank", lambda c: c.str.contains(r"\S")),  # \S: not Unicode White_Space
    }
    if name in custom:
        return custom[name](arg)
    builder = getattr(pa.Check, name, None)
    if builder is None:
        raise ConfigError(f"unknown schema check {name!r}; curate's checks: {', '.join(sorted(custom))}")
    return builder(**arg) if isinstance(arg, dict) else builder(arg)


def schema_path(stage: str) -> Path:
    if stage not in STAGES:
        raise ConfigError(f"unknown schema stage {stage!r}; stages: {', '.join(STAGES)}")
    return data_dir("schemas") / f"{stage}.yaml"


def read_schema(stage: str) -> dict[str, Any]:
    """The YAML mapping of a stage's schema."""
    data = yaml.safe_load(schema_path(stage).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise ConfigError(f"{schema_path(stage)}: a schema needs a 'columns' mapping")
    return data


@lru_cache(maxsize=8)
def load_schema(stage: str):
    """The ``pandera.polars.DataFrameSchema`` of a stage (``records``, ``curated``, ``export``)."""
    import pandera.polars as pa

    spec = read_schema(stage)
    columns = {}
    for name, col in spec["columns"].items():
        checks = [_check(k, v) for k, v in (col.get("checks") or {}).items()]
        columns[name] = pa.Column(
            None if col["dtype"] is None else parse_dtype(col["dtype"]),  # null: any dtype
            checks=checks, nullable=bool(col.get("nullable", False)),
            unique=bool(col.get("unique", False)), required=bool(col.get("required", True)),
        )
    return pa.DataFrameSchema(columns, strict=bool(spec.get("strict", False)), name=spec.get("name", stage))


VALIDATE_ROWS = 262_144  # rows validated at a time: pandera's checks build per-row intermediates


def validate(frame: pl.DataFrame, stage: str, *, key: str = "line") -> pl.DataFrame:
    """Findings for every schema failure of ``frame`` at ``stage`` (empty when it conforms).

    Row failures carry the row's ``key`` value as ``line``; frame-level failures (a missing
    column, a wrong dtype) get line 0. A large frame is validated :data:`VALIDATE_ROWS` rows at a
    time (the transient memory of the checks stays bounded), its ``unique`` columns over the
    whole frame; the findings are the same.
    """
    schema = load_schema(stage)
    if frame.height <= VALIDATE_ROWS:
        return _tidy(_failures(schema, frame, stage, key, 0))
    unique = [name for name, column in schema.columns.items() if column.unique and name in frame.columns]
    sliced = schema.update_columns({name: {"unique": False} for name in unique}) if unique else schema
    records = []
    for start in range(0, frame.height, VALIDATE_ROWS):
        records += _failures(sliced, frame.slice(start, VALIDATE_ROWS), stage, key, start)
    for name in unique:
        rows = frame[name].is_duplicated().arg_true()
        if rows.len():
            repeated = frame[rows]
            lines = repeated[key].to_list() if key in frame.columns else (rows + 1).to_list()
            ids = repeated["id"].to_list() if "id" in frame.columns else [None] * rows.len()
            records += [_record(stage, line, row_id, name, value, "field_uniqueness")
                        for line, row_id, value in zip(lines, ids, repeated[name].to_list(), strict=True)]
    return _tidy(records)


def _failures(schema: Any, frame: pl.DataFrame, stage: str, key: str, offset: int) -> list[dict[str, Any]]:
    """Finding records of pandera's failure cases on ``frame`` (rows numbered from ``offset``)."""
    import pandera.polars as pa

    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    lines = frame[key].to_list() if key in frame.columns else list(range(offset + 1, offset + frame.height + 1))
    ids = frame["id"].to_list() if "id" in frame.columns else [None] * frame.height
    records = []
    for case in cases.iter_rows(named=True):
        i = case["index"]
        row = i is not None and 0 <= i < frame.height
        value = case["failure_case"]
        column = case["column"]
        if case["schema_context"] == "DataFrameSchema" and case["check"] == "column_in_dataframe":
            column = str(value)  # the missing column is the failure case
        records.append(_record(stage, lines[i] if row else 0, ids[i] if row else None, column, value, case["check"]))
    return records


def _record(stage: str, line: Any, row_id: Any, column: Any, value: Any, check: Any) -> dict[str, Any]:
    return {
        "line": line,
        "id": row_id,
        "rule": f"schema_{stage}",
        "severity": ERROR,
        "field": column,
        "value": None if value is None else str(value)[:80],
        "message": f"{stage} schema: {column or 'frame'} fails {check}",
    }


def _tidy(records: list[dict[str, Any]]) -> pl.DataFrame:
    if not records:
        return empty_findings()
    out = pl.DataFrame(records, schema=FINDINGS_SCHEMA)
    return out.unique(maintain_order=True).sort(["line", "field", "message"], nulls_last=True)
