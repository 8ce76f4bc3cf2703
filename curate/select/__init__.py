"""Choosing rows: balanced selection and stratified splitting.

* :mod:`curate.select.balance` — the ``balance`` stage (even label counts, or a natural sample).
* :mod:`curate.select.split` — the ``split`` stage (iterative stratification, k-fold, groups).
* :mod:`curate.select.quality` — LD/LPD/ED/FZ of a split, evenness of a selection.
* :mod:`curate.select.stratify`, :mod:`curate.select.uniform`, :mod:`curate.select.baseline` —
  the algorithms; :mod:`curate.select.labels` — the label matrix and :class:`SelectionError`.
"""

from __future__ import annotations

import importlib
from typing import Any

# names -> the submodule defining them; loaded on first use (the algorithms pull in scipy)
_EXPORTS = {
    "SelectionError": "curate.errors",
    "BalanceResult": "curate.select.balance", "select_balanced": "curate.select.balance",
    "select_natural": "curate.select.balance",
    "balance_options": "curate.select.options", "split_options": "curate.select.options",
    "evenness": "curate.select.quality", "split_quality": "curate.select.quality",
    "TRAIN": "curate.select.split", "VALID": "curate.select.split", "SplitResult": "curate.select.split",
    "kfold_assign": "curate.select.split", "split_train_valid": "curate.select.split",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'curate.select' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = [
    "TRAIN",
    "VALID",
    "BalanceResult",
    "SelectionError",
    "SplitResult",
    "balance_options",
    "evenness",
    "kfold_assign",
    "select_balanced",
    "select_natural",
    "split_options",
    "split_quality",
    "split_train_valid",
]
