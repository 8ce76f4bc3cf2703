"""Declare a stage's options once and check them with one error template.

Configuration arrives as plain mappings (from YAML or Python). Each stage declares its parameters
with :class:`Param`; :func:`parse_options` checks a mapping against them and returns plain values.

>>> params = (Param("size", int, low=1), Param("strategy", str, "uniform", choices=("uniform", "natural")))
>>> parse_options("balance", {"size": 150}, params)
{'size': 150, 'strategy': 'uniform'}
>>> parse_options("balance", {"size": 0}, params)
Traceback (most recent call last):
...
curate.errors.ConfigError: The 'size' parameter of balance must be an int in the range [1, inf). Got 0 instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from curate.errors import ConfigError

REQUIRED = object()


@dataclass(frozen=True)
class Param:
    """One option: its name, accepted type(s), default, and an optional range or set of choices."""

    name: str
    kind: type | tuple[type, ...]
    default: Any = REQUIRED
    low: float | None = None
    high: float | None = None
    choices: Sequence[Any] | None = None
    nullable: bool = False

    def describe(self) -> str:
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        text = " or ".join(_KIND_NAMES.get(k, k.__name__) for k in kinds)
        if self.choices is not None:
            return f"one of {', '.join(repr(c) for c in self.choices)}"
        if self.low is not None or self.high is not None:
            low = "-inf" if self.low is None else _num(self.low)
            high = "inf" if self.high is None else _num(self.high)
            text += f" in the range [{low}, {high}{']' if self.high is not None else ')'}"
        if self.nullable:
            text += " or null"
        return text

    def check(self, owner: str, value: Any, where: str = "") -> Any:
        if value is None and self.nullable:
            return None
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
        if ok and int in kinds and float not in kinds and isinstance(value, float):
            ok = False
        if ok and self.choices is not None and value not in self.choices:
            ok = False
        if ok and isinstance(value, int | float) and not isinstance(value, bool):
            ok = (self.low is None or value >= self.low) and (self.high is None or value <= self.high)
        if not ok:
            article = "must be" if self.choices is not None else f"must be {_article(self.describe())}"
            what = f"{article} {self.describe()}" if self.choices is not None else article
            raise ConfigError(
                f"{where}The {self.name!r} parameter of {owner} {what}. Got {value!r} instead."
            )
        return value


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_env_name(value: Any, owner: str, name: str, where: str = "") -> str:
    """``value`` if it is an environment variable name; a pasted key is refused and never echoed.

    >>> check_env_name("OPENAI_API_KEY", "dryrun", "api_key_env")
    'OPENAI_API_KEY'
    >>> check_env_name("sk-proj-abc123", "dryrun", "api_key_env")
    Traceback (most recent call last):
    ...
    curate.errors.ConfigError: The 'api_key_env' parameter of dryrun must be the name of an environment variable (letters, digits and _, like OPENAI_API_KEY). Got a value that is not one (not shown: it may be a key itself).
    """
    if isinstance(value, str) and _ENV_NAME.fullmatch(value):
        return value
    raise ConfigError(
        f"{where}The {name!r} parameter of {owner} must be the name of an environment variable (letters, "
        f"digits and _, like OPENAI_API_KEY). Got a value that is not one (not shown: it may be a key itself)."
    )


_KIND_NAMES = {int: "int", float: "float", str: "str", bool: "bool", list: "list", dict: "mapping"}


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _article(text: str) -> str:
    return ("an " if text[:1] in "aeiou" else "a ") + text


def parse_options(
    owner: str, mapping: Mapping[str, Any] | None, params: Sequence[Param], where: str = ""
) -> dict[str, Any]:
    """Check ``mapping`` against ``params``; unknown keys and missing required ones are errors.

    ``where`` prefixes messages, e.g. ``"pipeline.yaml: balance: "``.
    """
    mapping = dict(mapping or {})
    known = {p.name for p in params}
    unknown = sorted(set(mapping) - known)
    if unknown:
        raise ConfigError(
            f"{where}unknown option {unknown[0]!r} for {owner}; known options: {', '.join(sorted(known))}"
        )
    out: dict[str, Any] = {}
    for p in params:
        if p.name in mapping:
            out[p.name] = p.check(owner, mapping[p.name], where)
        elif p.default is REQUIRED:
            raise ConfigError(f"{where}{owner} needs the {p.name!r} option ({p.describe()})")
        else:
            out[p.name] = p.default
    return out
