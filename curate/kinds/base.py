"""What a task kind is: one small object every stage asks instead of branching on the task's name.

A kind knows how to read and type-check the raw reference answer, its canonical value and the
normalised key duplicate and conflict rules group on, its export value (``reference_answer``,
``reference_json``), its response schema, the column selection stratifies on, and its default
grader. Subclassing :class:`Kind` with a ``name`` registers it (see :mod:`curate.kinds`).

Two families exist. **Label kinds** (``labels``, ``single_label``) read a list of label ids and
map them to ``label_names``; **answer kinds** (``text``, ``number``, ``json``, ``math``) read one
answer into ``answer`` (the canonical answer as text) and ``answer_norm`` (its comparison key, null
when unreadable), and take ``label_names`` from an optional category field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from curate.errors import ConfigError
from curate.frame import (
    ANSWER,
    ANSWER_NORM,
    ERROR,
    LABEL_NAMES,
    concat_findings,
    findings_for,
)
from curate.options import Param, parse_options


class Kind:
    """Base of every task kind. Constructors only store checked options (``Kind(**options)``)."""

    name: ClassVar[str] = ""
    is_labels: ClassVar[bool] = False
    params: ClassVar[tuple[Param, ...]] = ()  # options of the ``answer:`` (or ``labels:``) section
    default_answer_key: ClassVar[str] = "answer"  # key of the answer object in the response format
    splice_reference: ClassVar[bool] = False  # JSON writers splice ``reference_json`` verbatim
    # a reference held as one string (verl's ground_truth, Gemini's references, the json kind's
    # TRL column) is JSON text a reader decodes: the reference is not a string, or a JSON value
    reference_is_json: ClassVar[bool] = False
    registry: ClassVar[dict[str, type[Kind]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            Kind.registry[cls.name] = cls

    def __init__(self, base_dir: Path | None = None, where: str = "", **options: Any) -> None:
        self.options = parse_options(f"task kind {self.name}", options, self.params, where)
        self.base_dir = base_dir
        self.where = where

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"

    # -- stages ------------------------------------------------------------------------------
    @property
    def schema_stages(self) -> dict[str, str]:
        """The pandera schema (``schemas/<name>.yaml``) checked at each stage boundary."""
        return {"records": "records", "curated": "curated_open", "export": "export_open"}

    def prepare(self, frame: pl.DataFrame, categories: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The loaded frame with the kind's typed columns and ``label_names``, plus findings.

        ``categories``: a column whose values answer kinds take as ``label_names`` (what selection
        stratifies and balances on); label kinds ignore it.
        """
        raise NotImplementedError

    @property
    def class_names(self) -> tuple[str, ...] | None:
        """Every class an answer may take, when the kind knows them before reading the data."""
        return None

    def response_schema(self, answer_key: str, class_names: tuple[str, ...]) -> dict[str, Any] | None:
        """The strict JSON schema of the model's answer object (never values of open answers)."""
        raise NotImplementedError

    def references(self, frame: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        """``reference_answer`` (typed by kind) and ``reference_json`` (a JSON literal) of a split."""
        raise NotImplementedError

    def default_grader(self, answer_key: str) -> dict[str, Any]:
        """The grader a run gets when ``export.grader`` is omitted (:mod:`curate.graders.defaults`)."""
        from curate.graders import default_grader

        return default_grader(self.name, answer_key)

    # -- the raw answer in the loader -----------------------------------------------------------
    expected: ClassVar[str] = "a string"  # for wrong_type messages

    def accepts_dtype(self, dtype: pl.DataType) -> bool:
        """True when a column of ``dtype`` holds answers of this kind (else every value is wrong_type)."""
        return isinstance(dtype, pl.String | pl.Null) or dtype.is_numeric()

    def accepts(self, value: Any) -> bool:
        """True when a raw JSON value (from the source line) is an answer of this kind."""
        return isinstance(value, str) or (isinstance(value, int | float) and not isinstance(value, bool))


def response_format(schema: Mapping[str, Any] | None, name: str) -> dict[str, Any] | None:
    """Chat-style ``{"type": "json_schema", "json_schema": {name, strict, schema}}`` (None stays None)."""
    if schema is None:
        return None
    return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": dict(schema)}}


def one_property(answer_key: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    """A strict object schema with a single required property."""
    return {"type": "object", "properties": {answer_key: dict(schema)}, "required": [answer_key],
            "additionalProperties": False}


def json_literal(expr: pl.Expr) -> pl.Expr:
    """Each value as compact JSON text (strings quoted and escaped, lists as arrays).

    >>> pl.select(json_literal(pl.Series(["a\\"b", None]))).to_series().to_list()
    ['"a\\\\"b"', 'null']
    """
    return pl.struct(expr.alias("v")).struct.json_encode().str.slice(5).str.head(-1)


class AnswerKind(Kind):
    """An open answer: one value per row, read into ``answer`` and ``answer_norm``.

    Subclasses implement :meth:`canonical` over the answers as text; the rest is shared.
    """

    field: str = ANSWER  # the source path, for findings (set by the pipeline)

    def canonical(self, values: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
        """``(answer, answer_norm, problem)`` for answers given as text; ``problem`` is a message
        (null when the answer reads fine) and makes the row an ``unparseable_answer``."""
        raise NotImplementedError

    def prepare(self, frame: pl.DataFrame, categories: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        answer, norm, problem = self.canonical(frame[ANSWER])
        out = frame.with_columns(pl.col(ANSWER).alias("_raw"), answer.alias(ANSWER), norm.alias(ANSWER_NORM),
                                 problem.alias("_problem"))
        found = findings_for(out.filter(pl.col("_problem").is_not_null()), rule="unparseable_answer",
                             severity=ERROR, field=self.field, value=pl.col("_raw").str.slice(0, 80),
                             message=pl.col("_problem"))
        extra = self.extra_findings(out)
        out = out.drop("_raw", "_problem").with_columns(category_lists(out, categories).alias(LABEL_NAMES))
        return out, concat_findings([found, *extra])

    def extra_findings(self, frame: pl.DataFrame) -> list[pl.DataFrame]:
        return []

    def response_schema(self, answer_key: str, class_names: tuple[str, ...]) -> dict[str, Any] | None:
        return one_property(answer_key, {"type": "string"})

    def references(self, frame: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        answer = frame[ANSWER]
        return answer.alias("reference_answer"), pl.select(json_literal(pl.lit(answer))).to_series().alias("reference_json")


def unique_map(values: pl.Series, fn: Any, dtypes: tuple[pl.DataType, ...]) -> tuple[pl.Series, ...]:
    """Apply ``fn(text) -> tuple`` once per distinct non-null value; one Series per tuple element.

    >>> unique_map(pl.Series(["a", "b", "a", None]), lambda s: (s.upper(),), (pl.String(),))[0].to_list()
    ['A', 'B', 'A', None]
    """
    distinct = values.drop_nulls().unique(maintain_order=True)
    results = [fn(v) for v in distinct.to_list()]
    columns = {f"r{i}": pl.Series([r[i] for r in results], dtype=d) for i, d in enumerate(dtypes)}
    table = pl.DataFrame({"k": distinct, **columns})
    joined = pl.DataFrame({"k": values}).join(table, on="k", how="left", maintain_order="left", nulls_equal=False)
    return tuple(joined[f"r{i}"] for i in range(len(dtypes)))


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the canonical text of a JSON value."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def category_lists(frame: pl.DataFrame, column: str | None) -> pl.Series:
    """The values of ``column`` as sorted, unique lists of strings (a scalar becomes one value,
    null an empty list); empty lists when ``column`` is None.

    >>> category_lists(pl.DataFrame({"c": ["b", None]}), "c").to_list()
    [['b'], []]
    """
    if column is None:
        return pl.Series(LABEL_NAMES, [[]] * frame.height, dtype=pl.List(pl.String))
    values = frame[column]
    inner = values.dtype.inner if isinstance(values.dtype, pl.List) else values.dtype
    if isinstance(inner, pl.Struct | pl.List | pl.Array):
        raise ConfigError(f"the category field {column!r} holds objects or nested lists; split.stratify and "
                          "balance.by need a field of strings, numbers or a list of them")
    if not isinstance(values.dtype, pl.List):
        values = pl.select(pl.when(pl.lit(values).is_null()).then(pl.lit([], dtype=pl.List(pl.String)))
                           .otherwise(pl.concat_list(pl.lit(values).cast(pl.String)))).to_series()
    lists = values.cast(pl.List(pl.String)).fill_null([])
    return pl.select(pl.lit(lists).list.drop_nulls().list.unique().list.sort()).to_series().alias(LABEL_NAMES)
