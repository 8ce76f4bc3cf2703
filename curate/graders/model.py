"""``score_model`` and ``label_model`` graders against an OpenAI-compatible endpoint (optional).

They cannot run offline: :class:`~curate.graders.LocalGrader` runs them only when given a
``model_base_url`` (a local vLLM/Ollama server or any chat-completions API). The grader's messages
are rendered with the usual templates; the model answers through a JSON schema response format:
``{"steps": [...], "result": <number>}`` for ``score_model`` (clipped to ``range``, default [0, 1])
and ``{"result": <one of labels>}`` for ``label_model`` (1 when it is a passing label, else 0).
Failures score 0 with the platform's flags (``model_grader_server_error``, ``model_grader_parse_error``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from curate.graders.templates import TemplateError, render

Result = tuple[float, "str | None"]
_STEP = {
    "type": "object",
    "properties": {"description": {"type": "string"}, "conclusion": {"type": "string"}},
    "required": ["description", "conclusion"],
    "additionalProperties": False,
}


def _response_format(grader: Mapping[str, Any]) -> dict[str, Any]:
    if grader["type"] == "label_model":
        result: dict[str, Any] = {"type": "string", "enum": list(grader["labels"])}
    else:
        result = {"type": "number"}
    schema = {
        "type": "object",
        "properties": {"steps": {"type": "array", "items": _STEP}, "result": result},
        "required": ["steps", "result"],
        "additionalProperties": False,
    }
    return {
        "type": "json_schema",
        "json_schema": {"name": "grade", "strict": True, "schema": schema},
    }


def _content(value: Any) -> str:
    if isinstance(value, Mapping):
        return str(value.get("text", ""))
    return str(value)


class ModelGrader:
    """Calls the endpoint for one model grader; ``run(samples, items)`` -> ``[(score, error)]``."""

    def __init__(
        self,
        grader: Mapping[str, Any],
        *,
        base_url: str,
        api_key: str | None,
        timeout: float,
        threads: int,
    ) -> None:
        import openai

        self.grader = grader
        self.client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=2
        )
        self.threads = max(1, threads)
        self.format = _response_format(grader)
        params = dict(grader.get("sampling_params") or {})
        self.params = {
            key: params[src]
            for key, src in (("temperature", "temperature"), ("top_p", "top_p"), ("seed", "seed"),
                             ("max_completion_tokens", "max_completions_tokens"), ("reasoning_effort", "reasoning_effort"))
            if params.get(src) is not None
        }  # fmt: skip

    def run(self, samples: Sequence[dict], items: Sequence[dict]) -> list[Result]:
        pairs = list(zip(samples, items, strict=True))
        if len(pairs) <= 1 or self.threads == 1:
            return [self._one(s, i) for s, i in pairs]
        with ThreadPoolExecutor(self.threads) as pool:
            return list(pool.map(lambda p: self._one(*p), pairs))

    def _one(self, sample: dict, item: dict) -> Result:
        try:
            messages = [
                {"role": m["role"], "content": render(_content(m["content"]), item, sample)}
                for m in self.grader["input"]
            ]
        except TemplateError as exc:
            return 0.0, f"invalid_variable_error: {exc}"
        try:
            reply = self.client.chat.completions.create(
                model=self.grader["model"],
                messages=messages,
                response_format=self.format,
                **self.params,
            )
        except Exception as exc:  # noqa: BLE001 - any transport or API error
            return 0.0, f"model_grader_server_error: {type(exc).__name__}: {exc}"
        message = reply.choices[0].message if reply.choices else None
        if message is None or getattr(message, "refusal", None):
            return 0.0, "model_grader_refusal_error: the grader model refused"
        try:
            result = json.loads(message.content or "")["result"]
        except (ValueError, KeyError, TypeError):
            return 0.0, f"model_grader_parse_error: no 'result' in {str(message.content)[:80]!r}"
        if self.grader["type"] == "label_model":
            return (1.0 if result in self.grader["passing_labels"] else 0.0), None
        if (
            isinstance(result, bool)
            or not isinstance(result, int | float)
            or not math.isfinite(result)
        ):
            return 0.0, f"model_grader_parse_error: result {result!r} is not a number"
        low, high = self.grader.get("range") or (0.0, 1.0)
        return min(max(float(result), float(low)), float(high)), None
