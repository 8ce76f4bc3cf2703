"""``single_label``: exactly one class per row (``labels: {single: true}``), e.g. intent detection.

The reference is one name (a string), the response format a single enum string, and a row that
carries several labels after mapping is an error (``multiple_labels``).

>>> kind = SingleLabel()
>>> frame = pl.DataFrame({"line": [1, 2], "id": ["a", "b"], "labels": [["x"], ["x", "y"]]})
>>> out, found = kind.prepare(frame)
>>> kind.references(out)[0].to_list(), found["rule"].to_list()
(['x', 'x'], ['multiple_labels'])
"""

from __future__ import annotations

from typing import Any, ClassVar

import polars as pl

from curate.errors import ConfigError
from curate.frame import ERROR, LABEL_NAMES, concat_findings, findings_for
from curate.kinds.base import json_literal, one_property
from curate.kinds.labels import Labels


class SingleLabel(Labels):
    """One label name per row."""

    name = "single_label"
    default_answer_key: ClassVar[str] = "label"
    reference_is_json: ClassVar[bool] = False  # one name
    scalar_labels: ClassVar[bool] = True  # a plain string (a CSV column) is one label

    def __init__(self, *args: Any, **options: Any) -> None:
        super().__init__(*args, **options)
        if self.allow_empty:
            raise ConfigError(f"{self.where}labels.single and labels.allow_empty cannot be combined: a "
                              "single-label task needs one class per row (add a class such as 'none')")

    @property
    def schema_stages(self) -> dict[str, str]:
        return {"records": "records", "curated": "curated", "export": "export_open"}

    def prepare(self, frame: pl.DataFrame, categories: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        out, found = super().prepare(frame, categories)
        several = out.filter(pl.col(LABEL_NAMES).list.len() > 1)
        extra = findings_for(several, rule="multiple_labels", severity=ERROR, field="labels",
                             value=pl.col(LABEL_NAMES).list.join(","),
                             message=pl.format("a single-label task needs one label; this row has {}",
                                               pl.col(LABEL_NAMES).list.len()))
        return out, concat_findings([found, extra])

    def response_schema(self, answer_key: str, class_names: tuple[str, ...]) -> dict[str, Any] | None:
        return one_property(answer_key, {"type": "string", "enum": sorted(set(class_names))})

    def references(self, frame: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        reference = frame[LABEL_NAMES].list.first().alias("reference_answer")
        return reference, pl.select(json_literal(pl.lit(reference))).to_series().alias("reference_json")
