"""Pre-training dry run: grader self-test, baseline variance study, go / caution / no-go verdict.

Before paying for an RFT run, sample the base model several times per training item through any
OpenAI-compatible endpoint, grade every sample locally with the training grader, and look at the
per-item spread. See ``docs/dryrun.md``.

>>> from curate.dryrun import run_dryrun
>>> report = run_dryrun("out", model="o4-mini", samples=5, reasoning_effort="low")  # doctest: +SKIP
>>> report.verdict                                                                  # doctest: +SKIP
'caution'

Module map: ``run`` (orchestration), ``client`` (model client), ``cache`` (response cache),
``selftest`` (grader checks), ``stats`` (statistics, verdict thresholds), ``grading`` (local
grader), ``page`` (dryrun.html), ``ledger_feedback`` (``suspect_label``), ``usage`` (tokens,
cost), ``hook`` (pipeline hook), ``outdir`` (reading the export folder).
"""

from __future__ import annotations

from curate.dryrun.client import EndpointError
from curate.dryrun.hook import DRYRUN_PARAMS, dryrun_hook
from curate.dryrun.run import DryRunReport, run_dryrun
from curate.dryrun.stats import (
    CAUTION,
    CAUTION_ALL_MIN,
    CAUTION_MEAN,
    CAUTION_OFF_SCHEMA,
    CAUTION_ZERO_VARIANCE,
    GO,
    NO_GO,
    NO_GO_ALL_MIN,
    NO_GO_MEAN,
)

__all__ = [
    "CAUTION",
    "CAUTION_ALL_MIN",
    "CAUTION_MEAN",
    "CAUTION_OFF_SCHEMA",
    "CAUTION_ZERO_VARIANCE",
    "DRYRUN_PARAMS",
    "DryRunReport",
    "EndpointError",
    "GO",
    "NO_GO",
    "NO_GO_ALL_MIN",
    "NO_GO_MEAN",
    "dryrun_hook",
    "run_dryrun",
]
