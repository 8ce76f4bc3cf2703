"""Why a run has nothing left to export: the dominant reasons, and a vocabulary cycle when that is it.

>>> find_cycle({"1": ("2",), "2": ("3",), "3": ("1",), "4": ()})
['1', '2', '3', '1']
>>> find_cycle({"a": ("b",), "b": ()}) is None
True
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from curate.frame import ERROR, LINE

SHOWN = 3  # reasons named in the message


def explain_all_rejected(findings: pl.DataFrame, input_rows: int, labels: Mapping[str, Any] | None,
                         base_dir: Path) -> str:
    """One line: ``every row rejected (40 of 40): 40 no_labels (vocabulary cycle 1 -> 2 -> 3 -> 1 ...)``.

    Rows count once per reason (a row with two reasons counts under both); the first reason also
    quotes one of its messages, which usually names the field and the fix.
    """
    errors = findings.filter(pl.col("severity") == ERROR)
    if input_rows == 0:
        return "the source has no rows"
    per_rule = (errors.group_by("rule").agg(pl.col(LINE).n_unique().alias("rows"), pl.col("message").first())
                .sort(["rows", "rule"], descending=[True, False]))
    parts = []
    for i, (rule, rows, message) in enumerate(per_rule.head(SHOWN).iter_rows()):
        detail = ""
        if i == 0:
            cycle = _vocabulary_cycle(labels, base_dir) if rule == "no_labels" else None
            if cycle:
                detail = f" (vocabulary cycle {' -> '.join(cycle)} under level: top: these ids have no top-level ancestor)"
            elif message:
                detail = f" (e.g. {' '.join(str(message).split())[:160]})"
        parts.append(f"{rows} {rule}{detail}")
    more = f", and {per_rule.height - SHOWN} more reasons" if per_rule.height > SHOWN else ""
    return (f"every row rejected ({input_rows} of {input_rows}): {', '.join(parts)}{more}; "
            f"the ledger, rejected.jsonl and report.html are written")


def find_cycle(parents: Mapping[str, tuple[str, ...]]) -> list[str] | None:
    """The first parent cycle (ids in order, the first repeated at the end), or None."""
    done: set[str] = set()
    for start in sorted(parents):
        if start in done:
            continue
        path: list[str] = []
        on_path: dict[str, int] = {}
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, depth = stack.pop()
            del path[depth:]
            for gone in [k for k, v in on_path.items() if v >= depth]:
                del on_path[gone]
            if node in on_path:
                return [*path[on_path[node]:], node]
            if node in done:
                continue
            on_path[node] = depth
            path.append(node)
            ups = sorted(p for p in parents.get(node, ()) if p in parents)
            if not ups:
                done.update(path)
            stack.extend((p, depth + 1) for p in reversed(ups))
        done.update(path)
    return None


def _vocabulary_cycle(labels: Mapping[str, Any] | None, base_dir: Path) -> list[str] | None:
    if not labels or labels.get("level") != "top" or not isinstance(labels.get("vocabulary"), str):
        return None
    from curate.options import parse_options
    from curate.vocab import PARAMS, _read_rows

    try:
        known = {p.name for p in PARAMS}
        opts = parse_options("labels", {k: v for k, v in labels.items() if k in known}, PARAMS)
        path = Path(opts["vocabulary"]).expanduser()
        rows = _read_rows(path if path.is_absolute() else base_dir / path, opts)
    except Exception:  # noqa: BLE001 - a diagnosis must never hide the error it explains
        return None
    sep = opts["parent_sep"]
    parents = {str(i).strip(): tuple(p.strip() for p in str(up or "").split(sep) if p.strip() and p.strip() != str(i).strip())
               for i, _name, up in rows if str(i).strip()}
    return find_cycle(parents)
