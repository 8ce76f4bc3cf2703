"""The default engine: every stage in this process, over whole polars frames."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from curate.engine import Engine

if TYPE_CHECKING:
    import polars as pl

    from curate.rules import RuleContext, RuleResult
    from curate.rules.base import Rule


class LocalEngine(Engine):
    """Runs the rules stage with :func:`curate.rules.evaluate_rules`, as a plain script would."""

    name = "local"

    def evaluate_rules(
        self,
        frame: pl.DataFrame,
        packs: Sequence[str | Mapping[str, Any] | Rule],
        *,
        base_dir: Path | None = None,
        context: RuleContext | None = None,
    ) -> RuleResult:
        from curate.rules import evaluate_rules

        return evaluate_rules(frame, packs, base_dir=base_dir, context=context)
