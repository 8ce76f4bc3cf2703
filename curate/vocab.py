"""Map opaque label ids to readable names, with optional roll-up to the top of a hierarchy.

A vocabulary file (CSV, TSV or JSON) has one row per id with its name and, optionally, its parent
id(s). With ``level: top`` each id is replaced by its top-level ancestors (an id may have several
parents, e.g. a EuroVoc descriptor in two domains). Models reason far better over ``"trade"`` than
over ``"100147"``.

>>> vocab = Vocabulary.from_rows([("10", "apples", "1"), ("11", "pears", "1"), ("1", "fruit", None)],
...                              level="top")
>>> vocab.map_ids(["10", "11"]), vocab.class_names
(['fruit'], ('fruit',))
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from curate.errors import VocabularyError
from curate.frame import (
    ERROR,
    LABEL_NAMES,
    LABELS,
    LINE,
    WARN,
    concat_findings,
    empty_findings,
    findings_for,
)
from curate.io import strict_json
from curate.options import Param, parse_options

PARAMS = (
    Param("vocabulary", str),
    Param("id", str, "id"),
    Param("name", str, "name"),
    Param("parent", str, None, nullable=True),
    Param("parent_sep", str, "|"),
    Param("level", str, "none", choices=("none", "top")),
    Param("delimiter", str, None, nullable=True),
)


@dataclass(frozen=True)
class Vocabulary:
    """id -> the names a label with that id becomes (one name, or its top-level ancestors' names)."""

    targets: Mapping[str, tuple[str, ...]]
    class_names: tuple[str, ...]  # every name a label can become, sorted

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any], base_dir: Path | None = None, where: str = "") -> Vocabulary:
        """Build from a pipeline's ``labels:`` section (paths relative to ``base_dir``)."""
        opts = parse_options("labels", mapping, PARAMS, where)
        path = Path(opts["vocabulary"]).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        rows = _read_rows(path, opts)
        try:
            return cls.from_rows(rows, level=opts["level"], parent_sep=opts["parent_sep"])
        except VocabularyError as exc:
            raise VocabularyError(f"{path}: {exc}") from None

    @classmethod
    def from_rows(
        cls, rows: Iterable[tuple[str, str, str | None]], *, level: str = "none", parent_sep: str = "|"
    ) -> Vocabulary:
        """Build from ``(id, name, parents)`` triples; ``parents`` is ``parent_sep``-separated or None."""
        names: dict[str, str] = {}
        parents: dict[str, tuple[str, ...]] = {}
        for raw_id, name, parent in rows:
            key = str(raw_id).strip()
            if not key:
                continue
            if key in names and names[key] != name:
                raise VocabularyError(f"id {key!r} has two names: {names[key]!r} and {name!r}")
            names[key] = str(name).strip()
            if not names[key]:
                raise VocabularyError(f"id {key!r} has an empty name")
            ups = tuple(p.strip() for p in str(parent or "").split(parent_sep) if p.strip() and p.strip() != key)
            parents[key] = ups
        if not names:
            raise VocabularyError("the vocabulary has no entries")
        if level == "none":
            targets = {k: (v,) for k, v in names.items()}
        else:
            tops = _top_ancestors(parents)
            missing = sorted({p for ps in parents.values() for p in ps if p not in names})
            if missing:
                raise VocabularyError(f"parent id {missing[0]!r} has no entry of its own ({len(missing)} such ids)")
            targets = {k: tuple(sorted({names[t] for t in tops[k]})) for k in names}
        classes = tuple(sorted({n for ns in targets.values() for n in ns}))
        return cls(targets, classes)

    def map_ids(self, ids: Iterable[str]) -> list[str]:
        """Names for ``ids`` (unknown ids are skipped), sorted and unique."""
        return sorted({n for i in ids for n in self.targets.get(i, ())})

    def map_frame(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Add ``label_names``; report ``unknown_label`` per unknown id and ``no_labels`` rows.

        One flat pass over every (row, label id): ids become integer codes of their target names
        (several for a roll-up to several top-level ancestors), ``row * classes + code`` sorts and
        de-duplicates each row's names at once, and the lists are rebuilt from offsets.
        """
        ids = list(self.targets)
        code_of = {name: i for i, name in enumerate(self.class_names)}
        per_id = [sorted(code_of[n] for n in self.targets[i]) for i in ids]
        counts = np.fromiter((len(c) for c in per_id), dtype=np.int64, count=len(ids))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        all_codes = np.fromiter((c for cs in per_id for c in cs), dtype=np.int64, count=int(counts.sum()))

        lengths = frame[LABELS].list.len().fill_null(0).to_numpy()
        flat = pl.DataFrame({
            "_row": np.repeat(np.arange(frame.height, dtype=np.int64), lengths),
            "_id": frame.select(pl.col(LABELS).list.explode(keep_nulls=False, empty_as_null=False)).to_series(),
        }).with_columns(pl.col("_id").replace_strict(pl.Series(ids, dtype=pl.String),
                                                     pl.Series(np.arange(len(ids), dtype=np.int64)), default=None)
                        .alias("_ix"))
        unknown = (
            flat.filter(pl.col("_ix").is_null() & pl.col("_id").is_not_null())
            .join(frame.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("_row"), LINE, "id"), on="_row")
        )
        known = flat.select("_row", "_ix").drop_nulls()
        rows, ix = known["_row"].to_numpy(), known["_ix"].to_numpy()
        fan = counts[ix]  # names per id occurrence (1 unless an id rolls up to several domains)
        if fan.size and (fan != 1).any():
            first = np.repeat(np.cumsum(fan) - fan, fan)
            codes = all_codes[np.repeat(starts[ix], fan) + np.arange(int(fan.sum())) - first]
            rows = np.repeat(rows, fan)
        else:
            codes = all_codes[starts[ix]]
        width = max(len(self.class_names), 1)
        keys = pl.Series(rows * width + codes).sort().to_numpy()
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if keys.size else keys
        names = pl.Series(self.class_names, dtype=pl.String).gather(keys % width)
        out = frame.with_columns(lists_from_rows(pl.Series(keys // width), names, frame.height).alias(LABEL_NAMES))
        return out, concat_findings([
            findings_for(unknown, rule="unknown_label", severity=WARN, field=LABELS, value=pl.col("_id"),
                         message=pl.format("label id '{}' is not in the vocabulary", pl.col("_id"))),
            _no_labels(out),
        ])


def lists_from_rows(rows: pl.Series, values: pl.Series, height: int) -> pl.Series:
    """Gather ``values`` (sorted by ``rows``) into one list per row ``0..height-1`` in a single pass.

    >>> lists_from_rows(pl.Series([0, 0, 2]), pl.Series(["a", "b", "c"]), 3).to_list()
    [['a', 'b'], [], ['c']]
    """
    counts = np.bincount(rows.to_numpy(), minlength=height) if rows.len() else np.zeros(height, np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    array = pa.LargeListArray.from_arrays(pa.array(offsets), values.cast(pl.String).to_arrow().cast(pa.large_string()))
    return pl.Series(array).cast(pl.List(pl.String))


def identity_labels(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Without a vocabulary the label ids are the names: sorted, unique, blanks dropped."""
    out = frame.with_columns(
        pl.col(LABELS).list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element() != ""))
        .list.unique().list.sort().alias(LABEL_NAMES)
    )
    return out, concat_findings([_untidy_labels(frame), _no_labels(out)])


