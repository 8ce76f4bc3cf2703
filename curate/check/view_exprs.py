"""Polars expressions that write other targets' rows as RFT rows (one JSON line per row).

:func:`curate.check.views.write_view` reads a target's data file into a frame (Parquet as it is;
JSONL lines decoded by polars, see :func:`decode_lines`) and selects the target's
:meth:`~curate.export.base.ExportTarget.rft_view` expression: the RFT row as JSON text, built from
each field's JSON text without a Python loop over rows. Values a row holds as JSON text (a
reference in verl's ``ground_truth`` or Gemini's ``references``) are spliced in when they are JSON,
so a reference keeps its type whatever the row. A file these expressions cannot take (a column of
an unexpected type, a line polars cannot decode, lines with different keys) raises
:class:`NoView`; the caller then converts it row by row (:mod:`curate.check.views`), which gives
the same rows.

>>> rows = pl.DataFrame({"prompt": [[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}]],
...                      "reference_answer": ["4"]})
>>> rows.select(prompt_view(rows)).item()
'{"reference_answer":"4","messages":[{"role":"developer","content":"Be brief."},{"role":"user","content":"2+2?"}]}'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import polars as pl

from curate.export._reference import json_text

RAW = "__raw_line__"  # the raw JSONL line beside the decoded columns (see decode_lines)
_MAX_BRACKETS = 64  # a line with more opening brackets may nest deeper than strict_json reads


@dataclass(frozen=True)
class Reading:
    """What the ``manifest.json`` beside a checked file says about its rows' references."""

    # the task kind's Kind.reference_is_json: a reference held as a string is JSON text
    # (None: no manifest, so each value is guessed: a list, object or number is JSON)
    reference_is_json: bool | None = None
    reference_key: str = "reference_answer"  # the reference's key in Gemini's ``references``
    is_labels: bool = True  # the kind's is_labels: False for answer tasks (no label set to check)


class NoView(Exception):
    """The expressions cannot convert this file; convert it row by row."""


def decode_lines(lines: pl.Series) -> pl.DataFrame:
    """Decoded JSONL ``lines`` (no blank ones): one column per key plus :data:`RAW`.

    Raises :class:`NoView` unless every line is a JSON object polars reads the way
    :mod:`curate.io.strict_json` does (no NaN, no deep nesting) and the objects share types.
    """
    valid = lines.str.json_path_match("$").is_not_null() & lines.str.contains(r"^[ \t]*\{")
    if not valid.all() or (lines.str.count_matches(r"[\[{]") > _MAX_BRACKETS).any():
        raise NoView("a line is not a JSON object polars reads as curate does")
    try:
        decoded = lines.str.json_decode(infer_schema_length=None)
    except pl.exceptions.PolarsError as exc:
        raise NoView(str(exc)) from None
    if not isinstance(decoded.dtype, pl.Struct):
        raise NoView("the lines are not objects")
    return decoded.struct.unnest().with_columns(lines.alias(RAW))


def as_json(expr: pl.Expr) -> pl.Expr:
    """JSON text of a typed value (``null`` for null)."""
    return json_text(expr)


def key(name: str) -> str:
    """``name`` as a JSON object key followed by ``:``."""
    return json.dumps(name, ensure_ascii=False) + ":"


def require_key(frame: pl.DataFrame, name: str, value: pl.Expr, rows: pl.Expr | None = None) -> None:
    """Raise :class:`NoView` unless every line of a decoded JSONL file (``rows``: those whose
    object holds the field) has the key ``name`` that ``value`` reads: polars fills a missing
    key with null, and a row's view keeps the keys of the row. A null value counts as present
    when the line names the key. Parquet columns are in every row."""
    if RAW not in frame.columns:
        return
    named = pl.col(RAW).str.contains(re.escape(key(name)[:-1]) + r"[ \t]*:")
    ok = value.is_not_null() | named
    if not frame.select((ok if rows is None else ok | ~rows).all()).item():
        raise NoView(f"some line has no {name!r} key")


def json_object(members: Sequence[tuple[str, pl.Expr, pl.Expr | None]]) -> pl.Expr:
    """A JSON object per row from ``(key, JSON text, condition or None)``; a member whose
    condition is false is left out."""
    parts: list[pl.Expr] = []
    first = True
    for name, value, when in members:
        comma = "" if first else ","
        first = False
        text = pl.concat_str(pl.lit(comma + key(name)), value)
        parts.append(text if when is None else pl.when(when).then(text).otherwise(pl.lit("")))
    if not parts:
        return pl.lit("{}")
    body = pl.concat_str(parts)
    # a left-out first member leaves a leading comma
    return pl.concat_str(pl.lit("{"), body.str.strip_prefix(","), pl.lit("}"))


