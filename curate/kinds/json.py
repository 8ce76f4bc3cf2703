"""``json``: a structured reference answer (an extraction, a record), any JSON value.

The canonical answer is compact JSON with sorted keys, which is also the comparison key; the
exported ``reference_answer`` is the value itself. ``answer.schema`` names a JSON-schema file:
every reference is checked against it (``answer_schema`` finding) and it becomes the answer's
schema in ``response_format.json``.

>>> answer, norm, problem = Json().canonical(pl.Series(['{"b": 1, "a": [1, 2]}', "{oops"]))
>>> answer.to_list(), problem.to_list()[1][:20]
(['{"a":[1,2],"b":1}', None], 'not valid JSON: Expe')
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from curate._deps import optional_import
from curate.errors import ConfigError
from curate.frame import ANSWER, ERROR, findings_for
from curate.kinds.base import AnswerKind, canonical_json, one_property, unique_map
from curate.options import Param
from curate.yaml_safe import read_json


def _read(text: str) -> tuple[str | None, str | None]:
    try:
        return canonical_json(json.loads(text)), None
    except ValueError as exc:
        return None, f"not valid JSON: {getattr(exc, 'msg', str(exc))}"


class Json(AnswerKind):
    """A JSON value; equal values (whatever the key order and spacing) are one answer."""

    name = "json"
    params = (Param("schema", str, None, nullable=True),)
    splice_reference: ClassVar[bool] = True
    reference_is_json: ClassVar[bool] = True  # canonical JSON text, whatever the value's type
    expected: ClassVar[str] = "a JSON value"

    def accepts_dtype(self, dtype: pl.DataType) -> bool:
        return True

    def accepts(self, value: Any) -> bool:
        return value is not None

    @cached_property
    def schema(self) -> dict[str, Any] | None:
        """The user's JSON schema of the answer (``answer.schema``), checked once."""
        if self.options["schema"] is None:
            return None
        path = Path(self.options["schema"]).expanduser()
        if self.base_dir is not None and not path.is_absolute():
            path = self.base_dir / path
        try:
            schema = read_json(path, "JSON schema file")
        except ConfigError as exc:
            raise ConfigError(f"{self.where}schema: {exc}") from None
        jsonschema = optional_import("jsonschema", "json", "answer.schema")
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ConfigError(f"{self.where}schema: {path} is not a valid JSON schema ({exc.message})") from None
        return schema

    def canonical(self, values: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
        answer, problem = unique_map(values.cast(pl.String), _read, (pl.String(), pl.String()))
        return answer, answer, problem

    def extra_findings(self, frame: pl.DataFrame) -> list[pl.DataFrame]:
        if self.schema is None:
            return []
        jsonschema = optional_import("jsonschema", "json", "answer.schema")
        validator = jsonschema.validators.validator_for(self.schema)(self.schema)

        def check(text: str) -> tuple[str | None]:
            error = jsonschema.exceptions.best_match(validator.iter_errors(json.loads(text)))
            if error is None:
                return (None,)
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            return (f"the answer does not fit {self.options['schema']} at {where}: {error.message}"[:300],)

        (problem,) = unique_map(frame[ANSWER], check, (pl.String(),))
        bad = frame.with_columns(problem.alias("_schema")).filter(pl.col("_schema").is_not_null())
        return [findings_for(bad, rule="answer_schema", severity=ERROR, field=self.field,
                             value=pl.col(ANSWER).str.slice(0, 80), message=pl.col("_schema"))]

    def response_schema(self, answer_key: str, class_names: tuple[str, ...]) -> dict[str, Any] | None:
        return one_property(answer_key, self.schema if self.schema is not None else {"type": "object"})

    def references(self, frame: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        text = frame[ANSWER]
        return text.alias("reference_answer"), text.alias("reference_json")
