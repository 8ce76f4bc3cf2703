"""Small inline-SVG charts for self-contained HTML reports (no JavaScript, no network)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#B279A2")
# one colour per split in every report, whichever splits a run has
SERIES_COLOURS = {"pool": "#9D9D9D", "balanced": "#B279A2", "train": "#4C78A8", "valid": "#F58518",
                  "valid_production": "#54A24B", "rejected": "#E45756", "unused": "#72B7B2"}
CHAR_W = 7.0  # generous average width of an 11px sans-serif character (names must not be cut)
MAX_LABEL_CHARS = 44  # longer names wrap onto more lines


def series_colour(name: str, index: int) -> str:
    """The fixed colour of a known split, else a palette colour by position."""
    return SERIES_COLOURS.get(name, PALETTE[index % len(PALETTE)])


def wrap_label(text: str, width: int = MAX_LABEL_CHARS) -> list[str]:
    """``text`` cut into lines of at most ``width`` characters, at spaces/underscores where possible.

    >>> wrap_label("a_very_long_label_name", 10)
    ['a_very_', 'long_', 'label_name']
    """
    lines, rest = [], text
    while len(rest) > width:
        cut = max(rest.rfind(" ", 0, width + 1), rest.rfind("_", 0, width) + 1 if "_" in rest[:width] else -1)
        cut = cut if cut > 0 else width
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [*lines, rest] if rest or not lines else lines


def grouped_bars(
    categories: Sequence[str], series: Mapping[str, Mapping[str, float]], *, title: str, width: int = 900
) -> str:
    """Horizontal grouped bar chart: one group per category, one bar per series.

    Category names get a column as wide as the longest (wrapped past :data:`MAX_LABEL_CHARS`),
    so none is cut at the left edge; each known split keeps its colour.

    >>> "<svg" in grouped_bars(["a"], {"pool": {"a": 3}}, title="t")
    True
    """
    names = list(series)
    bar_h, gap, value_w, line_h = 9, 8, 60, 12
    wrapped = [wrap_label(str(c)) for c in categories]
    longest = max([len(line) for lines in wrapped for line in lines] or [1])
    label_w = int(min(max(longest * CHAR_W + 12, 80), width * 0.45))
    heights = [max(bar_h * max(len(names), 1), line_h * len(lines)) + gap for lines in wrapped]
    height = 40 + sum(heights) + 20
    peak = max([v for s in series.values() for v in s.values()] or [1]) or 1
    plot_w = width - label_w - value_w
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="{escape(title)}" font-family="sans-serif" font-size="11">',
           f'<text x="0" y="14" font-size="13" font-weight="bold">{escape(title)}</text>']
    x = label_w
    for i, name in enumerate(names):
        out.append(f'<rect x="{x}" y="22" width="10" height="10" fill="{series_colour(name, i)}"/>'
                   f'<text x="{x + 14}" y="31">{escape(name)}</text>')
        x += int(len(name) * CHAR_W) + 34
    y0 = 40
    for row, cat in enumerate(categories):
        lines = wrapped[row]
        top = y0 + (heights[row] - gap - line_h * len(lines)) / 2 + line_h - 2
        spans = "".join(f'<tspan x="{label_w - 6}" y="{top + k * line_h:.1f}">{escape(line)}</tspan>'
                        for k, line in enumerate(lines))
        out.append(f'<text text-anchor="end"><title>{escape(str(cat))}</title>{spans}</text>')
        bars_top = y0 + (heights[row] - gap - bar_h * len(names)) / 2
        for i, name in enumerate(names):
            value = series[name].get(cat, 0)
            w = plot_w * value / peak
            y = bars_top + i * bar_h
            out.append(f'<rect x="{label_w}" y="{y:.1f}" width="{w:.1f}" height="{bar_h - 1}" '
                       f'fill="{series_colour(name, i)}"><title>{escape(name)}: {value:g}</title></rect>'
                       f'<text x="{label_w + w + 3:.1f}" y="{y + bar_h - 1:.1f}" font-size="9">{value:g}</text>')
        y0 += heights[row]
    out.append("</svg>")
    return "".join(out)
