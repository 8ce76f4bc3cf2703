"""Graders: build platform grader JSON, validate it, lint its templates and run it locally.

One grader serves the baseline eval, the dry run and training, so gains are real.

>>> grader = build_grader("multilabel_f1")
>>> with LocalGrader(grader, workers=1) as g:
...     g.grade('{"labels": ["a", "b"]}', {"reference_answer": ["a", "b", "c"]}).score
0.8
"""

from curate.graders.defaults import default_grader
from curate.graders.lint import lint_templates
from curate.graders.presets import PRESETS, build_grader
from curate.graders.runner import GradeResult, LocalGrader, make_sample
from curate.graders.validate import validate_grader

__all__ = [
    "PRESETS",
    "GradeResult",
    "LocalGrader",
    "build_grader",
    "default_grader",
    "lint_templates",
    "make_sample",
    "validate_grader",
]
