"""Evaluate rules on a record frame: all row rules in one ``select``, then each dataset rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import polars as pl

from curate.frame import GROUPS_SCHEMA, ID, LINE, TEXT, as_findings, concat_findings, empty_findings
from curate.rules.base import DatasetRule, RowRule, Rule
from curate.rules.workspace import Workspace

if TYPE_CHECKING:
    from curate.rules import RuleContext

VALUE_CHARS = 80


def _short(expr: pl.Expr) -> pl.Expr:
    s = expr.cast(pl.String)
    return pl.when(s.str.len_chars() > VALUE_CHARS).then(s.str.slice(0, VALUE_CHARS - 1) + "…").otherwise(s)


def row_findings(ws: Workspace, rules: Sequence[RowRule], context: RuleContext) -> pl.DataFrame:
    """Findings of every row rule: all checks in one pass over the frame, then values and
    messages for the failing rows only."""
    rules = [r for r in rules if r.applies(context)]
    if not rules or ws.height == 0:
        return empty_findings()
    frame = ws.frame
    depth = max(len(rule.stages(context)) for rule in rules)
    for k in range(depth):
        helpers: dict[str, pl.Expr] = {}
        for rule in rules:
            stages = rule.stages(context)
            if k < len(stages):
                helpers.update(stages[k])
        frame = frame.with_columns(**helpers)
    fails = _failures(frame, rules, context)
    flags = [f"f{i}" for i in range(len(rules))]
    failing = pl.any_horizontal(flags)
    mask = fails.select(failing)[:, 0]
    if not mask.any():
        return empty_findings()
    sub = frame.filter(mask).with_columns(fails.filter(mask).select(flags))
    parts = []
    for i, rule in enumerate(rules):
        hit = sub.filter(pl.col(f"f{i}"))
        if hit.height == 0:
            continue
        value = rule.value(context)
        message = rule.message_expr(context)
        parts.append(
            as_findings(
                hit.select(
                    pl.col(LINE),
                    pl.col(ID),
                    pl.lit(rule.name).alias("rule"),
                    pl.lit(rule.severity).alias("severity"),
                    pl.lit(rule.field, dtype=pl.String).alias("field"),
                    (pl.lit(None, dtype=pl.String) if value is None else _short(value)).alias("value"),
                    (message if isinstance(message, pl.Expr) else pl.lit(message)).alias("message"),
                )
            )
        )
    return concat_findings(parts)


def _failures(frame: pl.DataFrame, rules: Sequence[RowRule], context: RuleContext) -> pl.DataFrame:
    """``line`` and one boolean column ``f<i>`` per rule, true where the row fails it.

    Rules that declare a :meth:`~curate.rules.base.RowRule.candidates` pattern are evaluated only
    on the rows matching one combined regex: a single scan of the text instead of one per rule.
    """
    patterns = {i: rule.candidates(context) for i, rule in enumerate(rules)}
    screened = {i: p for i, p in patterns.items() if p}
    fail = {i: (~rule.passes(context)).fill_null(False) for i, rule in enumerate(rules)}
    fails = frame.select(pl.col(LINE), *[fail[i].alias(f"f{i}") for i in range(len(rules)) if i not in screened])
    if not screened:
        return fails
    maybe = _candidate_rows(frame[TEXT], [(p, rules[i].plain_passes) for i, p in screened.items()])
    hits = frame[maybe].select(*[fail[i].alias(f"f{i}") for i in screened])
    columns = {}
    for i in screened:
        column = pl.repeat(False, frame.height, dtype=pl.Boolean, eager=True).alias(f"f{i}")
        columns[f"f{i}"] = column.scatter(maybe, hits[f"f{i}"]) if maybe.len() else column
    return fails.with_columns(**columns).select(LINE, *[f"f{i}" for i in range(len(rules))])


def _candidate_rows(texts: pl.Series, patterns: list[tuple[str, bool]]) -> pl.Series:
    """Sorted positions of the texts matching any pattern; patterns flagged plain-safe are only
    searched in the texts that are not plain (:func:`curate.rules.textstats.not_plain`)."""
    from curate.rules.textstats import not_plain

    def matching(rows: pl.Series | None, found: list[str]) -> pl.Series:
        combined = "|".join(f"(?:{p})" for p in found)
        subset = texts if rows is None else texts.gather(rows)
        hit = subset.str.contains(combined).fill_null(False)
        return hit.arg_true() if rows is None else rows.filter(hit)

    anywhere = [p for p, safe in patterns if not safe]
    parts = [matching(None, anywhere)] if anywhere else []
    if len(anywhere) < len(patterns):
        parts.append(matching(not_plain(texts), [p for p, safe in patterns if safe]))
    return parts[0] if len(parts) == 1 else pl.concat(parts).unique().sort()


def run_rules(
    frame: pl.DataFrame,
    rules: Sequence[Rule],
    context: RuleContext,
    ws: Workspace | None = None,
    *,
    groups: bool = True,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``(findings, groups)`` of the enabled ``rules`` on ``frame`` (or on a prepared workspace)."""
    enabled = [r for r in rules if r.enabled and r.applies(context)]
    if not enabled and ws is None:
        return empty_findings(), pl.DataFrame(schema=GROUPS_SCHEMA)
    ws = ws or Workspace(frame, answers=not context.is_labels, candidates=context.candidate_pairs,
                         components=context.components)
    ws.near_plan = [c for r in enabled if isinstance(r, DatasetRule) and (c := r.near_config()) is not None]
    if ws.candidates is None:  # a workspace made by an engine: its candidate pairs from the context
        ws.candidates = context.candidate_pairs
    if ws.components is None:
        ws.components = context.components
    row = [r for r in enabled if isinstance(r, RowRule)]
    parts = [row_findings(ws, row, context)]
    for rule in enabled:
        if isinstance(rule, DatasetRule) and ws.height:
            found = rule.evaluate(ws.frame, context, ws)
            parts.append(found.with_columns(_short(pl.col("value")).alias("value")))
    findings = concat_findings(parts)
    return findings, ws.groups() if groups else pl.DataFrame(schema=GROUPS_SCHEMA)
