"""Balanced selection (placeholder: seeded random sample; the balancing issue replaces it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from curate.options import Param, parse_options

PARAMS = (Param("size", int, low=1), Param("seed", int, 0))


@dataclass(frozen=True)
class BalanceResult:
    indices: np.ndarray  # sorted positions into the pool that were selected
    stats: dict[str, Any]


def balance_options(mapping: Mapping[str, Any] | None, where: str = "") -> dict[str, Any]:
    return parse_options("balance", mapping, PARAMS, where)


def select_balanced(labels: pl.Series, options: Mapping[str, Any]) -> BalanceResult:
    n = labels.len()
    size = min(options["size"], n)
    rng = np.random.default_rng(options["seed"])
    return BalanceResult(np.sort(rng.choice(n, size=size, replace=False)), {})
