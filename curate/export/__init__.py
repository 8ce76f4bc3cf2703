"""Export targets: each writes the same curated data in one platform's format."""

from curate.export import (
    azure,  # noqa: F401  (registers the target)
    bedrock,  # noqa: F401  (registers the target)
    gemini,  # noqa: F401  (registers the target)
    openai_evals,  # noqa: F401  (registers the target)
    openai_rft,  # noqa: F401  (registers the target)
    trl,  # noqa: F401  (registers the target)
    verl,  # noqa: F401  (registers the target)
)
from curate.export.base import ExportBundle, ExportTarget, get_target, target_names

__all__ = ["ExportBundle", "ExportTarget", "get_target", "target_names"]
