"""Helpers shared by the evals, Bedrock, Azure, TRL and verl targets (chat frames, schemas, lint).

>>> frame = pl.DataFrame({"messages": [[{"role": "developer", "content": "d"}, {"role": "user", "content": "u"}]]})
>>> map_roles(frame, {"developer": "system"})["messages"].to_list()[0][0]["role"]
'system'
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl

from curate.export.base import ExportBundle
from curate.frame import ERROR, WARN, as_findings, empty_findings
from curate.options import Param

# Options every target accepts, so switching export.target never breaks a config.
COMMON_PARAMS = (Param("enforce_row_limits", bool, True),)


def map_roles(
    frame: pl.DataFrame, mapping: Mapping[str, str], column: str = "messages"
) -> pl.DataFrame:
    """``frame`` with message roles renamed (e.g. developer -> system), content untouched."""
    if not mapping or column not in frame.columns:
        return frame
    element = pl.element().struct
    renamed = pl.col(column).list.eval(
        pl.struct(
            element.field("role").replace(dict(mapping)).alias("role"),
            element.field("content").alias("content"),
        )
    )
    return frame.with_columns(renamed.alias(column))


def bundle_with_roles(bundle: ExportBundle, mapping: Mapping[str, str]) -> ExportBundle:
    """The same bundle with message roles renamed in every split."""
    splits = {name: map_roles(frame, mapping) for name, frame in bundle.splits.items()}
    return dataclasses.replace(bundle, splits=splits)


def dataset_finding(
    rule: str, message: str, *, field: str | None = None, severity: str = ERROR
) -> pl.DataFrame:
    """One finding about the whole export (no row), e.g. too few rows or a reserved column name."""
    return as_findings(
        pl.DataFrame(
            [
                {
                    "line": None,
                    "id": None,
                    "rule": rule,
                    "severity": severity,
                    "field": field,
                    "value": None,
                    "message": message,
                }
            ],  # fmt: skip
            schema_overrides={"line": pl.Int64},
        )
    )


def reserved_findings(target: str, bundle: ExportBundle, reserved: Iterable[str]) -> pl.DataFrame:
    """Errors for passthrough fields whose names the target uses for itself."""
    clash = [name for name in bundle.passthrough if name in set(reserved)]
    if not clash:
        return empty_findings()
    return pl.concat(
        [
            dataset_finding(
                "target_reserved_key",
                f"{target}: passthrough field {name!r} is a reserved name in this format; rename it",
                field=name,
            )
            for name in clash
        ]
    )


def warn(rule: str, message: str) -> pl.DataFrame:
    return dataset_finding(rule, message, severity=WARN)


def json_schema(dtype: pl.DataType) -> dict[str, Any]:
    """JSON schema of values of a polars dtype (as written by ``write_ndjson``).

    >>> json_schema(pl.List(pl.String))
    {'type': 'array', 'items': {'type': 'string'}}
    """
    if dtype == pl.String or dtype == pl.Categorical or dtype == pl.Date or dtype == pl.Datetime:
        return {"type": "string"}
    if dtype == pl.Boolean:
        return {"type": "boolean"}
    if dtype.is_integer():
        return {"type": "integer"}
    if dtype.is_numeric():
        return {"type": "number"}
    if isinstance(dtype, pl.List | pl.Array):
        return {"type": "array", "items": json_schema(dtype.inner)}
    if isinstance(dtype, pl.Struct):
        return {
            "type": "object",
            "properties": {f.name: json_schema(f.dtype) for f in dtype.fields},
            "required": [f.name for f in dtype.fields],
        }
    return {}


def frame_schema(frames: Iterable[pl.DataFrame]) -> dict[str, Any]:
    """JSON schema of rows of ``frames`` (same columns); columns holding nulls also accept null."""
    frames = [f for f in frames if f.width]
    first = frames[0]
    properties = {}
    for name, dtype in first.schema.items():
        schema = json_schema(dtype)
        if any(f[name].null_count() for f in frames) and "type" in schema:
            schema = {**schema, "type": [schema["type"], "null"]}
        properties[name] = schema
    return {"type": "object", "properties": properties, "required": list(first.columns)}


def dumps(value: Any) -> str:
    """Deterministic pretty JSON with a trailing newline."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


RESPONSE_FORMAT_FILE = "response_format.json"


def write_response_format(bundle: ExportBundle, folder: Path) -> list[str]:
    """Write the chat-style response format (for a job, or guided decoding in vLLM/TGI); the names
    written (none when the export has no response format)."""
    if bundle.response_format is None:
        return []
    (folder / RESPONSE_FORMAT_FILE).write_text(dumps(bundle.response_format), encoding="utf-8")
    return [RESPONSE_FORMAT_FILE]


CHARS_PER_TOKEN = 4.0  # the estimate used where no tokenizer is at hand (as in the text rules)


def estimated_prompt_tokens(column: str = "messages") -> pl.Expr:
    """Estimated tokens of a row's whole prompt: every message's characters / 4, rounded up,
    plus 4 per message for the chat template's role markers. An estimate, not a tokenizer count."""
    chars = pl.col(column).list.eval(pl.element().struct.field("content").str.len_chars()).list.sum()
    return ((chars / CHARS_PER_TOKEN).ceil() + 4 * pl.col(column).list.len()).cast(pl.Int64)
