"""Train/validation split (placeholder: seeded random split; the splitting issue replaces it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from curate.options import Param, parse_options

TRAIN, VALID = 0, 1
PARAMS = (Param("validation", (int, float), low=0), Param("seed", int, 0))


@dataclass(frozen=True)
class SplitResult:
    assignment: np.ndarray  # one entry per pool row: TRAIN or VALID
    quality: dict[str, Any]


def split_options(mapping: Mapping[str, Any] | None, where: str = "") -> dict[str, Any]:
    return parse_options("split", mapping, PARAMS, where)


def split_train_valid(
    labels: pl.Series, options: Mapping[str, Any], groups: np.ndarray | None = None
) -> SplitResult:
    n = labels.len()
    v = options["validation"]
    n_valid = int(round(v * n)) if isinstance(v, float) and v < 1 else min(int(v), n)
    rng = np.random.default_rng(options["seed"])
    assignment = np.full(n, TRAIN, dtype=np.int8)
    assignment[rng.choice(n, size=n_valid, replace=False)] = VALID
    return SplitResult(assignment, {})
