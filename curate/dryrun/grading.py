"""Grade samples with the training grader, locally, exactly as training will.

The dry run grades through :class:`curate.graders.LocalGrader` (python graders in reusable worker
processes with the platform's limits, ``multi`` formulas, the platform's ``sample`` object), so a
score here is the reward training would give.

>>> grader = {"type": "python", "name": "one", "source": "def grade(sample, item):\\n    return 1.0"}
>>> with open_grader(grader, workers=0) as g:
...     g.grade_many([("{}", {})])[0].score
1.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from curate.graders import LocalGrader
from curate.graders.runner import score_range as grader_score_range


def open_grader(grader: Mapping[str, Any], *, workers: int = 2) -> LocalGrader:
    """A local runner for ``grader`` (a context manager; ``workers=0`` grades in this process)."""
    return LocalGrader(grader, workers=workers)


def score_range(grader: Mapping[str, Any]) -> tuple[float, float]:
    """The lowest and highest score ``grader`` can give (``score_model`` may set ``range``).

    >>> score_range({"type": "score_model", "range": [1, 7]}), score_range({"type": "python"})
    ((1.0, 7.0), (0.0, 1.0))
    """
    return grader_score_range(grader)
