"""Profile a raw file before writing a pipeline: its fields, their types, fill rates and examples.

``curate inspect FILE`` prints the profile; ``curate init FILE`` turns its guesses into a starter
``pipeline.yaml`` (:mod:`curate.starter`). Nested fields are flattened to the dotted paths that
``source:`` mappings use (``text.en``).

>>> import json, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> rows = [{"qid": i, "question": f"What is {i} plus {i}? Explain.", "answer": str(2 * i)} for i in range(20)]
>>> _ = (folder / "raw.jsonl").write_text("\\n".join(json.dumps(r) for r in rows) + "\\n")
>>> profile = inspect_file(folder / "raw.jsonl")
>>> profile.rows, [f.path for f in profile.fields]
(20, ['qid', 'question', 'answer'])
>>> profile.guess["id"], profile.guess["text"], profile.guess["answer"], profile.guess["kind"]
('qid', 'question', 'answer', 'number')
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from curate.errors import SourceError
from curate.io.source import detect_format

SAMPLE_ROWS = 10_000
EXAMPLE_CHARS = 60

_TEXT_NAMES = re.compile(r"(^|[_\W])(text|question|prompt|input|query|utterance|content|body|problem|instruction)s?($|[_\W])", re.I)
_ANSWER_NAMES = re.compile(r"(answer|solution|ground.?tru|reference|target|output|response|gold)", re.I)
_LABEL_NAMES = re.compile(r"(label|categor|class|intent|tag|topic|concept|domain)", re.I)
_ID_NAMES = re.compile(r"(^|[_\W])(id|idx|uuid|key|guid)($|[_\W])|_id$|^id|^[a-z]{1,2}id$", re.I)
_NUMBER = r"^\s*[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?([eE][-+]?\d+)?\s*$"


@dataclass(frozen=True)
class FieldProfile:
    """One (possibly nested) field: its dotted path, type and what its values look like."""

    path: str
    dtype: str
    filled: float  # share of rows where the field is present, not null and not empty
    distinct: int
    examples: tuple[str, ...]
    lengths: dict[str, int] = field(default_factory=dict)  # strings: p5/p50/p95/max characters
    list_len: float | None = None  # lists: mean number of items


@dataclass(frozen=True)
class Profile:
    """What :func:`inspect_file` found: rows read, every field, and guesses for the pipeline."""

    path: Path
    format: str
    rows: int  # rows profiled (the whole file, or the first ``sample`` rows)
    sampled: bool
    fields: tuple[FieldProfile, ...]
    guess: dict[str, Any]
    files: tuple[str, ...] = ()  # several inputs (a list, glob or folder): each file read, in order
    given: tuple[str, ...] = ()  # several inputs: the paths as given (a starter's source.path)


def inspect_file(path: str | Path | list[str | Path], *, fmt: str | None = None, sample: int = SAMPLE_ROWS) -> Profile:
    """Profile the first ``sample`` rows of ``path`` (JSONL, JSON, CSV/TSV, Parquet, a saved dataset),
    or of several files: a list, a glob or a folder, read as ``source.path`` reads them."""
    from curate.io.expand import expand_inputs

    given = [str(p) for p in path] if isinstance(path, list | tuple) else [str(path)]
    several = expand_inputs(given if len(given) > 1 else given[0], fmt, None, None)
    if several is not None:
        return _inspect_several(several, given, sample)
    path = Path(given[0])
    if not path.exists():
        raise SourceError(f"{path}: no such file")
    fmt = fmt or detect_format(path)
    frame, sampled = _read_sample(path, fmt, sample)
    flat = _flatten(frame)
    fields = tuple(_profile(flat[name]) for name in flat.columns)
    return Profile(path, fmt, flat.height, sampled, fields, _guess(fields, flat.height))


def _inspect_several(several: Any, given: list[str], sample: int) -> Profile:
    """Profile the first ``sample`` rows of the files in reading order."""
    frames, sampled = [], False
    for entry in several.inputs:
        if sum(f.height for f in frames) >= sample:
            sampled = True
            break
        frame, cut = _read_sample(entry.path, entry.format, sample - sum(f.height for f in frames))
        frames.append(frame)
        sampled = sampled or cut
    try:
        frame = pl.concat(frames, how="diagonal_relaxed")
    except pl.exceptions.PolarsError as exc:
        raise SourceError(f"{given[0]}: the files' fields do not fit one table ({str(exc).splitlines()[0]})") from None
    flat = _flatten(frame)
    fields = tuple(_profile(flat[name]) for name in flat.columns)
    return Profile(Path(given[0]), several.format, flat.height, sampled, fields, _guess(fields, flat.height),
                   files=tuple(i.name for i in several.inputs), given=tuple(given))


def _read_sample(path: Path, fmt: str, sample: int) -> tuple[pl.DataFrame, bool]:
    if path.is_file() and path.stat().st_size == 0:
        raise SourceError(f"{path}: the file is empty")
    try:
        if fmt == "jsonl":
            return _read_jsonl(path, sample)
        if fmt == "json":
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            if isinstance(data, dict):
                data = next((v for v in data.values() if isinstance(v, list)), [data])
            if not isinstance(data, list):
                raise SourceError(f"{path}: expected a JSON array of records")
            return _from_records(data[:sample], path), len(data) > sample
        if fmt == "csv":
            sep = "\t" if path.suffix.lower() == ".tsv" else ","
            frame = pl.read_csv(path, separator=sep, n_rows=sample + 1, infer_schema_length=sample,
                                encoding="utf8-lossy", truncate_ragged_lines=True)
            return frame.head(sample), frame.height > sample
        if fmt == "parquet":
            frame = pl.read_parquet(path, n_rows=sample + 1)
            return frame.head(sample), frame.height > sample
        if fmt == "hf":
            from curate._deps import optional_import

            datasets = optional_import("datasets", "hf")
            data = datasets.load_from_disk(str(path))
            if hasattr(data, "keys"):  # a DatasetDict: profile its first split
                data = data[sorted(data.keys())[0]]
            frame = pl.from_arrow(data.data.table.slice(0, sample + 1))
            return frame.head(sample), frame.height > sample
    except SourceError:
        raise
    except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceError(f"{path}: cannot read as {fmt} ({first})") from None
    raise SourceError(f"{path}: cannot inspect format {fmt!r}")


def _read_jsonl(path: Path, sample: int) -> tuple[pl.DataFrame, bool]:
    chunk: list[bytes] = []
    with path.open("rb") as handle:
        for raw in handle:
            if raw.strip():
                chunk.append(raw)
            if len(chunk) > sample:
                break
    sampled = len(chunk) > sample
    chunk = chunk[:sample]
    try:
        return pl.read_ndjson(io.BytesIO(b"".join(chunk)), infer_schema_length=None), sampled
    except pl.exceptions.PolarsError:  # mixed types or broken lines: read what parses, as JSON
        records = []
        for raw in chunk:
            try:
                value = json.loads(raw.decode("utf-8-sig", errors="replace"))
            except ValueError:
                continue
            if isinstance(value, dict):
                records.append(value)
        return _from_records(records, path), sampled


def _from_records(records: list[Any], path: Path) -> pl.DataFrame:
    records = [r for r in records if isinstance(r, dict)]
    if not records:
        raise SourceError(f"{path}: no JSON objects found in the first rows")
    try:
        return pl.from_dicts(records, infer_schema_length=None)
    except (pl.exceptions.PolarsError, TypeError, ValueError):
        # fields whose type changes from row to row are profiled as their JSON text
        keys = list(dict.fromkeys(k for r in records for k in r))
        columns = {k: [None if k not in r else json.dumps(r[k], ensure_ascii=False, sort_keys=True)
                       for r in records] for k in keys}
        return pl.DataFrame(columns, schema={k: pl.String for k in keys})


def _flatten(frame: pl.DataFrame, prefix: str = "") -> pl.DataFrame:
    """Structs unnested into dotted column names, recursively."""
    columns = []
    for name in frame.columns:
        col = frame[name]
        full = f"{prefix}{name}"
        if isinstance(col.dtype, pl.Struct) and col.dtype.fields:
            inner = _flatten(col.struct.unnest(), prefix=f"{full}.")
            columns.extend(inner.get_columns())
        else:
            columns.append(col.alias(full))
    return pl.DataFrame(columns) if columns else pl.DataFrame()


def _profile(col: pl.Series) -> FieldProfile:
    dtype = col.dtype
    n = max(col.len(), 1)
    if dtype == pl.String:
        filled = col.str.strip_chars().str.len_chars().fill_null(0).gt(0)
    elif isinstance(dtype, pl.List):
        filled = col.list.len().fill_null(0).gt(0)
    else:
        filled = col.is_not_null()
    lengths: dict[str, int] = {}
    list_len = None
    if dtype == pl.String:
        chars = col.drop_nulls().str.len_chars()
        if chars.len():
            for label, q in (("p5", 0.05), ("p50", 0.5), ("p95", 0.95)):
                lengths[label] = int(chars.quantile(q, interpolation="nearest") or 0)
            lengths["max"] = int(chars.max() or 0)
    if isinstance(dtype, pl.List):
        list_len = float(col.drop_nulls().list.len().mean() or 0.0)
        values = col.explode().drop_nulls()
    else:
        values = col.drop_nulls()
    try:
        distinct = int(values.n_unique())
        shown = values.unique(maintain_order=True).head(3)
    except pl.exceptions.PolarsError:  # unhashable values (nested lists): count their text
        text = values.cast(pl.String, strict=False)
        distinct, shown = int(text.n_unique()), text.unique(maintain_order=True).head(3)
    examples = tuple(_short(v) for v in shown.to_list())
    return FieldProfile(col.name, _dtype_name(dtype), round(float(filled.sum()) / n, 4), distinct,
                        examples, lengths, list_len)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


def _dtype_name(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.List):
        return f"list[{_dtype_name(dtype.inner)}]"
    if dtype == pl.String:
        return "string"
    if dtype.is_integer():
        return "integer"
    if dtype.is_float():
        return "number"
    if dtype == pl.Boolean:
        return "boolean"
    if isinstance(dtype, pl.Struct):
        return "object"
    return str(dtype).lower()


def _guess(fields: tuple[FieldProfile, ...], rows: int) -> dict[str, Any]:
    """Which fields look like the id, the input text, the labels or the answer."""
    guess: dict[str, Any] = {"id": None, "text": None, "labels": None, "answer": None, "kind": None,
                             "single": False}
    if not rows:
        return guess
    used: set[str] = set()
    other_role = (_ANSWER_NAMES, _LABEL_NAMES, _TEXT_NAMES)
    ids = [f for f in fields if f.filled == 1.0 and f.distinct == rows
           and (f.dtype == "integer" or (f.dtype == "string" and f.lengths.get("max", 99) <= 64))
           and (_ID_NAMES.search(f.path) or not any(p.search(f.path) for p in other_role))]
    ids.sort(key=lambda f: (not _ID_NAMES.search(f.path), fields.index(f)))
    if ids and (_ID_NAMES.search(ids[0].path) or ids[0].dtype == "string"):
        guess["id"] = ids[0].path
        used.add(ids[0].path)

    strings = [f for f in fields if f.dtype == "string" and f.path not in used and f.filled > 0.5]
    texts = sorted(strings, key=lambda f: (-(bool(_TEXT_NAMES.search(f.path)) and not _ANSWER_NAMES.search(f.path)),
                                           -f.lengths.get("p50", 0)))
    if texts:
        guess["text"] = texts[0].path
        used.add(texts[0].path)

    lists = [f for f in fields if f.dtype.startswith("list[") and f.path not in used and f.filled > 0]
    lists.sort(key=lambda f: (not _LABEL_NAMES.search(f.path), fields.index(f)))
    categorical = [f for f in fields if f.path not in used and f.dtype in ("string", "integer")
                   and f.filled > 0.5 and 1 < f.distinct <= max(2, min(1000, rows // 3))
                   and f.lengths.get("p95", 0) <= 80 and _LABEL_NAMES.search(f.path)]
    answers = [f for f in fields if f.path not in used and f.filled > 0.5 and _ANSWER_NAMES.search(f.path)]
    if lists and _LABEL_NAMES.search(lists[0].path):
        guess["labels"] = lists[0].path
    elif categorical:
        guess["labels"], guess["single"] = categorical[0].path, True
    elif answers:
        best = answers[0]
        guess["answer"] = best.path
        guess["kind"] = _answer_kind(best)
    elif lists:
        guess["labels"] = lists[0].path
    return guess


def _answer_kind(f: FieldProfile) -> str:
    if f.dtype in ("integer", "number"):
        return "number"
    if f.dtype == "object" or f.dtype.startswith("list["):
        return "json"
    examples = [e for e in f.examples if e]
    if examples and all(re.match(_NUMBER, e) for e in examples):
        return "number"
    if examples and all("\\" in e or "^" in e or "frac" in e for e in examples):
        return "math"
    return "text"


def render_profile(profile: Profile) -> str:
    """The profile as aligned plain text, one field a line, then the guesses."""
    name = f"{len(profile.given)} paths" if len(profile.given) > 1 else str(profile.path)
    what = f"{len(profile.files)} files, {profile.files[0]} to {profile.files[-1]}, " if profile.files else ""
    head = (f"{name} ({what}{profile.format}): {profile.rows} rows profiled"
            f"{' (the first rows only; --sample to change)' if profile.sampled else ''}")
    width = max([len("field"), *(len(f.path) for f in profile.fields)])
    lines = [head, "", f"{'field':<{width}}  {'type':<14} {'filled':>7} {'distinct':>8}  lengths / items   examples"]
    for f in profile.fields:
        if f.lengths:
            shape = f"{f.lengths['p5']}/{f.lengths['p50']}/{f.lengths['p95']}/{f.lengths['max']} ch"
        elif f.list_len is not None:
            shape = f"{f.list_len:.2f} items"
        else:
            shape = ""
        examples = " | ".join(f.examples)
        lines.append(f"{f.path:<{width}}  {f.dtype:<14} {f.filled:>7.1%} {f.distinct:>8}  {shape:<17} {examples}")
    lines += ["", "lengths: 5th percentile / median / 95th percentile / longest, in characters", "", "guesses:"]
    g = profile.guess
    for key in ("id", "text", "labels", "answer"):
        if g.get(key):
            extra = ""
            if key == "labels" and g.get("single"):
                extra = " (one label per row: labels.single)"
            if key == "answer":
                extra = f" (answer.kind: {g['kind']})"
            lines.append(f"  {key:<7} {g[key]}{extra}")
    if not any(g.get(k) for k in ("labels", "answer")):
        lines.append("  no labels or answer field recognised: name it in source.labels or source.answer")
    return "\n".join(lines)
