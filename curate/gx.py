"""Optional great-expectations integration (``pip install 'curate[gx]'``).

For teams whose data platform already runs GX: the dataset contract (a stage schema from
``schemas/`` plus the row rules of a pack that GX can express) becomes an Expectation Suite, and a
curated frame is validated with it, producing GX's Data Docs. GX does not read polars, so the frame
is converted at this boundary only: list columns become ``|``-joined strings plus derived
``<column>__len`` (and ``label_names__outside``) columns, then a pandas frame.

curate's own rules stay the source of truth; this mirrors what GX can check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from curate._deps import optional_import

LIST_SEP = "|"


@dataclass(frozen=True)
class Expectation:
    """One GX expectation by class name and keyword arguments (plain data, no GX import)."""

    type: str
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class GxReport:
    success: bool
    results: pl.DataFrame  # expectation, column, success, unexpected_count
    docs_index: Path | None  # Data Docs index.html, when docs were built


def contract(
    stage: str = "curated",
    packs: Sequence[str | Mapping[str, Any]] = ("default",),
    label_names: Sequence[str] | None = None,
) -> list[Expectation]:
    """The expectations of a stage schema plus the pack's GX-expressible row rules.

    >>> [e.type for e in contract("curated", [])][:3]
    ['ExpectColumnToExist', 'ExpectColumnValuesToNotBeNull', 'ExpectColumnValuesToBeUnique']
    """
    from curate.rules import resolve_rules
    from curate.rules.text import CONTROL_PATTERN, MOJIBAKE_PATTERN
    from curate.schemas import read_schema

    out: list[Expectation] = []
    for name, col in read_schema(stage)["columns"].items():
        out.append(Expectation("ExpectColumnToExist", {"column": name}))
        if not col.get("nullable", False):
            out.append(Expectation("ExpectColumnValuesToNotBeNull", {"column": name}))
        if col.get("unique"):
            out.append(Expectation("ExpectColumnValuesToBeUnique", {"column": name}))
        for check, arg in (col.get("checks") or {}).items():
            if check == "greater_than_or_equal_to":
                out.append(Expectation("ExpectColumnValuesToBeBetween", {"column": name, "min_value": arg}))
            elif check == "str_length":
                out.append(Expectation("ExpectColumnValueLengthsToBeBetween", {"column": name, **arg}))
            elif check == "not_blank":
                out.append(Expectation("ExpectColumnValuesToNotMatchRegex", {"column": name, "regex": r"^\s*$"}))
            elif check == "list_min_length":
                out.append(Expectation("ExpectColumnValuesToBeBetween", {"column": f"{name}__len", "min_value": arg}))
    for rule in resolve_rules(packs):
        if not rule.enabled or rule.severity != "error":
            continue
        if rule.name == "max_chars":
            out.append(Expectation("ExpectColumnValueLengthsToBeBetween", {"column": "text", "max_value": rule.max}))
        elif rule.name == "control_chars":
            out.append(Expectation("ExpectColumnValuesToNotMatchRegex", {"column": "text", "regex": CONTROL_PATTERN}))
        elif rule.name == "mojibake":
            out.append(Expectation("ExpectColumnValuesToNotMatchRegex", {"column": "text", "regex": MOJIBAKE_PATTERN}))
        elif rule.name == "max_labels":
            out.append(Expectation("ExpectColumnValuesToBeBetween", {"column": "label_names__len", "max_value": rule.max}))
        elif rule.name == "label_outside_vocabulary" and label_names is not None:
            out.append(Expectation("ExpectColumnValuesToBeBetween", {"column": "label_names__outside", "max_value": 0}))
        elif rule.name == "duplicate":
            out.append(Expectation("ExpectCompoundColumnsToBeUnique", {"column_list": ["text", "label_names"]}))
    return out


def to_pandas(frame: pl.DataFrame, label_names: Sequence[str] | None = None) -> Any:
    """The GX boundary: list columns joined with ``|`` plus ``__len`` columns, as pandas."""
    extra = []
    lists = [c for c, t in frame.schema.items() if isinstance(t, pl.List)]
    for c in lists:
        extra.append(pl.col(c).list.len().alias(f"{c}__len"))
    if label_names is not None and "label_names" in frame.columns:
        extra.append(
            pl.col("label_names").list.eval(pl.element().filter(~pl.element().is_in(list(label_names)))).list.len()
            .alias("label_names__outside")
        )
    flat = frame.with_columns(extra).with_columns(
        [
            pl.col(c).list.eval(pl.element().cast(pl.String)).list.join(LIST_SEP)
            if not isinstance(frame.schema[c].inner, pl.Struct)  # type: ignore[union-attr]
            else pl.col(c).map_elements(lambda v: json.dumps(v.to_list() if hasattr(v, "to_list") else v), return_dtype=pl.String)
            for c in lists
        ]
    )
    return flat.to_pandas()


def expectation_suite(expectations: Sequence[Expectation], name: str = "curate_contract") -> Any:
    """A ``great_expectations.ExpectationSuite`` holding ``expectations``."""
    gx = optional_import("great_expectations", "gx")
    suite = gx.ExpectationSuite(name=name)
    for e in expectations:
        suite.add_expectation(getattr(gx.expectations, e.type)(**e.kwargs))
    return suite


def validate_with_gx(
    frame: pl.DataFrame,
    *,
    stage: str = "curated",
    packs: Sequence[str | Mapping[str, Any]] = ("default",),
    label_names: Sequence[str] | None = None,
    project_dir: Path,
    docs_dir: Path | None = None,
) -> GxReport:
    """Validate ``frame`` with the contract's suite in a file GX context under ``project_dir``;
    build Data Docs into ``docs_dir`` (default ``project_dir / "data_docs"``)."""
    import os

    # curate never phones home on your behalf: GX analytics stay off unless you set the variable
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    gx = optional_import("great_expectations", "gx")
    project_dir = Path(project_dir)
    docs_dir = Path(docs_dir) if docs_dir is not None else project_dir / "data_docs"
    ctx = gx.get_context(mode="file", project_root_dir=str(project_dir))
    if os.environ.get("GX_ANALYTICS_ENABLED", "").lower() in ("false", "0", ""):
        ctx.enable_analytics(False)
    try:  # progress bars are noise in a pipeline log
        ctx.variables.progress_bars = {"globally": False, "metric_calculations": False}
        ctx.variables.save()
    except Exception:  # pragma: no cover - older or newer GX without this knob
        pass
    source = ctx.data_sources.add_or_update_pandas("curate")
    asset = next((a for a in source.assets if a.name == stage), None) or source.add_dataframe_asset(stage)
    batch = next((b for b in asset.batch_definitions if b.name == "whole"), None) or asset.add_batch_definition_whole_dataframe("whole")
    suite = ctx.suites.add_or_update(expectation_suite(contract(stage, packs, label_names), name=f"curate_{stage}"))
    vd = ctx.validation_definitions.add_or_update(gx.ValidationDefinition(data=batch, suite=suite, name=f"curate_{stage}"))
    site = "curate_docs"
    if site not in (ctx.get_config().data_docs_sites or {}):
        ctx.add_data_docs_site(site_name=site, site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        })
    checkpoint = ctx.checkpoints.add_or_update(gx.Checkpoint(
        name=f"curate_{stage}", validation_definitions=[vd],
        actions=[gx.checkpoint.UpdateDataDocsAction(name="docs", site_names=[site])],
        result_format={"result_format": "SUMMARY"},
    ))
    run = checkpoint.run(batch_parameters={"dataframe": to_pandas(frame, label_names)})
    rows = []
    for result in run.run_results.values():
        for r in result.results:
            kwargs = r.expectation_config.kwargs
            rows.append({
                "expectation": r.expectation_config.type,
                "column": kwargs.get("column") or ",".join(kwargs.get("column_list", [])),
                "success": bool(r.success),
                "unexpected_count": (r.result or {}).get("unexpected_count"),
            })
    table = pl.DataFrame(rows, schema={"expectation": pl.String, "column": pl.String, "success": pl.Boolean,
                                       "unexpected_count": pl.Int64})
    index = docs_dir / "index.html"
    return GxReport(bool(run.success), table, index if index.exists() else None)
