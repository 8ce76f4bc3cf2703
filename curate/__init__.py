"""curate: turn messy raw records into datasets that are safe to spend an RFT run on.

>>> import curate
>>> sorted(curate.__all__)[:3]
['CurateError', 'Pipeline', 'PipelineConfig']

The public names load lazily, so ``import curate`` (and the CLI's start-up) stays fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from curate._version import __version__

_EXPORTS = {
    "CurateError": "curate.errors",
    "Pipeline": "curate.pipeline",
    "PipelineConfig": "curate.config",
    "RunResult": "curate.pipeline",
    "load_config": "curate.config",
    "run": "curate.pipeline",
}

__all__ = ["CurateError", "Pipeline", "PipelineConfig", "RunResult", "__version__", "load_config", "run"]

if TYPE_CHECKING:
    from curate.config import PipelineConfig, load_config
    from curate.errors import CurateError
    from curate.pipeline import Pipeline, RunResult, run


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'curate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