def string_reference(text: pl.Expr, reading: Reading) -> pl.Expr:
    """JSON text of a reference a target holds as a string, as the task kind says
    (:func:`curate.check.views.reference_value`): the JSON it holds, or the string; guessed by
    :func:`json_or_text` when the kind is unknown."""
    if reading.reference_is_json is None:
        return json_or_text(text)
    if not reading.reference_is_json:
        return as_json(text)
    valid = text.str.json_path_match("$").is_not_null() | (text.str.strip_chars() == "null")
    return pl.when(valid).then(text.str.replace_all(r"[\n\r]", " ")).otherwise(as_json(text))


def json_or_text(text: pl.Expr) -> pl.Expr:
    """JSON text of a string that may hold JSON: the JSON itself when it is a list, an object or
    a number (as :func:`curate.check.views._json_or_text` decides), else the string."""
    looks = text.str.contains(r"^[\[{\-0-9]") & text.str.json_path_match("$").is_not_null()
    return pl.when(looks).then(text.str.replace_all(r"[\n\r]", " ")).otherwise(as_json(text))


def messages_json(frame: pl.DataFrame, column: str, *, text_is_user: bool = True) -> pl.Expr:
    """JSON text of chat messages in ``column`` with ``system`` roles as ``developer`` (a string
    is one user message when ``text_is_user``, as :func:`curate.check.views.prompt_row` reads
    TRL's and verl's prompt; else left as it is)."""
    dtype = frame.schema.get(column)
    if dtype is None:
        return pl.lit("null")
    if dtype == pl.String and not text_is_user:
        return as_json(pl.col(column))
    if dtype == pl.String:
        message = pl.concat_str(pl.lit('[{"role":"user","content":'), as_json(pl.col(column)), pl.lit("}]"))
        return pl.when(pl.col(column).is_null()).then(pl.lit("null")).otherwise(message)
    if dtype == pl.Null:
        return pl.lit("null")
    if not (isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct)):
        raise NoView(f"{column} is {dtype}")
    # in compact JSON this text is only ever a 'role' key with the value "system"
    return as_json(pl.col(column)).str.replace_all('"role":"system"', '"role":"developer"', literal=True)


def spread(frame: pl.DataFrame, names: Sequence[str], replace: dict[str, pl.Expr],
           column: Callable[[str], pl.Expr] = pl.col) -> list:
    """Members for the fields ``names`` in order (``column(name)`` reads one; JSON text of each,
    ``replace`` giving the JSON text of some), each in every row (see :func:`require_key`)."""
    out = []
    for name in names:
        value = column(name)
        require_key(frame, name, value)
        out.append((name, replace[name] if name in replace else as_json(value), None))
    return out


def prompt_view(frame: pl.DataFrame, reading: Reading = Reading()) -> pl.Expr:
    """TRL rows: every column but ``prompt``, then ``messages`` from the prompt (a string
    reference decoded when the kind holds JSON text there: ``json``)."""
    names = [c for c in frame.columns if c not in ("prompt", RAW)]
    messages = messages_json(frame, "prompt")
    replace = {"messages": messages}
    if reading.reference_is_json and frame.schema.get("reference_answer") == pl.String:
        reference = pl.col("reference_answer")
        replace["reference_answer"] = pl.when(reference.is_null()).then(pl.lit("null")).otherwise(
            string_reference(reference, reading))
    members = spread(frame, names, replace)
    return json_object(members if "messages" in names else [*members, ("messages", messages, None)])


def _struct(frame: pl.DataFrame, column: str) -> pl.Struct | None:
    """The struct type of ``column`` (None when absent or all null)."""
    dtype = frame.schema.get(column)
    if dtype is None or dtype == pl.Null:
        return None
    if not isinstance(dtype, pl.Struct):
        raise NoView(f"{column} is {dtype}")
    return dtype


def _field(frame: pl.DataFrame, column: str, field: str) -> tuple[pl.Expr, pl.DataType] | None:
    """``column.field`` and its type (None when the column is absent; a null field when the
    struct has no such field)."""
    dtype = _struct(frame, column)
    if dtype is None:
        return None
    fields = {f.name: f.dtype for f in dtype.fields}
    if field not in fields:
        return pl.lit(None), pl.Null()
    return pl.col(column).struct.field(field), fields[field]


def verl_view(frame: pl.DataFrame, reading: Reading = Reading()) -> pl.Expr:
    """verl rows: ``messages`` (the prompt), ``reference_answer`` (``reward_model.ground_truth``,
    spliced when JSON) and ``id`` (``extra_info.id``)."""
    members: list = [("messages", messages_json(frame, "prompt"), None)]
    truth = _field(frame, "reward_model", "ground_truth")
    if truth is not None:
        value, dtype = truth
        text = string_reference(value, reading) if dtype == pl.String else as_json(value)
        members.append(("reference_answer", pl.when(value.is_null()).then(pl.lit("null")).otherwise(text),
                        pl.col("reward_model").is_not_null()))
    row_id = _field(frame, "extra_info", "id")
    if row_id is not None:
        members.append(("id", as_json(row_id[0]), row_id[0].is_not_null()))
    return json_object(members)


