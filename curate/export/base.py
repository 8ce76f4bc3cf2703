"""What every export target receives and how targets register.

A target is a small class over the same curated data (:class:`ExportBundle`). Targets register by
subclassing :class:`ExportTarget` with a ``name``; the pipeline picks one with ``export.target``.

Each split frame in a bundle has these columns, in this order:

- ``id`` (String)
- ``messages`` (List(Struct{role: String, content: String})): the full rendered prompt,
  ending with a ``user`` message
- ``reference_answer``: the reference, typed by the task kind (:mod:`curate.kinds`): List(String)
  of sorted label names for ``labels``; String for ``single_label``, ``text`` and ``math``;
  Float64 for ``number``; String holding canonical JSON for ``json``
- passthrough fields the user listed (any dtype)
- ``reference_json`` (String): the reference as a JSON literal (``"Pneumonia"``, ``1000``,
  ``{"a":1}``, ``["x","y"]``), to splice verbatim into JSON lines or use as a string (verl's
  ``ground_truth``). It is not an item field: :meth:`ExportBundle.items` leaves it out, and
  :func:`curate.export.openai_rft.write_jsonl` splices it in place of ``reference_answer`` for
  kinds whose reference is a number or a JSON value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl

from curate.errors import ConfigError
from curate.options import Param, parse_options

if TYPE_CHECKING:
    from curate.kinds import Kind

SPLIT_FILES = {"train": "train.jsonl", "valid": "valid.jsonl", "valid_production": "valid_production.jsonl"}
REFERENCE_JSON = "reference_json"


def _labels_kind() -> Kind:
    from curate.kinds import get_kind

    return get_kind("labels")


@dataclass(frozen=True)
class ExportBundle:
    """The curated data every target writes from."""

    splits: dict[str, pl.DataFrame]  # "train", "valid" and optionally "valid_production"
    label_names: tuple[str, ...]  # every class name the answer may contain, sorted
    response_format: dict[str, Any] | None  # chat-style {"type": "json_schema", ...}; None: plain text
    answer_key: str = "labels"  # key of the answer object that holds the answer
    grader: dict[str, Any] | None = None  # platform grader JSON, when configured
    developer_prompt: str = ""
    user_template: str = ""
    passthrough: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)  # target-specific export options
    kind: Kind = field(default_factory=_labels_kind)  # the task kind (curate.kinds)
    engine: Any = None  # the run's engine (curate.engine): serialises JSON lines (Engine.write_jsonl); None: here

    def items(self, split: str) -> pl.DataFrame:
        """The item fields of a split's rows (everything but ``reference_json``)."""
        return self.splits[split].drop(REFERENCE_JSON, strict=False)

    def reference_json(self, split: str) -> pl.Series:
        """The references of a split as JSON literals (computed when a hand-built frame lacks them)."""
        frame = self.splits[split]
        if REFERENCE_JSON in frame.columns:
            return frame[REFERENCE_JSON]
        from curate.kinds.base import json_literal

        return frame.select(json_literal(pl.col("reference_answer")).alias(REFERENCE_JSON)).to_series()

    def spliced(self, split: str) -> pl.Series | None:
        """``reference_json`` of a split when JSON writers must splice it (numbers, JSON values)."""
        frame = self.splits[split]
        return frame[REFERENCE_JSON] if self.kind.splice_reference and REFERENCE_JSON in frame.columns else None


class ExportTarget:
    """Base class: subclasses set ``name`` and implement :meth:`write` (and :meth:`lint`)."""

    name: ClassVar[str] = ""
    registry: ClassVar[dict[str, type[ExportTarget]]] = {}
    option_params: ClassVar[tuple[Param, ...]] = ()  # what ``export.options`` may hold
    same_file: ClassVar[str] = ""  # how this target takes openai-rft's files ("" when it does not)

    def notice(self) -> str:
        """A warning every export to this target carries (e.g. the platform is closing); "" for none."""
        return ""

    def notice_findings(self) -> pl.DataFrame:
        """:meth:`notice` as a dataset-level ``warn`` finding (rule ``target_notice``)."""
        from curate.export._chat import warn
        from curate.frame import empty_findings

        text = self.notice()
        return warn("target_notice", text) if text else empty_findings()

    def check_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The target's ``export.options`` checked against :attr:`option_params` (ConfigError if bad)."""
        return parse_options(f"export target {self.name}", options, self.option_params)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            ExportTarget.registry[cls.name] = cls

    def lint(self, bundle: ExportBundle) -> pl.DataFrame:
        """Findings (see :mod:`curate.frame`) for rows that break this target's constraints."""
        from curate.frame import empty_findings

        return empty_findings()

    def write(self, bundle: ExportBundle, folder: Path) -> list[str]:
        """Write this target's files into ``folder`` (a staging folder); return their names."""
        raise NotImplementedError

    # ``curate check`` on this target's own output: which files hold its rows, and how a row reads
    # as an RFT row (``messages`` ending with the user message, ``reference_answer``, other keys)
    data_files: ClassVar[tuple[str, ...]] = ("train.jsonl", "valid.jsonl", "valid_production.jsonl")
    rows_are_rft: ClassVar[bool] = True  # rows are RFT rows already: checked as they are

    def rft_view(self, rows: pl.DataFrame, reading: Any) -> pl.Expr:
        """The rows of one of :attr:`data_files` as RFT rows (only when not :attr:`rows_are_rft`):
        an expression over ``rows`` (the file read into a frame, see :mod:`curate.check.view_exprs`)
        giving each row's RFT row as one JSON line; ``reading`` (:class:`curate.check.views.Reading`)
        says whether a reference held as a string is JSON (the task kind's answer). Raises
        ``NoView`` for a file it cannot take; then :meth:`rft_row` converts it row by row, with the
        same result."""
        from curate.check.view_exprs import NoView

        raise NoView(f"{self.name} has no view expression")

    def rft_row(self, row: dict[str, Any], reading: Any) -> dict[str, Any]:
        """One parsed row of one of :attr:`data_files` as an RFT row (see :meth:`rft_view`)."""
        return row


def get_target(name: str) -> ExportTarget:
    """The registered export target called ``name``."""
    import curate.export  # noqa: F401  (registers the built-in targets)

    try:
        return ExportTarget.registry[name]()
    except KeyError:
        known = ", ".join(sorted(ExportTarget.registry))
        raise ConfigError(f"unknown export target {name!r}; known targets: {known}") from None


def target_names() -> list[str]:
    import curate.export  # noqa: F401

    return sorted(ExportTarget.registry)

