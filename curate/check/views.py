"""Rows of other targets' files read as RFT rows, so ``curate check`` validates every export.

Each export target names its data files and maps one of its rows to an RFT row
(:meth:`curate.export.base.ExportTarget.rft_view`), using the helpers here. :func:`prepare`
decides per checked path: which target wrote it (``--target``, or the ``manifest.json`` beside
it), whether it is one of curate's side files (skipped), and, for targets whose rows are not RFT
rows, writes an RFT view of the file (same line numbers) for the checker to read.

>>> gemini_row({"systemInstruction": {"parts": [{"text": "Be brief."}]},
...             "contents": [{"role": "user", "parts": [{"text": "2+2?"}]}],
...             "references": {"reference_answer": "Paris"}})
{'messages': [{'role': 'developer', 'content': 'Be brief.'}, {'role': 'user', 'content': '2+2?'}], 'reference_answer': 'Paris'}
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from curate.check.read import file_bytes
from curate.check.view_exprs import NoView, Reading, decode_lines
from curate.errors import SourceError
from curate.io.strict_json import loads

MANIFEST = "manifest.json"


def reference_value(value: Any, reading: Reading) -> Any:
    """A reference a target holds as a string, read as the manifest's task kind says.

    >>> reference_value("42", Reading(False)), reference_value("42", Reading(True)), reference_value("42", Reading())
    ('42', 42, 42)
    """
    if reading.reference_is_json is None:
        return _json_or_text(value)
    if reading.reference_is_json and isinstance(value, str):
        try:
            return loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def _json_or_text(value: Any) -> Any:
    """A reference written as text: its JSON value when it is a JSON list/object/number, else the text."""
    if isinstance(value, str) and value[:1] in "[{-0123456789":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def system_as_developer(row: dict[str, Any]) -> dict[str, Any]:
    messages = row.get("messages")
    if not isinstance(messages, list):
        return row
    fixed = [{**m, "role": "developer"} if isinstance(m, dict) and m.get("role") == "system" else m for m in messages]
    return {**row, "messages": fixed}


def eval_item(row: dict[str, Any]) -> dict[str, Any]:
    item = row.get("item")
    if not isinstance(item, dict):
        return row
    out = {k: v for k, v in item.items() if k != "text_input"}
    out["messages"] = [{"role": "user", "content": item.get("text_input")}]
    return out


def gemini_row(row: dict[str, Any], reading: Reading = Reading()) -> dict[str, Any]:
    def text(turn: Any) -> Any:
        parts = turn.get("parts") if isinstance(turn, dict) else None
        if not isinstance(parts, list):
            return None
        return "\n".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))

    contents = row.get("contents")
    if not isinstance(contents, list):
        return {"messages": None}
    messages = []
    if isinstance(row.get("systemInstruction"), dict):
        messages.append({"role": "developer", "content": text(row["systemInstruction"])})
    for turn in contents:
        role = turn.get("role") if isinstance(turn, dict) else None
        messages.append({"role": {"user": "user", "model": "assistant"}.get(role, role), "content": text(turn)})
    out: dict[str, Any] = {"messages": messages}
    references = row.get("references")
    if isinstance(references, dict):
        out.update({k: reference_value(v, reading) if k == reading.reference_key else _json_or_text(v)
                    for k, v in references.items()})
    return out


def prompt_row(row: dict[str, Any], reading: Reading = Reading()) -> dict[str, Any]:
    prompt = row.get("prompt")
    out = {k: v for k, v in row.items() if k != "prompt"}
    if reading.reference_is_json and isinstance(out.get("reference_answer"), str):  # the json kind's JSON text
        out["reference_answer"] = reference_value(out["reference_answer"], reading)
    out["messages"] = [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt
    return system_as_developer(out)  # open models' chat templates take the prompt as "system"


def verl_row(row: dict[str, Any], reading: Reading = Reading()) -> dict[str, Any]:
    out = prompt_row({"prompt": row.get("prompt")})
    reward = row.get("reward_model")
    if isinstance(reward, dict):
        out["reference_answer"] = reference_value(reward.get("ground_truth"), reading)
    extra = row.get("extra_info")
    if isinstance(extra, dict) and extra.get("id") is not None:
        out["id"] = extra["id"]
    return out


@dataclass(frozen=True)
class Planned:
    """One checked path: the file the checker reads (``None``: skipped) and why."""

    path: Path
    read: Path | None
    target: str | None
    note: str = ""
    labels: bool = True  # the reference is a label set (False: the manifest names an answer task)


def manifest_of(path: Path) -> dict[str, Any] | None:
    """The ``manifest.json`` beside ``path`` (or one folder up), when there is a readable one."""
    for folder in (path.parent, path.parent.parent):
        manifest = folder / MANIFEST
        if manifest.is_file():
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            return data if isinstance(data, dict) else None
    return None


def target_of(path: Path, explicit: str | None) -> str | None:
    """``explicit``, else the target in the ``manifest.json`` beside ``path`` (or one folder up)."""
    if explicit:
        return explicit
    try:
        target = manifest_of(path)["config"]["export"]["target"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    return target if isinstance(target, str) else None


def reading_of(path: Path) -> Reading:
    """How the rows of ``path`` hold their reference, from the run's configuration in the manifest:
    the task kind answers whether a string reference is JSON (:attr:`Kind.reference_is_json`)."""
    from curate.errors import ConfigError
    from curate.kinds import kind_from_config

    try:
        config = manifest_of(path)["config"]  # type: ignore[index]
        kind = kind_from_config(config.get("answer"), config.get("labels"), answer_field=config["source"].get("answer"))
        key = (config["export"].get("options") or {}).get("reference_key", "reference_answer")
    except (ConfigError, KeyError, TypeError, AttributeError):
        return Reading()
    return Reading(bool(kind.reference_is_json), key if isinstance(key, str) else "reference_answer",
                   bool(kind.is_labels))


def prepare(paths: list[Path], explicit: str | None, scratch: Path) -> list[Planned]:
    """Decide, per path, what the checker reads (see the module docstring)."""
    from curate.errors import ConfigError
    from curate.export.base import get_target

    out = []
    for i, path in enumerate(paths):
        name = target_of(path, explicit)
        reading = reading_of(path)
        if name is None or not path.is_file():
            out.append(Planned(path, path, None, labels=reading.is_labels))
            continue
        try:
            target = get_target(name)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc}") from None
        if path.name not in target.data_files:
            out.append(Planned(path, None, name, f"not one of {name}'s data files (curate's side file)"))
        elif target.rows_are_rft:
            out.append(Planned(path, path, name, labels=reading.is_labels))
        else:
            out.append(Planned(path, write_view(path, target, scratch / str(i), reading), name, labels=reading.is_labels))
    return out


def write_view(path: Path, target: Any, folder: Path, reading: Reading = Reading()) -> Path:
    """An RFT-row JSONL of ``path`` (JSONL or Parquet) with the same line numbers: the target's
    :meth:`~curate.export.base.ExportTarget.rft_view` expression over the whole file, or row by
    row (:meth:`~curate.export.base.ExportTarget.rft_row`) for a file the expression cannot take."""
    folder.mkdir(parents=True, exist_ok=True)
    view = folder / (path.stem + ".jsonl")
    if (path.parent / "response_format.json").is_file():
        shutil.copy(path.parent / "response_format.json", folder / "response_format.json")
    parquet = path.suffix.lower() == ".parquet"
    rows = _read_parquet(path) if parquet else None
    data = None if parquet else file_bytes(path)
    try:
        lines = _parquet_view(rows, target, reading) if rows is not None else _jsonl_view(data, target, reading)
    except NoView:
        lines = (_rows_view(rows.to_dicts(), target, reading) if rows is not None
                 else _lines_view(data, target, reading))
    view.write_bytes(b"".join(line + b"\n" for line in lines))
    return view


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise SourceError(f"{path}: cannot read as Parquet ({str(exc).splitlines()[0] if str(exc) else exc})") from None


def _parquet_view(rows: pl.DataFrame, target: Any, reading: Reading = Reading()) -> list[bytes]:
    return _encoded(rows.select(target.rft_view(rows, reading)).to_series())


def _jsonl_view(data: bytes, target: Any, reading: Reading = Reading()) -> list[bytes]:
    """The view of JSONL ``data`` by expression: blank lines stay as they are."""
    raw = data.splitlines()
    try:
        text = pl.Series(raw, dtype=pl.Binary).cast(pl.String)
    except pl.exceptions.PolarsError:  # a line that is not UTF-8: the checker reports it
        raise NoView("not UTF-8") from None
    blank = text.str.contains(r"^[ \t\n\r\x0b\x0c]*$")
    full = text.filter(~blank)
    if full.is_empty():
        return raw
    rows = decode_lines(full)
    converted = _encoded(rows.select(target.rft_view(rows, reading)).to_series())
    if not blank.any():
        return converted
    out = list(raw)
    for i, line in zip(blank.not_().arg_true().to_list(), converted, strict=True):
        out[i] = line
    return out


def _encoded(lines: pl.Series) -> list[bytes]:
    return lines.cast(pl.Binary).to_list()


def _dumped(row: dict[str, Any]) -> bytes:
    """One view line. A lone surrogate (a ``\\ud800`` escape in the file) stays an escape, so the
    checker reports it at its line instead of the encoder failing."""
    try:
        return json.dumps(row, ensure_ascii=False, default=str).encode()
    except UnicodeEncodeError:
        return json.dumps(row, ensure_ascii=True, default=str).encode()


def _rows_view(rows: list[dict[str, Any]], target: Any, reading: Reading = Reading()) -> list[bytes]:
    return [_dumped(target.rft_row(r, reading)) for r in rows]


def _lines_view(data: bytes, target: Any, reading: Reading = Reading()) -> list[bytes]:
    lines: list[bytes] = []
    for raw in data.splitlines():
        try:
            row = loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError):
            lines.append(raw)  # the checker reports it at its own line
            continue
        lines.append(_dumped(target.rft_row(row, reading)) if isinstance(row, dict) else raw)
    return lines
