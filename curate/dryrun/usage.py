"""Token usage of a dry run and its estimated cost.

Prices are list prices in USD per million tokens (input, output) for a few public models, as
published when this table was written; they change, so pass ``prices=(input, output)`` to
override. Reasoning tokens are billed as output tokens. For a model not in the table (a local
vLLM, Ollama or llama.cpp model) the cost is ``None`` unless prices are given.

>>> u = usage_summary([{"prompt_tokens": 1000, "completion_tokens": 500, "reasoning_tokens": 100}],
...                   model="o4-mini-2025-04-16")
>>> u["prompt_tokens"], u["completion_tokens"], u["estimated_cost_usd"]
(1000, 500, 0.0033)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "o4-mini": (1.10, 4.40),
    "o3-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
}


def price_for(model: str) -> tuple[float, float] | None:
    """List price of ``model`` (a dated snapshot matches its family), or None.

    >>> price_for("gpt-4.1-mini-2025-04-14"), price_for("llama3")
    ((0.4, 1.6), None)
    """
    for name in sorted(PRICES_PER_MTOK, key=len, reverse=True):
        if model == name or model.startswith(name + "-"):
            return PRICES_PER_MTOK[name]
    return None


def usage_summary(
    records: Iterable[Mapping[str, Any]],
    *,
    model: str,
    prices: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """Totals over every response of the study, whether requested in this run or cached before."""
    records = list(records)
    prompt = sum(int(r.get("prompt_tokens") or 0) for r in records)
    completion = sum(int(r.get("completion_tokens") or 0) for r in records)
    reasoning = sum(int(r.get("reasoning_tokens") or 0) for r in records)
    price = prices or price_for(model)
    cost = None if price is None else round((prompt * price[0] + completion * price[1]) / 1e6, 6)
    return {
        "responses": len(records),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "reasoning_tokens": reasoning,
        "estimated_cost_usd": cost,
        "price_per_mtok": list(price) if price else None,
    }
