"""Feed suspected label errors back into the ledger as the ``suspect_label`` warning.

Rows of the studied split whose item always scored the minimum get the reason ``suspect_label`` in
``ledger.parquet``; rows of that split no longer suspected lose it, so a rerun gives the same
ledger. The ledger is rewritten atomically (temporary file in the same folder, then
``os.replace``), then ``manifest.json``: its ``rules`` count for ``suspect_label`` and the ledger's
sha256 in ``files``.

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

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from curate.errors import LedgerError

SUSPECT_LABEL = "suspect_label"
LEDGER = "ledger.parquet"
MANIFEST = "manifest.json"
LEDGER_SCHEMA = {"line": pl.Int64, "id": pl.String, "disposition": pl.String, "reasons": pl.List(pl.String)}


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
        _atomic_write(path, updated.write_parquet)
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
    manifest["rules"] = dict(sorted(rules.items()))
    files = manifest.get("files")
    if isinstance(files, dict) and LEDGER in files:
        files[LEDGER] = _sha256(ledger_path)
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    if text != path.read_text(encoding="utf-8"):
        _atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
