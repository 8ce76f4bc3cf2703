"""Choosing rows: balanced selection and stratified splitting.

* :mod:`curate.select.balance` — the ``balance`` stage (even label counts, or a natural sample).
* :mod:`curate.select.split` — the ``split`` stage (iterative stratification, k-fold, groups).
* :mod:`curate.select.quality` — LD/LPD/ED/FZ of a split, evenness of a selection.
* :mod:`curate.select.stratify`, :mod:`curate.select.uniform`, :mod:`curate.select.baseline` —
  the algorithms; :mod:`curate.select.labels` — the label matrix and :class:`SelectionError`.
"""

from curate.errors import SelectionError
from curate.select.balance import BalanceResult, balance_options, select_balanced, select_natural
from curate.select.quality import evenness, split_quality
from curate.select.split import (
    TRAIN,
    VALID,
    SplitResult,
    kfold_assign,
    split_options,
    split_train_valid,
)

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
