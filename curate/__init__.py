"""curate: turn messy raw records into datasets that are safe to spend an RFT run on.

>>> import curate
>>> sorted(curate.__all__)[:3]
['CurateError', 'Pipeline', 'PipelineConfig']
"""

from curate._version import __version__
from curate.config import PipelineConfig, load_config
from curate.errors import CurateError
from curate.pipeline import Pipeline, RunResult, run

__all__ = ["CurateError", "Pipeline", "PipelineConfig", "RunResult", "__version__", "load_config", "run"]
