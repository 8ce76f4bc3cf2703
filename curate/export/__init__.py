"""Export targets: each writes the same curated data in one platform's format."""

from curate.export import openai_rft  # noqa: F401  (registers the target)
from curate.export import openai_evals  # noqa: F401  (registers the target)
from curate.export import bedrock  # noqa: F401  (registers the target)
from curate.export import azure  # noqa: F401  (registers the target)
from curate.export import trl  # noqa: F401  (registers the target)
from curate.export import verl  # noqa: F401  (registers the target)
from curate.export.base import ExportBundle, ExportTarget, get_target, target_names

__all__ = ["ExportBundle", "ExportTarget", "get_target", "target_names"]
