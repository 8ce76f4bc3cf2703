"""Feed suspected label errors back into the ledger as the ``suspect_label`` warning.

Rows of the studied split whose item always scored the minimum get the reason ``suspect_label`` in
``ledger.parquet``; rows of that split no longer suspected lose it, so a rerun gives the same
ledger. The ledger is rewritten atomically (:mod:`curate.io.atomic`: a temporary file in the same
folder, fsync, ``os.replace``), then ``manifest.json``: its ``rules`` count for ``suspect_label``
and the ledger's sha256 in ``files``.

>>> import tempfile, polars as pl
>>> out = Path(tempfile.mkdtemp())
>>> pl.DataFrame({"line": [1, 2], "id": ["a", "b"], "disposition": ["train", "train"],
...               "reasons": [[], []]}, schema=LEDGER_SCHEMA).write_parquet(out / "ledger.parquet")
>>> mark_suspects(out, studied=["a", "b"], suspects=["b"])
1
>>> pl.read_parquet(out / "ledger.parquet")["reasons"].to_list()
[[], ['suspect_label']]
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from curate.errors import LedgerError
from curate.io.atomic import atomic_path, write_text_atomic
from curate.manifest import dumps, sha256_of

SUSPECT_LABEL = "suspect_label"
LEDGER = "ledger.parquet"
MANIFEST = "manifest.json"
LEDGER_SCHEMA = {"line": pl.Int64, "id": pl.String, "disposition": pl.String, "reasons": pl.List(pl.String)}


def mark_suspects(out_dir: Path, *, studied: Iterable[str], suspects: Iterable[str]) -> int:
    """Set ``suspect_label`` on exactly the ``suspects`` among the ``studied`` ids; return the count.

    Does nothing (returns 0) when the folder has no ledger.
    """
    out_dir = Path(out_dir)
    path = out_dir / LEDGER
    if not path.exists():
        return 0
    ledger = pl.read_parquet(path)
    missing = {"id", "reasons"} - set(ledger.columns)
    if missing:
        raise LedgerError(f"{path}: no column {sorted(missing)[0]!r}; cannot record suspected labels")
    studied_ids = pl.Series([str(x) for x in studied], dtype=pl.String)
    suspect_ids = pl.Series([str(x) for x in suspects], dtype=pl.String)
    reasons = pl.col("reasons").list.set_difference(pl.lit([SUSPECT_LABEL], dtype=pl.List(pl.String)))
    updated = ledger.with_columns(
        pl.when(pl.col("id").is_in(suspect_ids.implode()))
        .then(reasons.list.concat(pl.lit([SUSPECT_LABEL], dtype=pl.List(pl.String))))
        .when(pl.col("id").is_in(studied_ids.implode()))
        .then(reasons)
        .otherwise(pl.col("reasons"))
        .alias("reasons")
    )
    if not updated.equals(ledger):
        with atomic_path(path) as tmp:
            updated.write_parquet(tmp, statistics=False)
    total = int(updated["reasons"].list.contains(SUSPECT_LABEL).sum())
    _update_manifest(out_dir, total, path)
    return total


def _update_manifest(out_dir: Path, suspect_rows: int, ledger_path: Path) -> None:
    path = out_dir / MANIFEST
    if not path.exists():
        return
    manifest = json.loads(path.read_text(encoding="utf-8"))
    rules = dict(manifest.get("rules") or {})
    if suspect_rows:
        rules[SUSPECT_LABEL] = suspect_rows
    else:
        rules.pop(SUSPECT_LABEL, None)
    manifest["rules"] = rules
    files = manifest.get("files")
    if isinstance(files, dict) and LEDGER in files:
        files[LEDGER] = sha256_of(ledger_path)
    text = dumps(manifest)
    if text != path.read_text(encoding="utf-8"):
        write_text_atomic(path, text)
