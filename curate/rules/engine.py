"""Evaluate rules on a record frame: all row rules in one ``select``, then each dataset rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import polars as pl

from curate.frame import ID, LINE, as_findings, concat_findings, empty_findings
from curate.rules.base import DatasetRule, Rule, RowRule
from curate.rules.workspace import Workspace

if TYPE_CHECKING:
    from curate.rules import RuleContext

VALUE_CHARS = 80


def _short(expr: pl.Expr) -> pl.Expr:
    s = expr.cast(pl.String)
    return pl.when(s.str.len_chars() > VALUE_CHARS).then(s.str.slice(0, VALUE_CHARS - 1) + "…").otherwise(s)


def row_findings(ws: Workspace, rules: Sequence[RowRule], context: RuleContext) -> pl.DataFrame:
    """Findings of every row rule, computed in one pass over the frame."""
    if not rules or ws.height == 0:
        return empty_findings()
    exprs: list[pl.Expr] = [pl.col(LINE), pl.col(ID)]
    for i, rule in enumerate(rules):
        fail = (~rule.passes(context)).fill_null(False)
        exprs.append(fail.alias(f"f{i}"))
        value = rule.value(context)
        if value is not None:
            exprs.append(pl.when(fail).then(_short(value)).alias(f"v{i}"))
        message = rule.message_expr(context)
        if isinstance(message, pl.Expr):
            exprs.append(pl.when(fail).then(message).alias(f"m{i}"))
    wide = ws.frame.select(exprs)
    parts = []
    for i, rule in enumerate(rules):
        hit = wide.filter(pl.col(f"f{i}"))
        if hit.height == 0:
            continue
        message = rule.message_expr(context)
        parts.append(
            as_findings(
                hit.select(
                    pl.col(LINE),
                    pl.col(ID),
                    pl.lit(rule.name).alias("rule"),
                    pl.lit(rule.severity).alias("severity"),
                    pl.lit(rule.field, dtype=pl.String).alias("field"),
                    (pl.col(f"v{i}") if f"v{i}" in wide.columns else pl.lit(None, dtype=pl.String)).alias("value"),
                    (pl.col(f"m{i}") if isinstance(message, pl.Expr) else pl.lit(message)).alias("message"),
                )
            )
        )
    return concat_findings(parts)


def run_rules(frame: pl.DataFrame, rules: Sequence[Rule], context: RuleContext) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(findings, groups)`` of the enabled ``rules`` on ``frame``."""
    ws = Workspace(frame)
    enabled = [r for r in rules if r.enabled]
    row = [r for r in enabled if isinstance(r, RowRule)]
    parts = [row_findings(ws, row, context)]
    for rule in enabled:
        if isinstance(rule, DatasetRule) and ws.height:
            found = rule.evaluate(ws.frame, context, ws)
            parts.append(found.with_columns(_short(pl.col("value")).alias("value")))
    findings = concat_findings(parts)
    return findings, ws.groups()
