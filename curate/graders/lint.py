"""Template lint: what a grader reads must exist, with one type, in every exported row.

>>> g = {"type": "string_check", "name": "exact", "operation": "eq",
...      "input": "{{sample.output_json.answer}}", "reference": "{{item.answer}}"}
>>> lint_templates(g, [{"id": "a", "answer": "x"}, {"id": "b"}], has_response_format=True)["rule"].to_list()
['grader_item_field_missing']
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from curate.graders.templates import grader_strings, references

if TYPE_CHECKING:
    import polars as pl


def _python_reads(source: str) -> tuple[set[tuple[str, ...]], bool]:
    """Item keys a python grader reads as ``item["k"]`` / ``item.get("k")`` (string literals or
    module-level string constants), and whether it reads ``sample["output_json"]``."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set(), False
    constants = {
        t.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    grade = next(
        (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "grade"), None
    )
    params = [a.arg for a in (grade.args.posonlyargs + grade.args.args)] if grade else []
    sample_name, item_name = (
        (params + ["sample", "item"])[:2] if len(params) >= 2 else ("sample", "item")
    )

    def literal(node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return constants.get(node.id)
        return None

    reads: set[tuple[str, ...]] = set()
    output_json = False
    for node in ast.walk(tree):
        target = key = None
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
            target, key = node.value.id, literal(node.slice)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and isinstance(node.func.value, ast.Name)
            and node.args
        ):
            target, key = node.func.value.id, literal(node.args[0])
        if key is None:
            continue
        if target == item_name:
            reads.add((key,))
        elif target == sample_name and key == "output_json":
            output_json = True
    if constants.get("ANSWER_FROM") in ("auto", "text"):  # curate's open-answer sources fall back
        output_json = False  # to the output text, so they need no response format
    return reads, output_json


def grader_reads(grader: Mapping[str, Any]) -> tuple[list[tuple[str, tuple[str, ...]]], bool]:
    """``([(grader name, item path)], reads sample.output_json)`` over a grader and its sub-graders."""
    leaves = (
        list(grader["graders"].items())
        if grader.get("type") == "multi"
        else [(grader.get("name"), grader)]
    )
    reads: list[tuple[str, tuple[str, ...]]] = []
    output_json = False
    for name, leaf in leaves:
        if leaf.get("type") == "python":
            paths, uses_json = _python_reads(leaf.get("source", ""))
            reads += [(name, p) for p in sorted(paths)]
            output_json |= uses_json
        for _, text in grader_strings(leaf):
            for namespace, path in references(text):
                if namespace == "item":
                    reads.append((name, path))
                elif path[0] == "output_json":
                    output_json = True
    unique = list(dict.fromkeys(reads))
    return unique, output_json


_MISSING = object()


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    return "object"


def _get(row: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = row
    for key in path:
        if isinstance(value, Mapping) and key in value:
            value = value[key]
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return _MISSING
    return value


def _uniform(frame: pl.DataFrame, path: tuple[str, ...]) -> bool:
    """True when every row of ``frame`` holds ``path`` with one JSON type (a column, or a field of
    struct columns, with no nulls or only nulls): the row-by-row check would find nothing."""
    import polars as pl

    if not path or path[0] not in frame.columns:
        return False
    expr, dtype = pl.col(path[0]), frame.schema[path[0]]
    for part in path[1:]:
        fields = {f.name: f.dtype for f in dtype.fields} if isinstance(dtype, pl.Struct) else {}
        if part not in fields:
            return False
        expr, dtype = expr.struct.field(part), fields[part]
    if isinstance(dtype, pl.Object):
        return False
    nulls = frame.select(expr.null_count()).item()
    # a null top-level value is a "null" in every row alike; a null inside a path may be a missing field
    return nulls == 0 or (len(path) == 1 and nulls == frame.height)


def lint_templates(
    grader: Mapping[str, Any], rows: list[dict] | pl.DataFrame, *, has_response_format: bool
) -> pl.DataFrame:
    """Findings (``curate.frame`` schema) for grader variables that some rows lack or type differently,
    and for ``sample.output_json`` without a response format. ``line`` is the 1-based row number."""
    import polars as pl

    from curate.frame import as_findings, empty_findings

    reads, output_json = grader_reads(grader)
    checked = reads
    if not isinstance(rows, list):
        # a column of one type without nulls cannot give findings; only the other reads (and id) are
        # checked row by row
        checked = [(name, path) for name, path in reads if not _uniform(rows, path)]
        wanted = {path[0] for _, path in checked if path} | {"id"}
        columns = [c for c in rows.columns if c in wanted]
        if not checked:  # nothing to check row by row: no Python object per row (1M rows: 250 MB)
            rows = []
        else:
            rows = rows.select(columns).to_dicts() if columns else [{} for _ in range(rows.height)]
    records: list[dict[str, Any]] = []
    if output_json and not has_response_format:
        records.append(
            {
                "rule": "grader_output_json_without_response_format",
                "field": "sample.output_json",
                "message": "the grader reads sample.output_json, which is only filled when the job sets a "
                "response_format (JSON schema); set one or grade sample.output_text",
            }
        )
    for name, path in checked:
        variable = "item." + ".".join(path)
        values = [_get(row, path) for row in rows]
        types = [None if v is _MISSING else _json_type(v) for v in values]
        counts = Counter(t for t in types if t is not None)
        main = counts.most_common(1)[0][0] if counts else None
        for i, (row, kind) in enumerate(zip(rows, types, strict=True)):
            base = {
                "line": i + 1,
                "id": None if row.get("id") is None else str(row.get("id")),
                "field": variable,
            }
            if kind is None:
                records.append(
                    base
                    | {
                        "rule": "grader_item_field_missing",
                        "message": f"grader {name!r} reads {{{{{variable}}}}} but row {i + 1} has no such field "
                        "(the platform scores it 0 with invalid_variable_error); every row needs it",
                    }
                )
            elif kind != main:
                records.append(
                    base
                    | {
                        "rule": "grader_item_field_type",
                        "value": kind,
                        "message": f"grader {name!r} reads {{{{{variable}}}}}: row {i + 1} has a {kind} where "
                        f"{counts[main]} of {len(rows)} rows have a {main}; every row needs one type",
                    }
                )
    if not records:
        return empty_findings()
    frame = pl.DataFrame([{"severity": "error"} | r for r in records], infer_schema_length=None)
    return as_findings(frame)
