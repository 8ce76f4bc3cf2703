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

from collections.abc import Callable, Mapping, Sequence
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
    "data_relative_warnings",
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
    # a distributed engine's MinHash candidate pairs (curate.rules.lsh.CandidatePairs); None: local
    candidate_pairs: Callable[..., pl.DataFrame] | None = None
    # a distributed engine's connected components (same contract as curate.rules.minhash.components:
    # (n, a, b) -> per node the smallest node of its component); None: local
    components: Callable[..., Any] | None = None

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


RELATIVE_SHARE = 0.01  # a data-relative rule rejecting more than this share of rows is reported


def data_relative_warnings(
    findings: pl.DataFrame,
    packs: Sequence[str | Mapping[str, Any] | Rule],
    rows: int,
    *,
    base_dir: Path | None = None,
    share: float = RELATIVE_SHARE,
) -> list[dict[str, Any]]:
    """One entry per enabled data-relative rule (judging rows against statistics of the dataset,
    such as ``min_chars``' share of the median length) that rejected more than ``share`` of the
    ``rows``: ``{rule, rows, share, message}``, the message saying what the rule measured and how
    to relax it. The pipeline prints these and keeps them in the manifest and the report.

    >>> f = pl.DataFrame({"line": [1, 2], "rule": ["min_chars"] * 2, "severity": ["error"] * 2,
    ...                   "message": ["text is shorter than 26 characters"] * 2})
    >>> data_relative_warnings(f, ["default"], 100)[0]["message"]  # doctest: +ELLIPSIS
    'min_chars rejected 2 of 100 rows (2.0%), judged against this dataset: text is shorter than 26 characters; ...'
    """
    if rows <= 0 or findings.height == 0:
        return []
    relative = [r.name for r in resolve_rules(packs, base_dir) if r.enabled and r.data_relative]
    rejected = findings.filter(pl.col("rule").is_in(relative) & (pl.col("severity") == "error"))
    out = []
    for name in sorted(set(rejected["rule"])):
        hit = rejected.filter(pl.col("rule") == name)
        n = hit["line"].n_unique()
        if n <= share * rows:
            continue
        said = hit["message"].mode().sort().item(0)
        out.append({
            "rule": name, "rows": n, "share": round(n / rows, 4),
            "message": f"{name} rejected {n} of {rows} rows ({n / rows:.1%}), judged against this dataset: {said}; "
                       f"if such rows are normal in this domain, relax it (e.g. {{rule: {name}, severity: warn}})",
        })
    return out


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
