"""``report.html``: counts, label distributions before and after, and rule findings with examples.

Everything from the data is escaped; the page has no scripts and loads nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

import polars as pl

from curate.report.svg import grouped_bars

EXAMPLES_PER_RULE = 5
MAX_CHART_LABELS = 40  # more classes than this: the largest in the chart, all in the table
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1000px;color:#222;line-height:1.4}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}td,th{border:1px solid #ddd;padding:.25rem .5rem;
text-align:left;vertical-align:top}th{background:#f5f5f5}.num{text-align:right}.error{color:#b00020}
.warn{color:#9a6700}code{background:#f5f5f5;padding:0 .2rem}details{margin:.3rem 0}
"""


def render_report(
    manifest: Mapping[str, Any], findings: pl.DataFrame, label_series: Mapping[str, Mapping[str, int]],
    *, title: str = "curate report", examples: int = EXAMPLES_PER_RULE,
) -> str:
    """The report page as a string (``title`` and ``examples`` per rule: the ``report:`` section)."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>curate {escape(str(manifest.get('curate_version', '')))} &middot; seed "
        f"{escape(str(manifest.get('seed')))} &middot; {manifest['input_rows']} input rows</p>",
        _counts(manifest),
        *([_inputs(manifest["source"]["files"])] if (manifest.get("source") or {}).get("files") else []),
        _rule_warnings(manifest),
        _labels(label_series),
        _quality(manifest),
        _difficulty(manifest),
        _export(manifest),
        _findings(findings, examples),
        _files(manifest),
        "</body></html>\n",
    ]
    return "\n".join(parts)


def _inputs(files: list[Mapping[str, Any]]) -> str:
    """A source of several inputs: where each file's rows went (``manifest["source"]["files"]``)."""
    kinds = list(dict.fromkeys(d for f in files for d, n in f["counts"].items() if n))
    head = "".join(f"<th>{escape(k)}</th>" for k in kinds)
    rows = "".join(f"<tr><td><code>{escape(f['file'])}</code></td><td class='num'>{f['rows']}</td>"
                   + "".join(f"<td class='num'>{f['counts'].get(k, 0)}</td>" for k in kinds) + "</tr>" for f in files)
    return f"<h2>Input files</h2><table><tr><th>file</th><th>rows</th>{head}</tr>{rows}</table>"


