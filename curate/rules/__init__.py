"""Quality and conflict rules (placeholder engine: exact duplicates and empty text).

The rules issue replaces this module with the full engine; the pipeline only relies on
:func:`evaluate_rules` and :class:`RuleResult`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from curate.frame import ERROR, GROUPS_SCHEMA, LABEL_NAMES, TEXT, concat_findings, findings_for


@dataclass(frozen=True)
class RuleContext:
    """What rules may know beyond the frame."""

    label_names: tuple[str, ...] | None = None
    response_format: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleResult:
    findings: pl.DataFrame
    groups: pl.DataFrame


def evaluate_rules(
    frame: pl.DataFrame,
    packs: Sequence[str | dict[str, Any]] = ("default",),
    *,
    base_dir: Path | None = None,
    context: RuleContext | None = None,
) -> RuleResult:
    empty = frame.filter(pl.col(TEXT).str.strip_chars().str.len_chars() == 0)
    dup = frame.filter(pl.struct(TEXT, LABEL_NAMES).is_duplicated()).filter(
        ~pl.struct(TEXT, LABEL_NAMES).is_first_distinct()
    )
    findings = concat_findings(
        [
            findings_for(empty, rule="empty_text", severity=ERROR, field=TEXT, message="text is empty"),
            findings_for(dup, rule="duplicate", severity=ERROR, field=TEXT,
                         message="same text and labels as an earlier row"),
        ]
    )
    return RuleResult(findings, pl.DataFrame(schema=GROUPS_SCHEMA))
