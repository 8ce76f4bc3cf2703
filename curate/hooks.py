"""Hooks: user code that runs at stage boundaries of a pipeline run.

A hook is any callable taking a :class:`StageEvent`. Attach it with ``Pipeline.add_hook`` (or, for
built-ins such as the dry run, a section of the pipeline config). A hook that decides training must
not go ahead raises :class:`curate.errors.GateFailed`; the run's outputs are kept and the CLI exits 1.

>>> seen = []
>>> hook = lambda event: seen.append(event.stage)
>>> run_hooks({"after_export": [hook]}, StageEvent("after_export", Path("out"), Path(".")))
>>> seen
['after_export']
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STAGES = ("after_load", "after_rules", "after_split", "after_export")


@dataclass(frozen=True)
class StageEvent:
    """What a hook sees: the stage that just ended, the output folder, and the run's state."""

    stage: str
    out_dir: Path
    base_dir: Path  # folder the pipeline config's relative paths resolve against
    state: dict[str, Any] = field(default_factory=dict)  # e.g. "frame", "findings", "manifest"


Hook = Callable[[StageEvent], None]


def run_hooks(hooks: Mapping[str, Sequence[Hook]], event: StageEvent) -> None:
    """Call every hook registered for ``event.stage``, in the order they were added."""
    for hook in hooks.get(event.stage, ()):
        hook(event)
