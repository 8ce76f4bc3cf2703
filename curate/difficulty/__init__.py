"""Difficulty from the dry run drives selection (the ``difficulty:`` pipeline stage).

See :mod:`curate.difficulty.stage` (sampling, bands, ledger columns), :mod:`curate.difficulty.rule`
(the exact adaptive stopping rule) and :mod:`curate.difficulty.cost` (cost before spend).
"""

from curate.difficulty.rule import KEEP, TOO_EASY, TOO_HARD, band_of, decided
from curate.difficulty.stage import (
    COLUMNS,
    DIFFICULTY_PARAMS,
    NO_SIGNAL,
    DifficultyResult,
    difficulty_options,
    run_difficulty,
    with_band_labels,
    with_columns,
)

__all__ = ["COLUMNS", "DIFFICULTY_PARAMS", "KEEP", "NO_SIGNAL", "TOO_EASY", "TOO_HARD", "DifficultyResult",
           "band_of", "decided", "difficulty_options", "run_difficulty", "with_band_labels", "with_columns"]
