"""Prompt templates: Jinja2 in a sandbox with strict undefined, rendered over whole columns.

A record's own text is inserted as data and never evaluated as a template. Templates made only of
literal text and ``{{ field }}`` placeholders over string columns compile to one polars
``concat_str`` (no Python loop); anything richer (filters, loops, conditions) renders row by row.

>>> frame = pl.DataFrame({"text": ["{{ 7*7 }} is data"], "id": ["a"]})
>>> render_column("Classify: {{ text }}", frame, {"label_names": ["x"]}).to_list()
['Classify: {{ 7*7 }} is data']
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import polars as pl
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes

from curate.errors import ConfigError
from curate.export.template_limits import INTERNAL_NAMES, BoundedEnvironment, render_bounded


@lru_cache(maxsize=1)
def environment() -> BoundedEnvironment:
    """The sandbox, with every render's loops, calls and output bounded (:mod:`.template_limits`)."""
    return BoundedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def check_template(source: str, available: set[str], what: str) -> None:
    """Fail before any work if ``source`` does not parse or names a field that does not exist."""
    try:
        parsed = environment().parse(source)
    except TemplateSyntaxError as exc:
        raise ConfigError(f"{what}: template syntax error at line {exc.lineno}: {exc.message}") from None
    missing = sorted(meta.find_undeclared_variables(parsed) - available - INTERNAL_NAMES)
    if missing:
        raise ConfigError(
            f"{what}: the template uses {{{{ {missing[0]} }}}}, which is not a field; "
            f"available: {', '.join(sorted(available))}"
        )


def render_once(source: str, context: Mapping[str, Any], what: str) -> str:
    """Render a template once (e.g. the developer prompt)."""
    check_template(source, set(context), what)
    return render_bounded(environment(), source, context, what)


def render_column(source: str, frame: pl.DataFrame, constants: Mapping[str, Any]) -> pl.Series:
    """Render ``source`` for every row of ``frame`` (columns are the variables, plus ``constants``)."""
    check_template(source, set(frame.columns) | set(constants), "user template")
    parts = _simple_parts(source)
    if parts is not None and _fast_ok(parts, frame, constants):
        exprs = [pl.lit(p) if kind == "text" else (pl.col(p) if p in frame.columns else pl.lit(str(constants[p])))
                 for kind, p in parts]
        if not exprs:
            return pl.Series("content", [""] * frame.height, dtype=pl.String)
        return frame.select(pl.concat_str(exprs).alias("content")).to_series()
    template = environment().from_string(source)
    rendered = [render_bounded(environment(), template, {**constants, **row}, "user template")
                for row in frame.iter_rows(named=True)]
    return pl.Series("content", rendered, dtype=pl.String)


def _simple_parts(source: str) -> list[tuple[str, str]] | None:
    """The template as [("text", literal) | ("var", name)], or None if it is not that simple."""
    body = environment().parse(source).body
    parts: list[tuple[str, str]] = []
    for node in body:
        if not isinstance(node, nodes.Output):
            return None
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                parts.append(("text", child.data))
            elif isinstance(child, nodes.Name):
                parts.append(("var", child.name))
            else:
                return None
    return parts


def _fast_ok(parts: list[tuple[str, str]], frame: pl.DataFrame, constants: Mapping[str, Any]) -> bool:
    for kind, name in parts:
        if kind != "var":
            continue
        if name in frame.columns:
            if frame.schema[name] != pl.String() or frame[name].null_count():
                return False
        elif not isinstance(constants.get(name), str):
            return False
    return True
