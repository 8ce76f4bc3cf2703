"""Locate the declarative files shipped with curate (rule packs, schemas)."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(kind: str) -> Path:
    """Folder of the shipped ``rules`` or ``schemas`` files.

    In a wheel they live in ``curate/_data/<kind>``; in a source checkout, at the repository top.

    >>> data_dir("rules").name
    'rules'
    """
    for candidate in (_PACKAGE / "_data" / kind, _PACKAGE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"curate's {kind!r} folder is missing from this installation")
