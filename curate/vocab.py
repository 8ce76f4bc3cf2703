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

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from curate.errors import VocabularyError
from curate.frame import ERROR, LABEL_NAMES, LABELS, LINE, WARN, concat_findings, findings_for
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
        """Add ``label_names``; report ``unknown_label`` per unknown id and ``no_labels`` rows."""
        table = pl.DataFrame(
            {"_id": list(self.targets), "_names": [list(v) for v in self.targets.values()]},
            schema={"_id": pl.String, "_names": pl.List(pl.String)},
        )
        exploded = frame.select(LINE, pl.col(LABELS).alias("_id")).explode("_id").drop_nulls("_id")
        joined = exploded.join(table, on="_id", how="left")
        unknown = joined.filter(pl.col("_names").is_null()).join(frame.select(LINE, "id"), on=LINE)
        names = (
            joined.drop_nulls("_names").explode("_names")
            .group_by(LINE).agg(pl.col("_names").unique().sort().alias(LABEL_NAMES))
        )
        out = frame.join(names, on=LINE, how="left", maintain_order="left").with_columns(
            pl.col(LABEL_NAMES).fill_null(pl.lit([], dtype=pl.List(pl.String)))
        )
        return out, concat_findings([
            findings_for(unknown, rule="unknown_label", severity=WARN, field=LABELS, value=pl.col("_id"),
                         message=pl.format("label id '{}' is not in the vocabulary", pl.col("_id"))),
            _no_labels(out),
        ])


def identity_labels(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Without a vocabulary the label ids are the names: sorted, unique, blanks dropped."""
    out = frame.with_columns(
        pl.col(LABELS).list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element() != ""))
        .list.unique().list.sort().alias(LABEL_NAMES)
    )
    return out, _no_labels(out)


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
    if suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
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
    try:
        table = pl.read_csv(path, separator=separator, infer_schema=False, quote_char='"')
    except pl.exceptions.PolarsError as exc:
        raise VocabularyError(f"{path}: cannot read ({exc})") from None
    for key in ("id", "name") + (("parent",) if opts["parent"] else ()):
        if opts[key] not in table.columns:
            raise VocabularyError(
                f"{path}: no column {opts[key]!r} (labels.{key}); columns: {', '.join(table.columns)}")
    parent = table[opts["parent"]] if opts["parent"] else [None] * table.height
    return list(zip(table[opts["id"]], table[opts["name"]].fill_null(""), parent, strict=True))


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
