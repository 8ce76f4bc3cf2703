"""Where the row stages run: the engine registry.

An engine is a small object chosen by the pipeline's ``engine:`` key (or ``curate run --engine``):
``local`` (the default) runs every stage in this process; ``ray`` runs the row stages on Ray Data,
block by block, on a local Ray or a cluster (``pip install 'curate[ray]'``, see docs/scale.md).
The pipeline asks its engine for the stages it distributes instead of branching on its name:

- :meth:`Engine.session`: a context manager around the whole run (Ray starts and stops here);
- :meth:`Engine.evaluate_rules`: the rules stage, same contract as :func:`curate.rules.evaluate_rules`;
- :meth:`Engine.write_lines` / :meth:`Engine.write_jsonl`: an export file of lines (JSONL) from a
  frame of rows; the local engine writes it here as the export always did, the Ray engine turns
  blocks of rows into their lines on the workers and writes them in order.

Every engine gives byte-identical outputs for the same inputs. A new engine is one module here
subclassing :class:`Engine` (registered under its ``name``) and one entry in :data:`ENGINE_MODULES`.

>>> engine = get_engine({"name": "local"})
>>> engine.name, engine.options
('local', {})
>>> get_engine({"name": "spark"})
Traceback (most recent call last):
...
curate.errors.ConfigError: engine: unknown engine 'spark'; engines: local, ray
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from curate.errors import ConfigError
from curate.options import Param, parse_options

if TYPE_CHECKING:
    import polars as pl

    from curate.rules import RuleContext, RuleResult
    from curate.rules.base import Rule

__all__ = ["DEFAULT_ENGINE", "ENGINE_MODULES", "Engine", "engine_spec", "get_engine", "registered_engines"]

DEFAULT_ENGINE = "local"
# name -> module defining it: the one place an engine is registered (modules import lazily)
ENGINE_MODULES = {"local": "curate.engine.local", "ray": "curate.engine.ray"}


class Engine:
    """Base of every engine; constructors only store checked keyword options."""

    name: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    registry: ClassVar[dict[str, type[Engine]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name:
            Engine.registry[cls.name] = cls

    def __init__(self, where: str = "", **options: Any) -> None:
        self.where = where
        self.options = parse_options(f"engine {self.name}", options, self.params, where)

    @contextlib.contextmanager
    def session(self, say: Callable[[str], None] = lambda _: None) -> Iterator[Engine]:
        """Resources the engine holds for one run; ``say`` prints one progress line."""
        yield self

    def evaluate_rules(
        self,
        frame: pl.DataFrame,
        packs: Sequence[str | Mapping[str, Any] | Rule],
        *,
        base_dir: Path | None = None,
        context: RuleContext | None = None,
    ) -> RuleResult:
        """The rules stage (see :func:`curate.rules.evaluate_rules`)."""
        raise NotImplementedError

    def write_lines(self, frame: pl.DataFrame, serialise: Callable[[pl.DataFrame, Path], None], path: Path) -> None:
        """``path`` holding the lines of ``frame``'s rows as ``serialise(frame, path)`` writes them.

        ``serialise`` must be picklable (a module function, or a ``functools.partial`` of one: a
        distributed engine runs it on its workers) and give lines that concatenate: its file for
        the first rows, then its file for the rest, is its file for the whole frame (true of JSON
        lines). Here: one call over the whole frame."""
        serialise(frame, path)

    def write_jsonl(self, frame: pl.DataFrame, path: Path, reference_json: pl.Series | None = None,
                    wrap: str | None = None) -> None:
        """:func:`curate.export.openai_rft.write_jsonl` through this engine: the same bytes."""
        from curate.export.openai_rft import write_jsonl

        write_jsonl(frame, path, reference_json, wrap)


def registered_engines() -> dict[str, type[Engine]]:
    """Every engine class by name (importing an engine module never imports its heavy library)."""
    for module in ENGINE_MODULES.values():
        importlib.import_module(module)
    return dict(sorted(Engine.registry.items()))


def engine_spec(value: Any, where: str = "") -> dict[str, Any]:
    """The ``engine:`` key as a mapping: ``ray`` -> ``{"name": "ray"}``; absent -> the default.

    >>> engine_spec("ray"), engine_spec({"name": "ray", "address": "head:6379"})["address"]
    ({'name': 'ray'}, 'head:6379')
    """
    if value is None:
        return {"name": DEFAULT_ENGINE}
    if isinstance(value, str):
        return {"name": value}
    if isinstance(value, Mapping):
        spec = dict(value)
        spec.setdefault("name", DEFAULT_ENGINE)
        if not isinstance(spec["name"], str):
            raise ConfigError(f"{where}engine: name must be a string such as 'ray'; got {spec['name']!r}")
        return spec
    raise ConfigError(f"{where}engine: expected an engine name (local, ray) or a mapping like "
                      f"{{name: ray, address: 'head:6379'}}; got {type(value).__name__}")


def get_engine(spec: Mapping[str, Any] | str | None, where: str = "") -> Engine:
    """The engine a checked ``engine:`` key names, with its options checked (before any work)."""
    spec = engine_spec(spec, where)
    options = {k: v for k, v in spec.items() if k != "name"}
    engines = registered_engines()
    cls = engines.get(spec["name"])
    if cls is None:
        raise ConfigError(f"{where}engine: unknown engine {spec['name']!r}; engines: {', '.join(engines)}")
    return cls(where=f"{where}engine: ", **options)
