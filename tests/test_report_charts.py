"""report.html charts: long names wrap inside the chart, many classes keep the chart small, split colours stay fixed."""

from __future__ import annotations

import re

import polars as pl

from curate.report.html import MAX_CHART_LABELS, render_report
from curate.report.svg import CHAR_W, SERIES_COLOURS, grouped_bars, wrap_label

MANIFEST = {"input_rows": 10, "counts": {"train": 7, "valid": 3}, "files": {}, "seed": 1, "curate_version": "x"}


def label_column_width(svg: str) -> float:
    return float(re.search(r'<tspan x="([\d.]+)"', svg).group(1))


def test_long_names_wrap_and_fit_left_of_the_bars():
    name = "Parvovirus B19 infection with transient aplastic crisis in sickle cell disease patients"
    svg = grouped_bars([name, "short"], {"train": {name: 3, "short": 1}}, title="t")
    lines = wrap_label(name)
    assert len(lines) > 1 and all(line in svg for line in lines)
    # the name column is as wide as the longest wrapped line, so the right-aligned text never starts left of 0
    assert label_column_width(svg) + 6 >= max(len(line) for line in lines) * CHAR_W
    assert f"<title>{name}</title>" in svg  # the whole name on hover


def test_many_classes_show_the_largest_in_the_chart_and_all_in_the_table():
    classes = [f"class_{i:03d}" for i in range(197)]
    series = {"pool": {c: 1000 - i for i, c in enumerate(classes)}, "train": {c: 5 for c in classes}}
    page = render_report(MANIFEST, pl.DataFrame(schema={"line": pl.Int64, "id": pl.String, "rule": pl.String,
                                                        "severity": pl.String, "field": pl.String,
                                                        "value": pl.String, "message": pl.String}), series)
    chart = page[page.index("<svg"): page.index("</svg>")]
    assert chart.count("<tspan") == MAX_CHART_LABELS
    assert "class_000" in chart and f"class_{MAX_CHART_LABELS:03d}" not in chart  # the largest are shown
    table = page[page.index("<details open>"):]
    assert all(f"<td>{c}</td>" in table for c in classes)
    height = int(re.search(r'height="(\d+)"', chart).group(1))
    assert height < 1500


def test_each_split_keeps_its_colour_whatever_the_order():
    a = grouped_bars(["x"], {"pool": {"x": 1}, "train": {"x": 1}, "valid": {"x": 1}}, title="t")
    b = grouped_bars(["x"], {"train": {"x": 1}, "valid": {"x": 1}}, title="t")
    for svg in (a, b):
        assert re.search(rf'fill="{SERIES_COLOURS["train"]}"><title>train', svg)
        assert re.search(rf'fill="{SERIES_COLOURS["valid"]}"><title>valid', svg)
