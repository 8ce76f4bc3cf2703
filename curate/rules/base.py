"""What a rule is: a small immutable object with a name, a severity, checked parameters and a message.

Two kinds exist:

- :class:`RowRule`: a polars expression meaning "this row passes"; every row rule of a run is
  evaluated together in one ``select``.
- :class:`DatasetRule`: an aggregate over the whole frame (duplicates, conflicts, id clashes) that
  returns findings directly.

Subclassing registers a rule under its ``name`` (a dict filled by ``__init_subclass__``), which is
how packs find it. A rule serialises flatly: ``Rule -> dict -> Rule``.

>>> from curate.rules.text import MaxChars
>>> rule = MaxChars(max=30000)
>>> rule.to_dict()
{'rule': 'max_chars', 'severity': 'error', 'max': 30000}
>>> Rule.from_dict(rule.to_dict()) == rule
True
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl

from curate.errors import ConfigError
from curate.frame import ERROR, SEVERITIES, TEXT
from curate.options import Param, parse_options

if TYPE_CHECKING:
    from curate.rules import RuleContext
    from curate.rules.workspace import Workspace

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
RESERVED_KEYS = ("rule", "severity", "enabled")


class Rule:
    """Base of every rule. Subclasses set the class attributes and implement one method.

    Constructors only store (checked) keyword arguments, like scikit-learn estimators.
    """

    name: ClassVar[str] = ""
    severity_default: ClassVar[str] = ERROR
    field: ClassVar[str | None] = TEXT
    params: ClassVar[tuple[Param, ...]] = ()
    message: ClassVar[str] = ""  # template; ``{param}`` placeholders take the rule's options
    kind: ClassVar[str] = "row"
    # True when the rule judges a row against statistics of the dataset (e.g. its median length):
    # the pipeline says at run time when such a rule rejected more than a small share of the rows
    data_relative: ClassVar[bool] = False
    task: ClassVar[str] = "any"  # "labels" or "answer": the rule runs only for that family of task kinds
    registry: ClassVar[dict[str, type[Rule]]] = {}

    __slots__ = ("severity", "enabled", "options")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.name:
            return
        if not NAME_RE.match(cls.name):
            raise ValueError(f"rule name {cls.name!r} is not snake_case")
        previous = Rule.registry.get(cls.name)
        if previous is not None and previous.__qualname__ != cls.__qualname__:
            raise ValueError(f"a rule named {cls.name!r} is already registered ({previous.__qualname__})")
        Rule.registry[cls.name] = cls

    def __init__(self, *, severity: str | None = None, enabled: bool = True, **options: Any) -> None:
        where = ""
        severity = self.severity_default if severity is None else severity
        if severity not in SEVERITIES:
            raise ConfigError(
                f"The 'severity' parameter of {self.name} must be one of 'error', 'warn'. "
                f"Got {severity!r} instead."
            )
        if not isinstance(enabled, bool):
            raise ConfigError(
                f"The 'enabled' parameter of {self.name} must be a bool. Got {enabled!r} instead."
            )
        checked = parse_options(self.name, options, self.params, where)
        # floats given as ints are fine (``threshold: 1``)
        for p in self.params:
            if p.kind is float and isinstance(checked.get(p.name), int):
                checked[p.name] = float(checked[p.name])
        object.__setattr__(self, "severity", severity)
        object.__setattr__(self, "enabled", enabled)
        object.__setattr__(self, "options", checked)

    def __setattr__(self, key: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; build a new rule instead")

    def __getattr__(self, key: str) -> Any:  # options read like attributes: rule.max
        options = object.__getattribute__(self, "options")
        if key in options:
            return options[key]
        raise AttributeError(key)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.to_dict() == self.to_dict()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((self.name, repr(sorted(self.to_dict().items(), key=lambda kv: kv[0]))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items() if k != "rule")
        return f"{type(self).__name__}({args})"

    # -- serialisation -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The flat mapping a pack entry holds."""
        out: dict[str, Any] = {"rule": self.name, "severity": self.severity}
        if not self.enabled:
            out["enabled"] = False
        out.update(self.options)
        return out

    @staticmethod
    def from_dict(entry: Mapping[str, Any], where: str = "") -> Rule:
        """Build a rule from a pack entry (``{rule: max_chars, max: 20000}``) via the registry."""
        import curate.rules.catalog  # noqa: F401  (registers the built-in rules)

        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}a rule entry must be a mapping like {{rule: max_chars}}; got {entry!r}")
        entry = dict(entry)
        name = entry.pop("rule", None)
        if not isinstance(name, str):
            raise ConfigError(f"{where}a rule entry needs a 'rule' key naming the rule; got {entry!r}")
        cls = Rule.registry.get(name)
        if cls is None:
            known = ", ".join(sorted(Rule.registry))
            raise ConfigError(f"{where}unknown rule {name!r}; known rules: {known}")
        try:
            return cls(**entry)
        except ConfigError as exc:
            raise ConfigError(f"{where}{exc}") from None

    def replace(self, **changes: Any) -> Rule:
        """A copy with some options, ``severity`` or ``enabled`` changed."""
        entry = self.to_dict()
        entry.update(changes)
        return Rule.from_dict(entry)

    def applies(self, context: RuleContext) -> bool:
        """True when the rule runs for the context's task kind (see :attr:`task`)."""
        return self.task == "any" or (self.task == "labels") == context.is_labels

    def render_message(self) -> str:
        return self.message.format(**self.options)


