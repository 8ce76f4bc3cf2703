"""What runs inside a grader worker process (stdlib only, so workers start fast).

A worker compiles each python grader source once (cached by its hash) and calls ``grade(sample,
item)`` for every pair of a batch. Before each call it writes the pair's index and start time to
shared memory so the parent can tell which call overran the time limit and kill the worker.
"""

from __future__ import annotations

import math
import numbers
import os
import reprlib
import signal
import sys
import time
import traceback
from typing import Any

GRADER_FILENAME = "<grader>"
COMPILING = -2.0
IDLE = -1.0


def compile_source(source: str) -> Any:
    """The ``grade`` function defined by ``source``; raises whatever the source raises."""
    namespace: dict[str, Any] = {"__name__": "grader"}
    exec(compile(source, GRADER_FILENAME, "exec"), namespace)  # noqa: S102 - the user's own grader
    grade = namespace.get("grade")
    if not callable(grade):
        raise TypeError("the source defines no callable grade(sample, item)")
    return grade


def describe_exception(exc: BaseException) -> str:
    """``Type: message (grader line N)`` for an exception raised by grader code."""
    line = ""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename == GRADER_FILENAME:
            line = f" (grader line {frame.lineno})"
            break
    return f"{type(exc).__name__}: {exc}{line}"


def as_score(value: Any) -> tuple[float, str | None]:
    """``(score, None)`` for a finite real number, else ``(0.0, error)`` as the platform does."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        score = float(value)
        if math.isfinite(score):
            return score, None
        return 0.0, f"python_grader_runtime_error: grade() returned {score}, not a finite number"
    shown = reprlib.repr(value)
    return (
        0.0,
        f"python_grader_runtime_error: grade() returned {shown} ({type(value).__name__}), not a number",
    )


def call_grade(grade: Any, sample: Any, item: Any) -> tuple[float, str | None]:
    """Call ``grade`` once; exceptions and non-numbers become ``(0.0, error)``."""
    try:
        value = grade(sample, item)
    except BaseException as exc:  # noqa: BLE001 - SystemExit and friends from user code too
        return 0.0, f"python_grader_runtime_error: {describe_exception(exc)}"
    return as_score(value)


def _limit_memory(memory_mb: int) -> None:
    try:
        import resource
    except ImportError:  # not on POSIX: no limit
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = int(memory_mb) * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def main(conn: Any, status: Any, memory_mb: int) -> None:
    """Worker loop: ``("grade", key, source | None, pairs)`` -> list of ``(score, error)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    try:  # grader print()s go to stderr, never into the caller's stdout (e.g. `curate grade` JSON)
        sys.stdout.flush()
        os.dup2(2, 1)
    except (OSError, ValueError, AttributeError):
        pass
    _limit_memory(memory_mb)
    cache: dict[str, Any] = {}
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        _, key, source, pairs = message
        if key not in cache:
            status[1] = time.monotonic()
            status[0] = COMPILING
            try:
                cache[key] = compile_source(source)
            except BaseException as exc:  # noqa: BLE001
                cache[key] = (
                    f"python_grader_runtime_error: the source failed to load: {describe_exception(exc)}"
                )
        grade = cache[key]
        if isinstance(grade, str):
            results = [(0.0, grade)] * len(pairs)
        else:
            results = []
            append = results.append
            clock = time.monotonic
            for index, (sample, item) in enumerate(pairs):
                status[1] = clock()
                status[0] = index
                append(call_grade(grade, sample, item))
        status[0] = IDLE
        try:
            conn.send(results)
        except (OSError, ValueError):
            return
