"""``math``: a mathematical reference answer compared by symbolic equivalence (math-verify).

``"\\frac{1}{2}"``, ``"0.5"`` and ``"1/2"`` are one answer; so are ``"x+1"`` and ``"1+x"``. The
canonical answer is the string as given; the comparison key is the parsed expression (numbers by
their value to 12 significant digits, other expressions simplified). An answer math-verify
cannot parse is ``unparseable_answer``. Needs ``pip install 'curate[math]'``; parsing runs once
per distinct answer.

>>> _, norm, problem = Math().canonical(pl.Series(["\\\\frac{1}{2}", "0.5", "$1/2$", "\\\\frac{"]))
>>> norm.to_list(), problem.to_list()[3]
(['n:0.5', 'n:0.5', 'n:0.5', None], "math-verify cannot parse '\\\\\\\\frac{'")
"""

from __future__ import annotations

import logging
import threading
from typing import Any, ClassVar

import polars as pl

from curate._deps import optional_import
from curate.kinds.base import AnswerKind, unique_map


def math_key(text: str) -> tuple[str | None, str | None]:
    """``(key, problem)`` of one answer: equal keys mean equivalent answers."""
    math_verify = optional_import("math_verify", "math", "the math task kind")
    sympy = optional_import("sympy", "math", "the math task kind")
    body = text.strip()
    latex = body if "$" in body or "\\boxed" in body else f"${body}$"
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    try:
        parsed = math_verify.parse(latex, parsing_timeout=timeout)
    except Exception:  # noqa: BLE001 - math-verify raises many kinds on odd input
        parsed = []
    expr = parsed[0] if parsed else None
    if not isinstance(expr, sympy.Basic | set | frozenset):  # a bare string: nothing parsed
        return None, f"math-verify cannot parse {body[:60]!r}"
    try:
        if getattr(expr, "is_number", False) and expr.is_real:
            return f"n:{float(expr.evalf(20)):.12g}", None
        return f"e:{sympy.srepr(sympy.simplify(expr))}", None
    except Exception:  # noqa: BLE001 - simplification of exotic objects
        return f"s:{expr}", None


class Math(AnswerKind):
    """A math answer (LaTeX or plain); equivalent expressions are one answer."""

    name = "math"
    expected: ClassVar[str] = "a string or a number"

    def canonical(self, values: pl.Series) -> tuple[pl.Series, pl.Series, pl.Series]:
        values = values.cast(pl.String)
        norm, problem = unique_map(values, math_key, (pl.String(), pl.String()))
        return values, norm, problem

    def response_schema(self, answer_key: str, class_names: tuple[str, ...]) -> dict[str, Any] | None:
        from curate.kinds.base import one_property

        return one_property(answer_key, {"type": "string"})
