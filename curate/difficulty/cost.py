"""Cost before spend: token and dollar estimate of the difficulty stage, and the spend so far.

Prompt tokens are counted on the exact messages sent (``curate.rules.tokens.count_tokens``:
o200k_base through ``bpe-openai``/``tiktoken`` when installed, exact; else ``ceil(chars / 4)``),
plus :data:`MESSAGE_OVERHEAD` tokens per message for the chat format. Completion tokens per sample
are ``difficulty.completion_tokens`` when given, else ``max_completion_tokens`` (an upper bound), else
the tokens of the reference answer rendered in the response format (a lower bound for reasoning
models, whose hidden reasoning is billed as output: set ``completion_tokens`` for those).

>>> CostEstimate(1000, 200, (2.0, 8.0), True, "reference answer").cost_of(10)
0.036
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from curate.dryrun.cache import ResponseCache

MESSAGE_OVERHEAD = 4  # tokens per chat message around its content
REPLY_OVERHEAD = 3


@dataclass(frozen=True)
class CostEstimate:
    """Mean tokens per request and the price; ``cost_of(requests)`` in dollars (0 without a price)."""

    prompt_tokens: float
    completion_tokens: float
    price: tuple[float, float] | None
    exact: bool
    completion_from: str

    @property
    def how(self) -> str:
        counted = "o200k_base token counts" if self.exact else "estimated tokens (4 characters each; pip install bpe-openai for exact counts)"
        return f"{counted}, completion tokens from the {self.completion_from}"

    def cost_of(self, requests: int) -> float:
        if self.price is None:
            return 0.0
        return round(requests * (self.prompt_tokens * self.price[0] + self.completion_tokens * self.price[1]) / 1e6, 6)

    def describe(self, missing: int, total: int) -> str:
        tokens = f"{missing * self.prompt_tokens:,.0f} prompt + {missing * self.completion_tokens:,.0f} completion tokens"
        cost = f"${self.cost_of(missing):.4f}" if self.price is not None else "no price given"
        cached = f" ({total - missing} of {total} cached)" if missing < total else ""
        return f"difficulty: at most {missing} requests to send{cached}: {tokens}, {cost} ({self.how})"


def estimate_cost(bundle: Any, samples: int, opts: Mapping[str, Any]) -> CostEstimate:
    """The estimate for one request per item and sample, averaged over the bundle's ``train`` rows."""
    from curate.rules.tokens import count_tokens

    frame = bundle.splits["train"]
    contents = frame.select(pl.col("messages").list.eval(pl.element().struct.field("content"))
                            .list.join("\n").alias("c"))["c"]
    counts, exact = count_tokens(contents)
    turns = frame["messages"].list.len()
    prompt = float((counts + turns * MESSAGE_OVERHEAD).mean() or 0.0)
    if opts.get("completion_tokens"):
        completion, source = float(opts["completion_tokens"]), "completion_tokens option"
    elif opts.get("max_completion_tokens"):
        completion, source = float(opts["max_completion_tokens"]), "max_completion_tokens option (upper bound)"
    else:
        key = bundle.answer_key
        rendered = bundle.reference_json("train").map_elements(
            lambda ref: json.dumps({key: json.loads(ref)}) if bundle.response_format else str(json.loads(ref)),
            return_dtype=pl.String)
        ref_counts, _ = count_tokens(rendered)
        completion, source = float(ref_counts.mean() or 0.0) + REPLY_OVERHEAD, "reference answer (no reasoning tokens)"
    price = tuple(float(x) for x in opts["price"]) if opts.get("price") else None
    return CostEstimate(round(prompt, 3), round(completion, 3), price, exact, source)  # type: ignore[arg-type]


class SpendCache(ResponseCache):
    """The dry-run response cache that also adds up the tokens (and dollars) of responses put this run."""

    def __init__(self, folder: Path, price: Any = None) -> None:
        super().__init__(folder)
        self.price = tuple(price) if price else None
        self.prompt_tokens = self.completion_tokens = 0

    def put(self, key: str, response: Mapping[str, Any]) -> None:
        super().put(key, response)
        self.prompt_tokens += int(response.get("prompt_tokens") or 0)
        self.completion_tokens += int(response.get("completion_tokens") or 0)

    def spend(self) -> float:
        if self.price is None:
            return 0.0
        return (self.prompt_tokens * self.price[0] + self.completion_tokens * self.price[1]) / 1e6

    def spend_text(self) -> str:
        return f"${self.spend():.4f} spent" if self.price else f"{self.prompt_tokens + self.completion_tokens} tokens"