def _untidy_labels(frame: pl.DataFrame) -> pl.DataFrame:
    """``empty_label`` for a blank label id (dropped), ``label_whitespace`` for one with
    surrounding whitespace (trimmed): warnings, so nothing changes silently."""
    labels = frame[LABELS]
    flat = labels.explode()  # one null stands for an empty or null list
    stripped = flat.str.strip_chars()
    empty, padded = (stripped == "").fill_null(False), (stripped != flat).fill_null(False) & (stripped != "").fill_null(False)
    if not (empty.any() or padded.any()):
        return empty_findings()
    rows = np.repeat(np.arange(frame.height), labels.list.len().fill_null(0).clip(1).to_numpy())
    found = []
    for mask, rule, message in ((empty, "empty_label", pl.lit("label id '' is empty; it is dropped")),
                                (padded, "label_whitespace",
                                 pl.format("label id '{}' has surrounding whitespace; read as '{}'", "_raw", "_stripped"))):
        picked = mask.arg_true()
        if not len(picked):
            continue
        hits = frame.select(LINE, "id").gather(rows[picked.to_numpy()]).with_columns(
            flat.gather(picked).alias("_raw"), stripped.gather(picked).alias("_stripped"))
        found.append(findings_for(hits, rule=rule, severity=WARN, field=LABELS, value=pl.col("_raw"), message=message))
    return concat_findings(found)


