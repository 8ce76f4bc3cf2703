"""The dry run as a pipeline hook: the ``dryrun:`` section of a pipeline config, run after export.

>>> hook = dryrun_hook({"model": "o4-mini", "samples": 3, "reasoning_effort": "low"}, Path("."))
>>> callable(hook)
True
>>> dryrun_hook({"samples": 3}, Path("."))
Traceback (most recent call last):
...
curate.errors.ConfigError: dryrun needs the 'model' option (str)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from curate.dryrun.run import run_dryrun
from curate.dryrun.stats import NO_GO
from curate.errors import GateFailed
from curate.hooks import Hook, StageEvent
from curate.options import Param, check_env_name, parse_options

EFFORTS = ("minimal", "low", "medium", "high")

DRYRUN_PARAMS = (
    Param("model", str),
    Param("grader", (str, dict), None, nullable=True),  # file (relative to the config) or grader JSON
    Param("base_url", str, None, nullable=True),
    Param("samples", int, 5, low=1, high=100),
    Param("split", str, "train", choices=("train", "valid")),
    Param("reasoning_effort", str, None, choices=EFFORTS, nullable=True),
    Param("temperature", (int, float), None, low=0, high=2, nullable=True),
    Param("max_completion_tokens", int, None, low=1, nullable=True),
    Param("concurrency", int, 16, low=1, high=1024),
    Param("limit", int, None, low=1, nullable=True),
    Param("api_key_env", str, "OPENAI_API_KEY"),
    Param("timeout", (int, float), 300.0, low=1),
    Param("max_retries", int, 8, low=0, high=50),
    Param("grader_workers", int, 2, low=0, high=64),
    Param("gate", bool, True),  # raise GateFailed on no-go
)


def _without_key(options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The options with ``api_key_env`` checked by name only, so a pasted key is never echoed."""
    opts = dict(options or {})
    if "api_key_env" in opts:
        opts["api_key_env"] = check_env_name(opts["api_key_env"], "dryrun", "api_key_env")
    return opts


def dryrun_hook(options: Mapping[str, Any] | None, base_dir: Path) -> Hook:
    """A hook for ``after_export`` that runs :func:`run_dryrun` on the run's output folder.

    Options are checked now (a bad config fails before any work); a no-go verdict raises
    :class:`curate.errors.GateFailed` after the reports are written, unless ``gate: false``.
    """
    opts = parse_options("dryrun", _without_key(options), DRYRUN_PARAMS)
    gate = opts.pop("gate")
    grader = opts.pop("grader")
    opts["workers"] = opts.pop("grader_workers")
    if isinstance(grader, str):
        grader = str(Path(base_dir) / grader) if (Path(base_dir) / grader).exists() else grader

    def hook(event: StageEvent) -> None:
        report = run_dryrun(event.out_dir, grader=grader, progress=None, **opts)
        if gate and report.verdict == NO_GO:
            raise GateFailed(
                f"dry run verdict no-go: {'; '.join(report.summary['reasons'])} "
                f"(see {Path(event.out_dir) / 'dryrun.html'})"
            )

    hook.__name__ = "dryrun"
    return hook
