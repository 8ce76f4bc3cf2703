"""Lazy imports of heavy optional dependencies, failing with the exact pip command."""

from __future__ import annotations

import importlib
from types import ModuleType

from curate.errors import MissingDependency


def optional_import(module: str, extra: str, purpose: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependency` naming ``pip install 'curate[extra]'``.

    >>> optional_import("json", "hf").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(module.split(".")[0], extra, purpose) from exc
