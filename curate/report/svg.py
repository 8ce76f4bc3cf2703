"""Small inline-SVG charts for self-contained HTML reports (no JavaScript, no network)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2")


def grouped_bars(
    categories: Sequence[str], series: Mapping[str, Mapping[str, float]], *, title: str, width: int = 900
) -> str:
    """Horizontal grouped bar chart: one group per category, one bar per series.

    >>> "<svg" in grouped_bars(["a"], {"pool": {"a": 3}}, title="t")
    True
    """
    names = list(series)
    bar_h, gap, label_w, value_w = 9, 8, 260, 60
    group_h = bar_h * max(len(names), 1) + gap
    height = 40 + group_h * len(categories) + 20
    peak = max([v for s in series.values() for v in s.values()] or [1]) or 1
    plot_w = width - label_w - value_w
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="{escape(title)}" font-family="sans-serif" font-size="11">',
           f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(title)}</text>']
    for i, name in enumerate(names):
        x = label_w + i * 130
        out.append(f'<rect x="{x}" y="22" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
                   f'<text x="{x + 14}" y="31">{escape(name)}</text>')
    for row, cat in enumerate(categories):
        y0 = 40 + row * group_h
        out.append(f'<text x="{label_w - 6}" y="{y0 + group_h / 2}" text-anchor="end">{escape(cat)}</text>')
        for i, name in enumerate(names):
            value = series[name].get(cat, 0)
            w = plot_w * value / peak
            y = y0 + i * bar_h
            out.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h - 1}" '
                       f'fill="{PALETTE[i % len(PALETTE)]}"><title>{escape(name)}: {value:g}</title></rect>'
                       f'<text x="{label_w + w + 3:.1f}" y="{y + bar_h - 1}" font-size="9">{value:g}</text>')
    out.append("</svg>")
    return "".join(out)
