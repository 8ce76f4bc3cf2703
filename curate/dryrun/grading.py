"""Grade samples with the training grader, locally: ``curate.graders.LocalGrader`` when available.

The dry run must grade exactly as training will, so it uses the graders package's local runner
(python graders in reusable worker processes, ``multi`` formulas, the platform's ``sample``
object). While that package is not installed, a tiny private fallback runs a top-level ``python``
grader's ``source`` in this process; anything else then raises ``ConfigError``.

>>> grader = {"type": "python", "name": "len", "source": "def grade(sample, item):\\n    return 1.0"}
>>> with open_grader(grader) as g:
...     g.grade_many([("{}", {})])[0].score
1.0
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from curate.errors import ConfigError


def open_grader(grader: Mapping[str, Any], *, workers: int = 2, timeout: float = 120.0) -> Any:
    """A context manager with ``grade_many(pairs) -> list[GradeResult]`` for ``grader``."""
    try:
        from curate.graders import LocalGrader
    except ImportError:
        return _InlinePythonGrader(grader)
    return LocalGrader(grader, workers=workers, timeout=timeout)


def score_range(grader: Mapping[str, Any]) -> tuple[float, float]:
    """The lowest and highest score ``grader`` can give (``score_model`` may set ``range``).

    >>> score_range({"type": "score_model", "range": [1, 7]})
    (1.0, 7.0)
    """
    low, high = grader.get("range") or (0.0, 1.0)
    return float(low), float(high)


@dataclass(frozen=True)
class _Result:  # the shape of curate.graders.GradeResult
    score: float
    sub_scores: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


class _InlinePythonGrader:
    """Fallback until ``curate.graders`` lands: run one python grader's source in-process."""

    def __init__(self, grader: Mapping[str, Any]) -> None:
        if grader.get("type") != "python" or not isinstance(grader.get("source"), str):
            raise ConfigError(
                f"grading a {grader.get('type')!r} grader locally needs curate.graders (not installed)"
            )
        namespace: dict[str, Any] = {}
        exec(compile(grader["source"], "<grader>", "exec"), namespace)  # noqa: S102  (user's own grader)
        self._grade = namespace["grade"]

    def grade_many(self, pairs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[_Result]:
        out = []
        for text, item in pairs:
            try:
                output_json = json.loads(text)
            except ValueError:
                output_json = None
            try:
                score = self._grade({"output_text": text, "output_json": output_json}, dict(item))
                ok = isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score)
                out.append(_Result(float(score)) if ok else _Result(0.0, errors=[f"non-float score {score!r}"]))
            except Exception as exc:  # noqa: BLE001  (the platform scores a raising grader 0)
                out.append(_Result(0.0, errors=[f"python_grader_runtime_error: {type(exc).__name__}: {exc}"]))
        return out

    def close(self) -> None:
        pass

    def __enter__(self) -> _InlinePythonGrader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
