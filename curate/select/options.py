"""The ``balance:`` and ``split:`` sections of a pipeline, checked without loading the algorithms.

The pipeline checks every section before any work; the selection algorithms (numpy, scipy) load
later, while the source is being read.

>>> split_options({"validation": 0.25})["order"], balance_options({"size": 150})["strategy"]
(1, 'uniform')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from curate.errors import ConfigError
from curate.options import Param, parse_options

METHODS = ("curate", "skmultilearn")
SPLIT_PARAMS = (
    Param("validation", (int, float), low=0),
    Param("seed", int, 0, low=0),
    Param("order", int, 1, choices=(1, 2)),
    Param("method", str, "curate", choices=METHODS),
    Param("production", int, 0, low=0),
    Param("stratify", str, None, nullable=True),  # a category field to stratify on (default: the labels)
)
STRATEGIES = ("uniform", "natural")
BALANCE_PARAMS = (
    Param("size", int, low=1),
    Param("strategy", str, "uniform", choices=STRATEGIES),
    Param("cap", int, None, low=1, nullable=True),
    Param("min_per_label", int, 0, low=0),
    Param("seed", int, 0, low=0),
    Param("by", str, None, nullable=True),  # a category field to balance on (default: the labels)
    Param("by_difficulty", int, 0, low=0, high=10),  # also even out this many difficulty sub-bands (curate.difficulty)
)


def split_options(mapping: Mapping[str, Any] | None, where: str = "") -> dict[str, Any]:
    """Check a ``split:`` section; a float ``validation`` must be a fraction in (0, 1).

    >>> split_options({"validation": 0.25})["order"]
    1
    """
    out = parse_options("split", mapping, SPLIT_PARAMS, where)
    v = out["validation"]
    if isinstance(v, float) and not 0.0 < v < 1.0:
        raise ConfigError(
            f"{where}The 'validation' parameter of split must be an int number of rows or a float "
            f"fraction in the range (0, 1). Got {v!r} instead."
        )
    return out


def balance_options(mapping: Mapping[str, Any] | None, where: str = "") -> dict[str, Any]:
    """Check a ``balance:`` section.

    >>> balance_options({"size": 150})["strategy"]
    'uniform'
    """
    return parse_options("balance", mapping, BALANCE_PARAMS, where)
