"""``manifest.json``: what a run read, where every row went, and checksums of what it wrote."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from curate._version import __version__
from curate.errors import LedgerError
from curate.frame import LABEL_NAMES

COUNT_ROWS = 131_072  # rows whose labels are counted at a time


def label_counts(frames: Mapping[str, pl.DataFrame]) -> dict[str, dict[str, int]]:
    """Rows carrying each label name, per frame (split), names sorted.

    >>> label_counts({"train": pl.DataFrame({"label_names": [["a", "b"], ["a"]]})})
    {'train': {'a': 2, 'b': 1}}
    """
    out: dict[str, dict[str, int]] = {}
    for name, frame in frames.items():
        totals: dict[str, int] = {}
        for start in range(0, frame.height, COUNT_ROWS):  # a slice at a time: no list of every label
            part = frame.slice(start, COUNT_ROWS).select(
                pl.col(LABEL_NAMES).explode().drop_nulls().value_counts(sort=False)).unnest(LABEL_NAMES)
            for label, count in part.iter_rows():
                totals[str(label)] = totals.get(str(label), 0) + int(count)
        out[name] = dict(sorted(totals.items()))
    return out


# digests of files this process wrote, hashed as their bytes went out (:func:`remember_sha256`),
# keyed by what identifies that exact file version: path, inode, size, modification time (ns)
_WRITTEN: dict[tuple[str, int, int, int], str] = {}


def _stat_key(path: Path) -> tuple[str, int, int, int]:
    st = os.stat(path)
    return str(Path(path).resolve()), st.st_ino, st.st_size, st.st_mtime_ns


def remember_sha256(path: Path, hexdigest: str) -> None:
    """Record the sha256 of a file just written and closed (computed from the bytes written), so
    that :func:`sha256_of` need not read it again."""
    _WRITTEN[_stat_key(path)] = hexdigest


def sha256_of(path: Path) -> str:
    known = _WRITTEN.pop(_stat_key(path), None)
    if known is not None:
        return known
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def digest_path(path: Path) -> str:
    """sha256 of a file, or of a folder: every file's relative path and sha256, in path order."""
    if path.is_dir():
        h = hashlib.sha256()
        for sub in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(sub.relative_to(path)).encode() + b"\0" + sha256_of(sub).encode())
        return h.hexdigest()
    return sha256_of(path)


def build_manifest(
    *,
    input_rows: int,
    counts: Mapping[str, int],
    rules: Mapping[str, int],
    seed: int | None,
    config: Mapping[str, Any],
    files: Mapping[str, str],
    labels: Mapping[str, Mapping[str, int]],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The manifest mapping; fails loudly if the disposition counts do not add up."""
    if sum(counts.values()) != input_rows:
        raise LedgerError(f"disposition counts add up to {sum(counts.values())}, not {input_rows} input rows")
    return {
        "curate_version": __version__,
        "input_rows": input_rows,
        "counts": dict(counts),
        "rules": dict(rules),
        "seed": seed,
        "labels": {k: dict(v) for k, v in labels.items()},
        **dict(extra or {}),
        "files": dict(sorted(files.items())),
        "config": config,
    }


def dumps(manifest: Mapping[str, Any]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False, default=_plain) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"cannot put {type(value).__name__} in the manifest")
