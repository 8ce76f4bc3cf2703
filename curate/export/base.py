"""What every export target receives and how targets register.

A target is a small class over the same curated data (:class:`ExportBundle`). Targets register by
subclassing :class:`ExportTarget` with a ``name``; the pipeline picks one with ``export.target``.

Each split frame in a bundle has these columns, in this order:

- ``id`` (String)
- ``messages`` (List(Struct{role: String, content: String})): the full rendered prompt,
  ending with a ``user`` message
- ``reference_answer`` (List(String)): the sorted label names
- passthrough fields the user listed (any dtype)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from curate.errors import ConfigError
from curate.options import Param, parse_options

SPLIT_FILES = {"train": "train.jsonl", "valid": "valid.jsonl", "valid_production": "valid_production.jsonl"}


@dataclass(frozen=True)
class ExportBundle:
    """The curated data every target writes from."""

    splits: dict[str, pl.DataFrame]  # "train", "valid" and optionally "valid_production"
    label_names: tuple[str, ...]  # every class name the answer may contain, sorted
    response_format: dict[str, Any]  # chat-style {"type": "json_schema", "json_schema": {...}}
    answer_key: str = "labels"  # key of the answer object that holds the label list
    grader: dict[str, Any] | None = None  # platform grader JSON, when configured
    developer_prompt: str = ""
    user_template: str = ""
    passthrough: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)  # target-specific export options


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

