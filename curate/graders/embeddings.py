"""The ``cosine`` text_similarity metric through an OpenAI-compatible ``/embeddings`` endpoint.

The platform embeds input and reference with ``text-embedding-3-large`` and scores their cosine
similarity (evals only). Locally, :class:`Embedder` asks any OpenAI-compatible server (vLLM,
Ollama, text-embeddings-inference, OpenAI itself) for the embeddings, once per distinct text of a
batch. Two empty texts score 1.0, one empty text 0.0 (nothing is sent for them); a transport or
parse error scores 0 with the ``model_grader_server_error`` flag.

>>> cosine([1.0, 0.0], [1.0, 0.0]), cosine([1.0, 0.0], [0.0, 2.0])
(1.0, 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

DEFAULT_MODEL = "text-embedding-3-large"
BATCH = 256  # texts per request

Result = tuple[float, "str | None"]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors; 0.0 when either is all zeros."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


class Embedder:
    """Embeds texts through ``base_url`` (``.../v1``); ``score(pairs)`` -> ``[(cosine, error)]``."""

    def __init__(
        self, base_url: str, *, api_key: str | None = None, model: str | None = None,
        timeout: float = 120.0,
    ) -> None:  # fmt: skip
        import openai

        self.model = model or DEFAULT_MODEL
        self.client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "not-needed", timeout=timeout, max_retries=2
        )

    def _embed(self, texts: list[str]) -> dict[str, list[float]]:
        vectors: dict[str, list[float]] = {}
        for start in range(0, len(texts), BATCH):
            chunk = texts[start : start + BATCH]
            reply = self.client.embeddings.create(model=self.model, input=chunk)
            data = sorted(reply.data, key=lambda d: d.index)
            if len(data) != len(chunk):
                raise ValueError(f"{len(chunk)} texts sent, {len(data)} embeddings returned")
            for text, item in zip(chunk, data, strict=True):
                vector = [float(x) for x in item.embedding]
                if not vector or not all(math.isfinite(x) for x in vector):
                    raise ValueError("an embedding is empty or not finite")
                vectors[text] = vector
        return vectors

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[Result]:
        """Cosine similarity of each ``(input, reference)`` pair's embeddings."""
        texts = sorted({t for pair in pairs for t in pair if t.strip()})
        try:
            vectors = self._embed(texts) if texts else {}
        except Exception as exc:  # noqa: BLE001 - any transport, API or shape error
            error = f"model_grader_server_error: embeddings: {type(exc).__name__}: {exc}"
            return [(0.0, error)] * len(pairs)
        out: list[Result] = []
        for got, want in pairs:
            if not got.strip() or not want.strip():
                out.append((1.0 if not got.strip() and not want.strip() else 0.0, None))
                continue
            try:
                out.append((cosine(vectors[got], vectors[want]), None))
            except ValueError as exc:  # vectors of different lengths
                out.append((0.0, f"model_grader_server_error: embeddings: {exc}"))
        return out