def _counts(manifest: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td class='num'>{v}</td></tr>" for k, v in manifest["counts"].items())
    total = sum(manifest["counts"].values())
    return (f"<h2>Where every row went</h2><table><tr><th>disposition</th><th>rows</th></tr>{rows}"
            f"<tr><th>total</th><th class='num'>{total}</th></tr></table>")


def _rule_warnings(manifest: Mapping[str, Any]) -> str:
    """Rules judged against the dataset that rejected more than a small share of the rows."""
    warnings = manifest.get("rule_warnings") or []
    items = "".join(f"<li class='warn'><code>{escape(w['rule'])}</code>: {escape(w['message'])}</li>" for w in warnings)
    return f"<h2>Rules judged against this dataset</h2><ul>{items}</ul>" if items else ""


def _labels(series: Mapping[str, Mapping[str, int]]) -> str:
    if not series or not any(series.values()):  # an open-answer task without a category field
        return ""
    categories = sorted({c for s in series.values() for c in s}, key=lambda c: (-max(s.get(c, 0) for s in series.values()), c))
    table_head = "".join(f"<th>{escape(n)}</th>" for n in series)
    table_rows = "".join(
        f"<tr><td>{escape(c)}</td>" + "".join(f"<td class='num'>{series[n].get(c, 0)}</td>" for n in series) + "</tr>"
        for c in categories
    )
    shown = categories[:MAX_CHART_LABELS]
    title = "Rows per label" if len(shown) == len(categories) else \
        f"Rows per label: the {len(shown)} largest of {len(categories)} (every label in the table below)"
    chart = grouped_bars(shown, series, title=title)
    opened = " open" if len(shown) < len(categories) else ""
    return (f"<h2>Label distribution</h2>{chart}<details{opened}><summary>Table of all {len(categories)} labels"
            f"</summary><table><tr><th>label</th>{table_head}</tr>{table_rows}</table></details>")


def _quality(manifest: Mapping[str, Any]) -> str:
    """Evenness of the balanced set against the pool and the capped baseline; split quality."""
    out = []
    balance = manifest.get("balance") or {}
    rows = [("pool", balance.get("pool_evenness")), ("curate selection", balance.get("evenness")),
            ("capped greedy baseline", (balance.get("baseline") or {}).get("evenness"))]
    rows = [(name, ev) for name, ev in rows if isinstance(ev, Mapping)]
    if rows:
        out.append("<h3>Balanced selection</h3><p>Lower coefficient of variation (cv) and max/min ratio "
                   "mean more even label counts; a higher minimum count means no label is starved.</p>"
                   "<table><tr><th></th><th>rows</th><th>cv</th><th>max/min</th><th>min count</th>"
                   "<th>labels with 0 rows</th></tr>")
        sizes = {"pool": balance.get("pool_rows"), "curate selection": balance.get("selected"),
                 "capped greedy baseline": (balance.get("baseline") or {}).get("selected")}
        for name, ev in rows:
            out.append(f"<tr><td>{escape(name)}</td><td class='num'>{_fmt(sizes.get(name))}</td>"
                       f"<td class='num'>{_fmt(ev.get('cv'))}</td><td class='num'>{_fmt(ev.get('max_min_ratio'))}</td>"
                       f"<td class='num'>{_fmt(ev.get('min_count'))}</td>"
                       f"<td>{escape(', '.join(ev.get('zero_count_labels') or []) or '-')}</td></tr>")
        out.append("</table>")
        out.extend(f"<p class='warn'>{escape(str(w))}</p>" for w in balance.get("warnings") or [])
    split = manifest.get("split") or {}
    measures = [(k, split[k]) for k in ("LD", "LPD", "ED", "FZ", "FLZ", "FZLP", "FLZLP") if k in split]
    if measures:
        cells = "".join(f"<tr><td>{k}</td><td class='num'>{_fmt(v)}</td></tr>" for k, v in measures)
        sizes = ", ".join(f"{k} {v}" for k, v in (split.get("rows") or {}).items())
        out.append(f"<h3>Split quality</h3><p>{escape(sizes)} (method {escape(str(split.get('method', '')))}, "
                   f"order {escape(str(split.get('order', '')))}). LD and LPD: 0 means each split has exactly "
                   "the label (pair) odds of the whole; ED: rows off the requested sizes; FZ: splits missing a "
                   f"label.</p><table><tr><th>measure</th><th>value</th></tr>{cells}</table>")
        out.extend(f"<p class='warn'>{escape(str(w))}</p>" for w in split.get("warnings") or [])
        missing = {k: v for k, v in (split.get("missing") or {}).items() if v}
        for name, labels in missing.items():
            out.append(f"<p class='warn'>labels with no row in {escape(name)}: {escape(', '.join(labels))}</p>")
    return ("<h2>Balance and split</h2>" + "".join(out)) if out else ""


def _difficulty(manifest: Mapping[str, Any]) -> str:
    """The difficulty stage: kept / too easy / too hard, histogram of item means, per label, grader audit."""
    d = manifest.get("difficulty")
    if not d:
        return ""
    lo, hi = d["keep"]
    out = [f"<h2>Difficulty (baseline pass rate)</h2><p>{d['items']} items sampled {d['samples']} times; kept "
           f"{d['kept']} with a mean in [{lo:g}, {hi:g}], {d['too_easy']} too easy, {d['too_hard']} too hard, "
           f"{d['no_signal']} with no signal (every sample scored the same). Requests sent {d['requests_sent']}"
           + (f", saved by adaptive sampling {d['requests_saved']} of {d['samples_fixed_n']}" if d.get("adaptive") else "")
           + ".</p>"]
    hist = d.get("histogram") or {}
    bins = int(hist.get("bins") or 0)
    if bins:
        names = [f"{i / bins:.1f}-{(i + 1) / bins:.1f}" for i in range(bins)]
        out.append(grouped_bars(names, {"pool": dict(zip(names, hist["before"], strict=True)),
                                        "train": dict(zip(names, hist["after"], strict=True))},
                                title="item mean score: before (grey) and kept (blue)"))
    rows = d.get("by_label") or []
    if rows:
        head = "".join(f"<th>{h}</th>" for h in ("label", "items", "mean before", "mean kept", "kept", "too easy",
                                                 "too hard"))
        body = "".join("<tr>" + "".join(f"<td>{_fmt(r[k])}</td>" for k in (
            "label", "items", "mean_before", "mean_after", "kept", "too_easy", "too_hard")) + "</tr>" for r in rows)
        out.append(f"<table><tr>{head}</tr>{body}</table>")
    out.extend(f"<p class='warn'>{escape(str(w))}</p>" for w in d.get("grader_audit") or [])
    return "\n".join(out)


def _export(manifest: Mapping[str, Any]) -> str:
    """The export target's warnings (e.g. a platform that is closing, prompts over a length cap)."""
    export = manifest.get("export") or {}
    warnings = export.get("warnings") or []
    if not warnings:
        return ""
    items = "".join(
        f"<li class='warn'><code>{escape(w['rule'])}</code>"
        + (f" ({w['rows']} rows, first at line {w['first_line']})" if w.get("rows") else "")
        + f": {escape(w['message'])}</li>"
        for w in warnings
    )
    return f"<h2>Export target {escape(str(export.get('target', '')))}</h2><ul>{items}</ul>"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return escape("-" if value is None else str(value))


def _findings(findings: pl.DataFrame, per_rule: int) -> str:
    if findings.is_empty():
        return "<h2>Rule findings</h2><p>No rule fired.</p>"
    summary = (
        findings.group_by("rule", "severity")
        .agg(pl.col("line").n_unique().alias("rows"), pl.col("message").first())
        .sort(["severity", "rows", "rule"], descending=[False, True, False])
    )
    out = ["<h2>Rule findings</h2><table><tr><th>rule</th><th>severity</th><th>rows</th><th>message</th></tr>"]
    for rule, severity, rows, message in summary.iter_rows():
        out.append(f"<tr><td><code>{escape(rule)}</code></td><td class='{escape(severity)}'>{escape(severity)}</td>"
                   f"<td class='num'>{rows}</td><td>{escape(message or '')}</td></tr>")
    out.append("</table>")
    for rule in summary["rule"].unique(maintain_order=True) if per_rule else ():
        examples = findings.filter(pl.col("rule") == rule).sort("line").head(per_rule)
        at = (pl.format("{} ({}:{})", "line", "file", "file_line") if "file" in findings.columns  # several inputs
              else pl.col("line").cast(pl.String))
        rows = "".join(
            f"<tr><td class='num'>{escape(line)}</td><td>{escape(str(id_))}</td><td>{escape(str(field or ''))}</td>"
            f"<td>{escape(str(value or ''))[:200]}</td><td>{escape(message or '')}</td></tr>"
            for line, id_, field, value, message in examples.select(at, "id", "field", "value", "message").iter_rows()
        )
        out.append(f"<details><summary>Examples of <code>{escape(rule)}</code></summary><table><tr><th>line</th>"
                   f"<th>id</th><th>field</th><th>value</th><th>message</th></tr>{rows}</table></details>")
    return "".join(out)


def _files(manifest: Mapping[str, Any]) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td><code>{escape(v)}</code></td></tr>" for k, v in manifest["files"].items())
    return f"<h2>Files</h2><table><tr><th>file</th><th>sha256</th></tr>{rows}</table>"
