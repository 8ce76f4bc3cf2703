"""``labels``: multi-label classification, the reference is the sorted set of label names.

The ``labels:`` section configures it: an optional vocabulary (``vocabulary``, ``id``, ``name``,
``parent``, ``level``, ...: see :mod:`curate.vocab`) and ``allow_empty: true`` (an empty set is a
valid answer, e.g. utterances with no intent; a missing or null label field then reads as ``[]``).
``single: true`` picks :mod:`curate.kinds.single_label` instead.

>>> kind = Labels()
>>> frame = pl.DataFrame({"line": [1], "id": ["a"], "labels": [["b", "a"]]})
>>> kind.prepare(frame)[0]["label_names"].to_list()
[['a', 'b']]
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

import polars as pl

from curate.frame import LABEL_NAMES, LABELS, LINE, sorted_lists
from curate.kinds.base import Kind, json_literal
from curate.options import Param
from curate.vocab import PARAMS as VOCAB_PARAMS
from curate.vocab import Vocabulary, identity_labels

PARAMS = (
    *(Param(p.name, p.kind, None, nullable=True) if p.name == "vocabulary" else p for p in VOCAB_PARAMS),
    Param("single", bool, False),
    Param("allow_empty", bool, False),
)


class Labels(Kind):
    """A set of label names per row (multi-label); the response format's enum is the class list."""

    name = "labels"
    is_labels = True
    params = PARAMS
    default_answer_key: ClassVar[str] = "labels"
    reference_is_json: ClassVar[bool] = True  # a list of names
    scalar_labels: ClassVar[bool] = False  # True: a plain string label is a one-element list

    @property
    def allow_empty(self) -> bool:
        return bool(self.options["allow_empty"])

    @property
    def schema_stages(self) -> dict[str, str]:
        curated = "curated_open" if self.allow_empty else "curated"
        return {"records": "records", "curated": curated, "export": "export"}

    @cached_property
    def vocabulary(self) -> Vocabulary | None:
        if self.options["vocabulary"] is None:
            return None
        vocab_options = {p.name: self.options[p.name] for p in VOCAB_PARAMS}
        return Vocabulary.from_config(vocab_options, self.base_dir, self.where)

    @property
    def class_names(self) -> tuple[str, ...] | None:
        return None if self.vocabulary is None else self.vocabulary.class_names

    def prepare(self, frame: pl.DataFrame, categories: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        vocab = self.vocabulary
        out, found = vocab.map_frame(frame) if vocab is not None else identity_labels(frame)
        if self.allow_empty and found.height:  # an empty set as given is an answer, not a problem
            given_empty = out.filter(pl.col(LABELS).list.len() == 0)[LINE]
            found = found.filter(~((pl.col("rule") == "no_labels") & pl.col(LINE).is_in(given_empty.implode())))
        return out, found

    def response_schema(self, answer_key: str, class_names: tuple[str, ...]) -> dict[str, Any] | None:
        from curate.export.response_format import answer_schema

        return answer_schema(class_names, answer_key)

    def references(self, frame: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        reference = sorted_lists(frame[LABEL_NAMES]).alias("reference_answer")
        return reference, pl.select(json_literal(pl.lit(reference))).to_series().alias("reference_json")

    def accepts_dtype(self, dtype: pl.DataType) -> bool:  # the loader checks label lists itself
        return True
