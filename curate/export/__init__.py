"""Export targets: each writes the same curated data in one platform's format."""

from curate.export.base import ExportBundle, ExportTarget, get_target, target_names

__all__ = ["ExportBundle", "ExportTarget", "get_target", "target_names"]
