"""Quality and conflict rules: the rule engine, the registry of rules, and rule packs.

A rule is a small immutable object (:class:`Rule`): a stable snake_case ``name`` (the ledger's reason
code), a ``severity`` (``error`` rejects the row, ``warn`` keeps and reports it), checked
parameters and a message. Row rules are polars expressions evaluated together in one pass; dataset
rules aggregate over the frame (duplicates, near-duplicates, conflicts, id clashes). Packs are
YAML files under ``rules/`` (``default``, ``strict``, ...), see :mod:`curate.rules.packs`.

>>> import polars as pl
>>> frame = pl.DataFrame({"line": [1, 2], "id": ["a", "b"], "text": ["A fine sentence of text.", "  "],
...                       "labels": [["1"], ["2"]], "label_names": [["trade"], ["finance"]]})
>>> evaluate_rules(frame).findings.select("line", "rule", "severity").rows()
[(2, 'empty_text', 'error')]

Add a rule from Python by subclassing :class:`RowRule` (or :class:`DatasetRule`); it registers
under its ``name`` and packs can then refer to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from curate.frame import GROUPS_SCHEMA, concat_findings
from curate.kinds.base import Kind
from curate.rules.base import DatasetRule, RowRule, Rule, StageRule
from curate.rules.packs import dump_pack, resolve_rules, shipped_packs

__all__ = [
    "DatasetRule",
    "Rule",
    "RuleContext",
    "RuleResult",
    "RowRule",
    "StageRule",
    "dump_pack",
    "evaluate_rules",
    "registered_rules",
    "resolve_rules",
    "restate_findings",
    "shipped_packs",
]


@dataclass(frozen=True)
class RuleContext:
    """What rules may know beyond the frame."""

    label_names: tuple[str, ...] | None = None  # the run's label set (after mapping)
    response_format: dict[str, Any] | None = None  # chat-style json_schema response format
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. {"answer_key": "labels"}
    kind: Kind | None = None  # the task kind (curate.kinds); None: a label task

    @property
    def is_labels(self) -> bool:
        """True for label tasks (also when no kind is given)."""
        return self.kind is None or self.kind.is_labels


@dataclass(frozen=True)
class RuleResult:
    findings: pl.DataFrame  # curate.frame.FINDINGS_SCHEMA, sorted by line, rule, field
    groups: pl.DataFrame  # GROUPS_SCHEMA: one row per line in a duplicate/near-duplicate group


def registered_rules() -> dict[str, type[Rule]]:
    """Every registered rule class by name (built-ins and user subclasses)."""
    import curate.rules.catalog  # noqa: F401

    return dict(sorted(Rule.registry.items()))


def evaluate_rules(
    frame: pl.DataFrame,
    packs: Sequence[str | Mapping[str, Any] | Rule] = ("default",),
    *,
    base_dir: Path | None = None,
    context: RuleContext | None = None,
) -> RuleResult:
    """Run the rules that ``packs`` describe on a record frame (see :mod:`curate.frame`).

    ``packs`` mixes pack names, pack paths (relative to ``base_dir``), inline override mappings
    (``{rule: max_chars, max: 30000}``, ``{rule: near_duplicate, enabled: false}``) and
    :class:`Rule` instances.
    """
    from curate.rules.engine import run_rules

    rules = resolve_rules(packs, base_dir)
    findings, groups = run_rules(frame, rules, context or RuleContext())
    return RuleResult(findings, groups if groups.height else pl.DataFrame(schema=GROUPS_SCHEMA))


def restate_findings(
    findings: pl.DataFrame,
    packs: Sequence[str | Mapping[str, Any] | Rule] = ("default",),
    *,
    base_dir: Path | None = None,
) -> pl.DataFrame:
    """Apply a pack's severities (and ``enabled: false``) to findings other stages emitted
    (``unknown_label``, ``no_labels``, loader findings). Findings of unlisted rules pass unchanged.
    """
    rules = {r.name: r for r in resolve_rules(packs, base_dir) if isinstance(r, StageRule)}
    if not rules or findings.height == 0:
        return findings
    disabled = [n for n, r in rules.items() if not r.enabled]
    severity = {n: r.severity for n, r in rules.items()}
    out = findings.filter(~pl.col("rule").is_in(disabled)).with_columns(
        pl.col("rule").replace_strict(severity, default=pl.col("severity"), return_dtype=pl.String).alias("severity")
    )
    return concat_findings([out])