def _no_labels(frame: pl.DataFrame) -> pl.DataFrame:
    empty = frame.filter(pl.col(LABEL_NAMES).list.len() == 0)
    return findings_for(empty, rule="no_labels", severity=ERROR, field=LABELS,
                        value=pl.col(LABELS).list.join(","),
                        message="no usable label is left after mapping")


def _top_ancestors(parents: Mapping[str, tuple[str, ...]]) -> dict[str, frozenset[str]]:
    tops: dict[str, frozenset[str]] = {}
    for start in parents:
        stack, seen, found = [start], set(), set()
        while stack:
            node = stack.pop()
            if node in seen:
                continue
            seen.add(node)
            ups = [p for p in parents.get(node, ()) if p in parents]
            if not ups:
                found.add(node)
            stack.extend(ups)
        tops[start] = frozenset(found)
    return tops


def _read_rows(path: Path, opts: Mapping[str, Any]) -> list[tuple[str, str, str | None]]:
    if not path.exists():
        raise VocabularyError(f"{path}: no such vocabulary file")
    suffix = path.suffix.lower()
    text = _utf8_text(path)
    if suffix == ".json":
        try:
            data = strict_json.loads(text)
        except strict_json.JsonProblem as exc:
            raise VocabularyError(f"{path} {exc}") from None
        if isinstance(data, dict):
            if all(isinstance(v, str) for v in data.values()):
                return [(k, v, None) for k, v in data.items()]
            if all(isinstance(v, dict) for v in data.values()):  # {"id": {"en": name, ...}}
                return [(k, _name_of(v, opts["name"], path, k), _parent_of(v, opts)) for k, v in data.items()]
        if isinstance(data, list) and all(isinstance(v, dict) for v in data):
            return [(str(_need(v, opts["id"], path, i)), _name_of(v, opts["name"], path, i), _parent_of(v, opts))
                    for i, v in enumerate(data, 1)]
        raise VocabularyError(f"{path}: expected {{id: name}}, {{id: {{...}}}} or a list of objects")
    separator = opts["delimiter"] or ("\t" if suffix in (".tsv", ".tab") else ",")
    if len(separator) != 1:
        raise VocabularyError(f"{path}: labels.delimiter must be one character, got {separator!r}")
    try:
        table = pl.read_csv(io.BytesIO(text.encode()), separator=separator, infer_schema=False, quote_char='"')
    except pl.exceptions.PolarsError as exc:
        raise VocabularyError(f"{path}: cannot read ({' '.join(str(exc).split())})") from None
    for key in ("id", "name") + (("parent",) if opts["parent"] else ()):
        if opts[key] not in table.columns:
            raise VocabularyError(
                f"{path}: no column {opts[key]!r} (labels.{key}); columns: {', '.join(table.columns)}")
    parent = table[opts["parent"]] if opts["parent"] else [None] * table.height
    return list(zip(table[opts["id"]], table[opts["name"]].fill_null(""), parent, strict=True))


def _utf8_text(path: Path) -> str:
    """The file's text (a UTF-8 byte-order mark dropped); invalid UTF-8 is an error naming the line."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise VocabularyError(f"{path}: line {line} is not valid UTF-8 (byte {exc.start})") from None


def _need(obj: Mapping, key: str, path: Path, where: object) -> Any:
    if key not in obj:
        raise VocabularyError(f"{path}: entry {where} has no {key!r}")
    return obj[key]


def _name_of(obj: Mapping, key: str, path: Path, where: object) -> str:
    return str(_need(obj, key, path, where))


def _parent_of(obj: Mapping, opts: Mapping[str, Any]) -> str | None:
    value = obj.get(opts["parent"]) if opts["parent"] else None
    if isinstance(value, list):
        return opts["parent_sep"].join(str(v) for v in value)
    return None if value is None else str(value)
