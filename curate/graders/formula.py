"""Safe parser and evaluator for ``multi`` grader formulas (no ``eval``).

Grammar (the platform's documented operators and functions)::

    expr   := term (("+" | "-") term)*
    term   := unary (("*" | "/") unary)*
    unary  := ("+" | "-") unary | power
    power  := atom ("^" unary)?            right-associative
    atom   := NUMBER | NAME | FUNC "(" expr ("," expr)* ")" | "(" expr ")"
    FUNC   := min | max | abs | floor | ceil | exp | sqrt | log

>>> f = parse_formula("2 * precision * recall / max(precision + recall, 1e-9)")
>>> sorted(f.names)
['precision', 'recall']
>>> round(f.evaluate({"precision": 1.0, "recall": 2 / 3}), 6)
0.8
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from curate.errors import ConfigError

FUNCTIONS: dict[str, tuple[Any, int | None]] = {  # name -> (callable, arity or None = 1+)
    "min": (lambda *args: min(args), None),
    "max": (lambda *args: max(args), None),
    "abs": (abs, 1),
    "floor": (math.floor, 1),
    "ceil": (math.ceil, 1),
    "exp": (math.exp, 1),
    "sqrt": (math.sqrt, 1),
    "log": (math.log, 1),
}

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/^(),]))"
)


class FormulaError(ValueError):
    """A formula failed at evaluation time (division by zero, log of a negative number...)."""


@dataclass(frozen=True)
class Formula:
    """A parsed formula: ``text``, the sub-grader ``names`` it reads, and its syntax tree."""

    text: str
    tree: tuple
    names: frozenset[str]

    def evaluate(self, values: Mapping[str, float]) -> float:
        """Value of the formula for sub-grader scores ``values``; raises :class:`FormulaError`."""
        try:
            result = float(_eval(self.tree, values))
        except (ZeroDivisionError, ValueError, OverflowError, TypeError) as exc:
            raise FormulaError(f"formula {self.text!r}: {type(exc).__name__}: {exc}") from None
        if not math.isfinite(result):
            raise FormulaError(f"formula {self.text!r} gave {result}")
        return result


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    stripped_end = len(text.rstrip())
    while pos < stripped_end:
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ConfigError(
                f"formula {text!r}: unexpected character {text[pos:].lstrip()[:1]!r} at position {pos}"
            )
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    tokens.append(("end", ""))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, str]:
        return self.tokens[self.i]

    def take(self) -> tuple[str, str]:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, what: str) -> ConfigError:
        kind, value = self.peek()
        got = "the end" if kind == "end" else repr(value)
        return ConfigError(f"formula {self.text!r}: expected {what}, got {got}")

    def expect(self, op: str) -> None:
        if self.peek() != ("op", op):
            raise self.fail(repr(op))
        self.i += 1

    def expr(self) -> tuple:
        node = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            node = ("bin", self.take()[1], node, self.term())
        return node

    def term(self) -> tuple:
        node = self.unary()
        while self.peek() in (("op", "*"), ("op", "/")):
            node = ("bin", self.take()[1], node, self.unary())
        return node

    def unary(self) -> tuple:
        if self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            operand = self.unary()
            return ("neg", operand) if op == "-" else operand
        return self.power()

    def power(self) -> tuple:
        node = self.atom()
        if self.peek() == ("op", "^"):
            self.take()
            node = ("bin", "^", node, self.unary())
        return node

    def atom(self) -> tuple:
        kind, value = self.peek()
        if kind == "num":
            self.take()
            return ("num", float(value))
        if kind == "name":
            self.take()
            if self.peek() == ("op", "("):
                if value not in FUNCTIONS:
                    known = ", ".join(FUNCTIONS)
                    raise ConfigError(
                        f"formula {self.text!r}: unknown function {value!r}; known: {known}"
                    )
                self.take()
                args = [self.expr()]
                while self.peek() == ("op", ","):
                    self.take()
                    args.append(self.expr())
                self.expect(")")
                arity = FUNCTIONS[value][1]
                if arity is not None and len(args) != arity:
                    raise ConfigError(
                        f"formula {self.text!r}: {value}() takes {arity} argument, got {len(args)}"
                    )
                return ("call", value, tuple(args))
            if value in FUNCTIONS:
                raise ConfigError(f"formula {self.text!r}: function {value!r} needs parentheses")
            return ("name", value)
        if (kind, value) == ("op", "("):
            self.take()
            node = self.expr()
            self.expect(")")
            return node
        raise self.fail("a number, a sub-grader name, a function or '('")


def _names(tree: tuple) -> set[str]:
    kind = tree[0]
    if kind == "name":
        return {tree[1]}
    if kind == "neg":
        return _names(tree[1])
    if kind == "bin":
        return _names(tree[2]) | _names(tree[3])
    if kind == "call":
        return set().union(*(_names(a) for a in tree[2]))
    return set()


def _eval(tree: tuple, values: Mapping[str, float]) -> float:
    kind = tree[0]
    if kind == "num":
        return tree[1]
    if kind == "name":
        return float(values[tree[1]])
    if kind == "neg":
        return -_eval(tree[1], values)
    if kind == "call":
        return FUNCTIONS[tree[1]][0](*(_eval(a, values) for a in tree[2]))
    op, left, right = tree[1], _eval(tree[2], values), _eval(tree[3], values)
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        return left / right
    result = left**right
    if isinstance(result, complex):
        raise ValueError(f"{left} ^ {right} is not a real number")
    return result


def parse_formula(text: str, names: set[str] | frozenset[str] | None = None) -> Formula:
    """Parse ``text``; when ``names`` is given, every name it reads must be one of them."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("calculate_output must be a non-empty formula string")
    parser = _Parser(text)
    tree = parser.expr()
    if parser.peek()[0] != "end":
        raise parser.fail("an operator or the end")
    used = frozenset(_names(tree))
    if names is not None and not used <= set(names):
        unknown = ", ".join(sorted(used - set(names)))
        raise ConfigError(
            f"formula {text!r} reads {unknown}, which is not a sub-grader; sub-graders: {', '.join(sorted(names))}"
        )
    return Formula(text, tree, used)
