"""Bounded template rendering: a prompt template cannot loop or print its way to a MemoryError.

Jinja's sandbox stops unsafe attribute access and caps one ``range()`` at 100,000 items, but nested
loops, ``'x' * 10**9``, ``2 ** 10**9`` or ``'%999999999d' % 1`` still run until memory is gone. Here
every render has a budget: :data:`MAX_STEPS` loop iterations and calls, :data:`MAX_OUTPUT`
characters of output, and operators whose result would be larger than that are refused before they
run. Exceeding a limit is a :class:`curate.errors.ConfigError` naming the template.

>>> render_bounded(BoundedEnvironment(), "{% for i in range(3) %}{{ i }}{% endfor %}", {}, "t")
'012'
>>> render_bounded(BoundedEnvironment(), "{% for i in range(100000) %}{% for j in range(100000) %}"
...                "{% endfor %}{% endfor %}", {}, "developer prompt")
Traceback (most recent call last):
...
curate.errors.ConfigError: developer prompt: the template does more than 1000000 loop steps or calls; refused (nested loops?)
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from curate.errors import ConfigError

MAX_STEPS = 1_000_000  # loop iterations plus calls, per rendered text
MAX_OUTPUT = 2_000_000  # characters per rendered text
_BUDGET = "_curate_budget"
_CONCAT = "_curate_concat"
INTERNAL_NAMES = frozenset({_BUDGET, _CONCAT})  # names the bounded parse adds to every template
_WIDE_FORMAT = re.compile(r"[%{][^%{}]*?\d{7,}")  # a width or precision of a million or more


class _Exhausted(Exception):
    """Raised inside a render when a budget runs out."""


class Budget:
    """Steps left for one render; an iterable wrapper counts every loop iteration."""

    def __init__(self, steps: int = MAX_STEPS) -> None:
        self.left = steps

    def spend(self, n: int = 1) -> None:
        self.left -= n
        if self.left < 0:
            raise _Exhausted(f"the template does more than {MAX_STEPS} loop steps or calls")

    def __call__(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.spend()
            yield item


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox with bounded loops, calls and operators (see the module docstring)."""

    intercepted_binops = frozenset({"*", "**", "%", "+"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: _bounded_filter(f) for name, f in self.filters.items()}
        self.globals[_CONCAT] = _concat

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = __context.get(_BUDGET)
        if isinstance(budget, Budget) and __obj is not budget:
            budget.spend()
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_OUTPUT:
                raise _Exhausted(f"a call with the argument {value} (more than {MAX_OUTPUT})")
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) and len(seq) * n > MAX_OUTPUT:
                    raise _Exhausted(f"'*' would make a value longer than {MAX_OUTPUT}")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and \
                    right * math.log2(abs(left)) > 64 * 1024:
                raise _Exhausted("'**' would make a number of more than 65536 bits")
        elif operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
            if len(left) + len(right) > MAX_OUTPUT:
                raise _Exhausted(f"'+' would make a value longer than {MAX_OUTPUT}")
        elif operator == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
            raise _Exhausted("'%' formatting with a width of a million or more")
        return super().call_binop(context, operator, left, right)

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        """Every ``for`` loop's iterable goes through the render's budget."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Call(nodes.Name(_BUDGET, "load"), [loop.iter], [], None, None,
                                   lineno=loop.lineno)
        for parent in tree.find_all(nodes.Node):  # `a ~ b` checks its size before joining
            for field in parent.fields:
                child = getattr(parent, field, None)
                if isinstance(child, nodes.Concat):
                    setattr(parent, field, _concat_call(child))
                elif isinstance(child, list):
                    setattr(parent, field, [_concat_call(c) if isinstance(c, nodes.Concat) else c for c in child])
        return tree


def _concat_call(node: nodes.Concat) -> nodes.Call:
    return nodes.Call(nodes.Name(_CONCAT, "load"), list(node.nodes), [], None, None, lineno=node.lineno)


def _concat(*values: Any) -> str:
    texts = [str(v) for v in values]
    if sum(map(len, texts)) > MAX_OUTPUT:
        raise _Exhausted(f"'~' would make a value longer than {MAX_OUTPUT}")
    return "".join(texts)


def _bounded_filter(func: Any) -> Any:
    """``func`` refusing huge integer arguments (``center(10**9)``) and huge ``join`` results."""
    import functools

    @functools.wraps(func)  # keeps jinja's pass_context/pass_environment marker
    def bounded(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_OUTPUT:
                raise _Exhausted(f"a filter argument {value} (more than {MAX_OUTPUT})")
        if func.__name__ == "do_join":
            return _checked_join(func, args, kwargs)
        return func(*args, **kwargs)

    return bounded


def _checked_join(func: Any, args: tuple, kwargs: dict) -> Any:
    values = [a for a in args if not hasattr(a, "environment") and not isinstance(a, Context)]
    if values and isinstance(values[0], Iterable) and not isinstance(values[0], str):
        items = list(values[0])
        sep = values[1] if len(values) > 1 else kwargs.get("d", "")
        if len(str(sep)) * max(len(items) - 1, 0) + sum(len(str(x)) for x in items) > MAX_OUTPUT:
            raise _Exhausted(f"'join' would make a value longer than {MAX_OUTPUT}")
        args = tuple(items if a is values[0] else a for a in args)
    return func(*args, **kwargs)


def render_bounded(env: BoundedEnvironment, template: Any, context: Mapping[str, Any], what: str) -> str:
    """Render ``template`` (a source string or a compiled template) within one budget."""
    compiled = env.from_string(template) if isinstance(template, str) else template
    parts: list[str] = []
    size = 0
    try:
        for chunk in compiled.generate(**context, **{_BUDGET: Budget()}):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise _Exhausted(f"the template writes more than {MAX_OUTPUT} characters")
            parts.append(chunk)
    except _Exhausted as exc:
        raise ConfigError(f"{what}: {exc}; refused{' (nested loops?)' if 'loop steps' in str(exc) else ''}") from None
    except (UndefinedError, SecurityError) as exc:
        raise ConfigError(f"{what}: {exc}") from None
    except (OverflowError, RecursionError, MemoryError) as exc:
        raise ConfigError(f"{what}: the template cannot be rendered ({type(exc).__name__}: {exc})") from None
    return "".join(parts)