class RowRule(Rule):
    """A rule decided on each row alone by a polars expression."""

    kind: ClassVar[str] = "row"

    def stages(self, context: RuleContext) -> list[dict[str, pl.Expr]]:
        """Helper columns computed before :meth:`passes`, in stages (each a ``with_columns``), so
        an expensive intermediate is computed once. Name them ``_<rule name>_<what>``."""
        return []

    #: every text of printable ASCII, tabs, newlines and carriage returns passes (see :meth:`candidates`)
    plain_passes: ClassVar[bool] = False

    def passes(self, context: RuleContext) -> pl.Expr:
        """Boolean expression, true when the row is fine. Null counts as passing."""
        raise NotImplementedError

    def candidates(self, context: RuleContext) -> str | None:
        """A regex every failing row's text matches, or None. Rows whose text does not match pass
        without evaluating :meth:`passes`; the engine scans once for all such patterns together.
        When the rule sets :attr:`plain_passes` (no text of printable ASCII, tabs and newlines can
        match), only the other texts are scanned."""
        return None

    def check(self, frame: pl.DataFrame, context: RuleContext | None = None) -> pl.Series:
        """``passes`` evaluated on ``frame`` (helper stages included): True where the row is fine.

        >>> from curate.rules.text import MaxChars
        >>> MaxChars(max=3).check(pl.DataFrame({"text": ["abc", "abcd", None]})).to_list()
        [True, False, True]
        """
        from curate.rules import RuleContext

        context = context or RuleContext()
        for stage in self.stages(context):
            frame = frame.with_columns(**stage)
        return frame.select(self.passes(context).fill_null(True).alias(self.name))[self.name]

    def value(self, context: RuleContext) -> pl.Expr | None:
        """Short expression shown as the finding's ``value`` (truncated by the engine)."""
        return None

    def message_expr(self, context: RuleContext) -> pl.Expr | str:
        return self.render_message()


class DatasetRule(Rule):
    """A rule over the whole frame; returns a findings table (see :func:`curate.frame.findings_for`)."""

    kind: ClassVar[str] = "dataset"

    def evaluate(self, frame: pl.DataFrame, context: RuleContext, ws: Workspace) -> pl.DataFrame:
        raise NotImplementedError

    def near_config(self) -> tuple[float, int, int, int] | None:
        """``(threshold, ngram, num_perm, seed)`` when the rule asks the workspace for
        near-duplicate components: the engine plans every rule's MinHash bands in one pass."""
        return None


class StageRule(Rule):
    """A finding another stage emits (loader, vocabulary). Registered so packs can restate its
    severity or disable it; it evaluates nothing itself."""

    kind: ClassVar[str] = "stage"
    field: ClassVar[str | None] = None
