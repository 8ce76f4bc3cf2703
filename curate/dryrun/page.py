"""``dryrun.html``: the verdict, the variance plot practitioners use, the self-test, the suspects.

Self-contained (inline SVG and CSS, no script), every user string escaped. The plot sorts items by
mean score: a bar for the mean, a line for the spread around it (mean ± std, clipped to the
grader's range) and a marker at the max. A ``multi`` grader gets one more plot per sub-score
(e.g. precision and recall).

>>> page = render_html({"summary": {"verdict": "go", "reasons": [], "mean": 0.5, "items": 1},
...     "items": [{"id": "<a>", "scores": [0, 1], "mean": 0.5, "max": 1, "min": 0, "std": 0.7}],
...     "selftest": {"passed": True, "problems": []}, "model": "m", "range": [0, 1]})
>>> "&lt;a&gt;" in page and "<script" not in page
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

WIDTH, HEIGHT, PAD = 900, 260, 40

CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:980px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.8em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f4f4f4}
.go{color:#1a7f37}.caution{color:#9a6700}.no-go{color:#cf222e}.verdict{font-size:1.3em;font-weight:bold}
svg{background:#fafafa;border:1px solid #ddd}code{background:#f4f4f4;padding:0 3px}"""


def _fmt(x: Any) -> str:
    return f"{x:.3f}" if isinstance(x, float) else escape(str(x))


def variance_svg(rows: Sequence[Mapping[str, Any]], score_range: Sequence[float], title: str) -> str:
    """An inline SVG of per-item mean (bar), mean ± std (line) and max (marker), sorted by mean."""
    low, high = float(score_range[0]), float(score_range[1])
    span = (high - low) or 1.0
    ordered = sorted(rows, key=lambda r: (r["mean"], str(r["id"])))
    n = max(len(ordered), 1)
    step = (WIDTH - 2 * PAD) / n
    bar = max(step * 0.7, 1.0)

    def y(v: float) -> float:
        v = min(max(v, low), high)
        return HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'role="img" aria-label="{escape(title)}">',
             f'<text x="{PAD}" y="18" font-size="13">{escape(title)}</text>']
    for v in (low, low + span / 2, high):
        parts.append(f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#ddd"/>'
                     f'<text x="4" y="{y(v) + 4:.1f}" font-size="11">{v:g}</text>')
    for i, r in enumerate(ordered):
        x = PAD + i * step + (step - bar) / 2
        cx = x + bar / 2
        tip = escape(f"{r['id']}: mean {r['mean']:.3f}, std {r['std']:.3f}, max {r['max']:.3f}")
        parts.append(f'<g><title>{tip}</title>'
                     f'<rect x="{x:.1f}" y="{y(r["mean"]):.1f}" width="{bar:.1f}" '
                     f'height="{y(low) - y(r["mean"]):.1f}" fill="#8cb4e0"/>'
                     f'<line x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(r["mean"] - r["std"]):.1f}" '
                     f'y2="{y(r["mean"] + r["std"]):.1f}" stroke="#333" stroke-width="1.5"/>'
                     f'<circle cx="{cx:.1f}" cy="{y(r["max"]):.1f}" r="{min(3.0, bar / 2 + 1):.1f}" fill="#cf222e"/></g>')
    parts.append(f'<text x="{PAD}" y="{HEIGHT - 10}" font-size="11">items sorted by mean ({len(ordered)}); '
                 'bar = mean, line = mean ± std, dot = max</text></svg>')
    return "".join(parts)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page for a dry run report (the dict written to ``dryrun.json``)."""
    summary, selftest, items = report["summary"], report["selftest"], report["items"]
    score_range = report.get("range", (0.0, 1.0))
    verdict = str(summary.get("verdict"))
    out = [f"<!doctype html><html><head><meta charset='utf-8'><title>curate dry run</title>"
           f"<style>{CSS}</style></head><body><h1>Dry run: {escape(str(report.get('model', '')))}</h1>",
           f'<p class="verdict {escape(verdict)}">Verdict: {escape(verdict)}</p>']
    if summary.get("reasons"):
        out.append("<ul>" + "".join(f"<li>{escape(r)}</li>" for r in summary["reasons"]) + "</ul>")
    if report.get("warnings"):
        out.append("<p>Warnings:</p><ul>" + "".join(f"<li>{escape(w)}</li>" for w in report["warnings"]) + "</ul>")
    keys = [k for k in ("items", "samples", "mean", "mean_of_max", "frac_zero_variance", "frac_all_min",
                        "frac_all_max", "frac_off_schema") if k in summary]
    out.append(_table(["measure", "value"], [(k, summary[k]) for k in keys]))
    if items:
        out.append("<h2>Variance study</h2>" + variance_svg(items, score_range, "score per item"))
        for name in sorted({k for it in items for k in it.get("sub_scores", {})}):
            rows = [{"id": it["id"], **it["sub_scores"][name]} for it in items if name in it.get("sub_scores", {})]
            out.append(variance_svg(rows, (0.0, 1.0), f"sub-score: {name}"))
    out.append("<h2>Grader self-test: " + ("passed" if selftest.get("passed") else "FAILED") + "</h2>")
    if selftest.get("problems"):
        out.append("<ul>" + "".join(f"<li>{escape(p)}</li>" for p in selftest["problems"]) + "</ul>")
    failures = (selftest.get("reference") or {}).get("failures") or []
    if failures:
        out.append(_table(["item (reference not at max)", "score", "errors"],
                          [(f["id"], f["score"], "; ".join(f["errors"])) for f in failures]))
    perturbed = (selftest.get("perturbed") or {}).get("failures") or []
    if perturbed:
        out.append(_table(["item (perturbed reference not strictly inside the range)", "perturbation", "score"],
                          [(f["id"], f["kind"], f["score"]) for f in perturbed]))
    if selftest.get("malformed"):
        out.append(_table(["malformed output", "score", "valid"],
                          [(m["case"], m["score"], "yes" if m["valid"] else "NO") for m in selftest["malformed"]]))
    audit = selftest.get("audit") or {}
    if audit.get("cases"):
        out.append("<h2>Grader audit</h2><p>Answers a grader must not reward with its maximum.</p>" + _table(
            ["answer", "items", "mean score", "at the maximum"],
            [(c["what"], c["checked"], c["mean_score"], len(c["at_max"])) for c in audit["cases"]]))
    suspects = summary.get("suspect_labels") or []
    out.append(f"<h2>Suspected label errors ({len(suspects)})</h2><p>Items that scored the minimum on every "
               "sample: too hard, or a wrong reference. Marked <code>suspect_label</code> in the ledger.</p>")
    if suspects:
        out.append("<ul>" + "".join(f"<li>{escape(str(s))}</li>" for s in suspects) + "</ul>")
    if items:
        out.append("<h2>Items</h2>" + _table(
            ["id", "mean", "std", "min", "max", "scores"],
            [(it["id"], it["mean"], it["std"], it["min"], it["max"], ", ".join(f"{s:g}" for s in it["scores"]))
             for it in sorted(items, key=lambda r: (r["mean"], str(r["id"])))]))
    usage = report.get("usage")
    if usage:
        out.append("<h2>Usage</h2>" + _table(["measure", "value"], sorted(usage.items())))
    out.append("</body></html>\n")
    return "".join(out)