def system_view(frame: pl.DataFrame) -> pl.Expr:
    """Bedrock rows: the row with ``system`` messages as ``developer``."""
    names = [c for c in frame.columns if c != RAW]
    replace = {"messages": messages_json(frame, "messages", text_is_user=False)} if "messages" in names else {}
    return json_object(spread(frame, names, replace))


def eval_view(frame: pl.DataFrame) -> pl.Expr:
    """OpenAI evals rows ``{"item": {...}}``: the item's fields but ``text_input``, then
    ``messages`` with ``text_input`` as the user message."""
    dtype = _struct(frame, "item")
    if dtype is None or frame["item"].has_nulls():
        raise NoView("item is not an object in every row")
    names = [f.name for f in dtype.fields if f.name != "text_input"]
    text = pl.col("item").struct.field("text_input") if "text_input" in {f.name for f in dtype.fields} else pl.lit(None)
    message = pl.concat_str(pl.lit('[{"role":"user","content":'), as_json(text), pl.lit("}]"))
    members = spread(frame, names, {"messages": message}, pl.col("item").struct.field)
    return json_object(members if "messages" in names else [*members, ("messages", message, None)])


_TURN_ROLES = {"user": "user", "model": "assistant"}


def _parts_text(parts: pl.Expr) -> pl.Expr:
    """The text parts of a Gemini ``parts`` list joined by newlines (null when not a list)."""
    return parts.list.eval(pl.element().struct.field("text")).list.drop_nulls().list.join("\n")


def gemini_view(frame: pl.DataFrame, reading: Reading = Reading()) -> pl.Expr:
    """Gemini rows: ``messages`` from ``systemInstruction`` (as ``developer``) and ``contents``
    (``model`` turns as ``assistant``), then each ``references`` value (spliced when JSON)."""
    contents = frame.schema.get("contents")
    if contents is None or contents == pl.Null:
        return pl.lit('{"messages":null}')
    turn = contents.inner if isinstance(contents, pl.List) else None
    if not isinstance(turn, pl.Struct) or not _parts_ok({f.name: f.dtype for f in turn.fields}.get("parts")):
        raise NoView(f"contents is {contents}")
    element = pl.element().struct
    has = {f.name for f in turn.fields}
    role = element.field("role").replace(_TURN_ROLES) if "role" in has else pl.lit(None, dtype=pl.String)
    text = _parts_text(element.field("parts")) if "parts" in has else pl.lit(None, dtype=pl.String)
    turns = as_json(pl.col("contents").list.eval(pl.struct(role.alias("role"), text.alias("content"))))
    messages = turns
    system = _struct(frame, "systemInstruction")
    if system is not None:
        parts = {f.name: f.dtype for f in system.fields}.get("parts")
        if not _parts_ok(parts):
            raise NoView(f"systemInstruction is {system}")
        content = _parts_text(pl.col("systemInstruction").struct.field("parts")) if parts is not None else pl.lit(None)
        developer = pl.concat_str(pl.lit('{"role":"developer","content":'), as_json(content), pl.lit("}"))
        rest = pl.when(pl.col("contents").list.len() == 0).then(pl.lit("]")).otherwise(
            pl.concat_str(pl.lit(","), turns.str.slice(1)))
        with_system = pl.concat_str(pl.lit("["), developer, rest)
        messages = pl.when(pl.col("systemInstruction").is_not_null()).then(with_system).otherwise(turns)
    members: list = [("messages", messages, None)]
    references = _struct(frame, "references")
    if references is not None:
        for field in references.fields:
            value = pl.col("references").struct.field(field.name)
            guess = string_reference if field.name == reading.reference_key else lambda t, _: json_or_text(t)
            text = guess(value, reading) if field.dtype == pl.String else as_json(value)
            require_key(frame, field.name, value, pl.col("references").is_not_null())
            members.append((field.name, pl.when(value.is_null()).then(pl.lit("null")).otherwise(text),
                            pl.col("references").is_not_null()))
    row = json_object(members)
    return pl.when(pl.col("contents").is_null()).then(pl.lit('{"messages":null}')).otherwise(row)


def _parts_ok(parts: pl.DataType | None) -> bool:
    """True for a ``parts`` type the expressions read: absent, or a list of structs whose
    ``text`` (if any) is a string."""
    if parts is None or parts == pl.Null:
        return True
    if not (isinstance(parts, pl.List) and isinstance(parts.inner, pl.Struct)):
        return False
    text = {f.name: f.dtype for f in parts.inner.fields}.get("text")
    return text in (None, pl.String, pl.Null)
