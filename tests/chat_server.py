"""A real HTTP server on 127.0.0.1 that speaks the chat completions API, for tests and benchmarks.

It implements ``POST /v1/chat/completions`` (structured output included: a ``response_format`` of
type ``json_schema`` is checked for shape) and ``GET /v1/models`` over HTTP/1.1 keep-alive, on its
own asyncio loop in a background thread. Behaviour is scripted per item: ``script`` maps the text of
the request's last user message to a list of reply contents, cycled per item in arrival order
(so ``[right, right, wrong, wrong, wrong]`` is "right 2 times in 5" whatever the concurrency).
It answers 401 for a wrong key, 404 ``model_not_found`` for an unknown model, 429 with
``Retry-After`` for the first ``rate_limit`` requests, 500 for the next ``fail_5xx``, and a 200
whose body is ``malformed_body`` (not JSON, or JSON without ``choices``) for the next
``malformed``. A reply containing ``{authorization}`` gets the request's Authorization header
pasted in, like a server that leaks it. It counts requests and stops by itself after
``max_requests`` requests or ``lifetime`` seconds.

    with ChatServer(script={"some text": ['{"labels": ["trade"]}']}) as server:
        client = openai.OpenAI(base_url=server.url, api_key=server.api_key)
        ...
        assert server.requests == 1

Run standalone (used by ``benchmarks/dryrun.py`` so server and client do not share a GIL)::

    python tests/chat_server.py --max-requests 20000 --lifetime 300   # prints the base URL
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 503: "Service Unavailable"}


def _error(status: int, message: str, code: str | None, kind: str = "invalid_request_error") -> tuple:
    return status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, {}


class ChatServer:
    """A scripted OpenAI-compatible chat completions server (see the module docstring)."""

    def __init__(
        self,
        script: Mapping[str, Sequence[str]] | None = None,
        *,
        default: Sequence[str] = ('{"labels": []}',),
        api_key: str = "sk-test-0123456789",
        models: Sequence[str] = ("stub-model",),
        rate_limit: int = 0,
        retry_after: float = 0.05,
        fail_5xx: int = 0,
        delay: float = 0.0,
        block_after: int | None = None,
        malformed: int = 0,
        malformed_body: str = "this is {not json",
        max_requests: int = 100_000,
        lifetime: float = 600.0,
    ) -> None:
        self.script = {k: list(v) for k, v in (script or {}).items()}
        self.default = list(default)
        self.api_key = api_key
        self.models = tuple(models)
        self.rate_limit = rate_limit
        self.retry_after = retry_after
        self.fail_5xx = fail_5xx
        self.delay = delay
        self.block_after = block_after  # after this many answered requests, hold the rest
        self.malformed = malformed  # the first N authorized requests get a 200 with malformed_body
        self.malformed_body = malformed_body
        self.max_requests = max_requests
        self.lifetime = lifetime
        self.requests = 0  # POSTs to /chat/completions, whatever the answer
        self._authorized = 0  # authorized POSTs so far, for rate_limit and fail_5xx
        self.answered = 0  # 200 answers
        self.by_item: Counter[str] = Counter()  # 200 answers per user text
        self.bodies: list[dict[str, Any]] = []  # last few request bodies (capped)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._release: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> ChatServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("chat server did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def release(self) -> None:
        """Answer the requests held by ``block_after`` and stop holding new ones."""
        self.block_after = None
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._release, self._stop = asyncio.Event(), asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            try:
                await asyncio.wait_for(self._stop.wait(), self.lifetime)
            except TimeoutError:
                pass

    # -- HTTP ------------------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                status, payload, extra = await self._route(method, path, headers, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                extra_headers = "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                writer.write(
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(data)}\r\n{extra_headers}\r\n".encode() + data
                )
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.LimitOverrunError,
                asyncio.CancelledError):  # a client went away, or the server is stopping
            pass
        finally:
            writer.close()

    async def _route(self, method: str, path: str, headers: dict, body: bytes) -> tuple:
        completions = method == "POST" and path.rstrip("/").endswith("/chat/completions")
        if completions:
            if self.requests >= self.max_requests:
                self._stop.set()  # type: ignore[union-attr]
                return _error(503, "request budget of the test server exhausted", None, "server_error")
            self.requests += 1
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return _error(401, "Incorrect API key provided.", "invalid_api_key")
        if method == "GET" and path.rstrip("/").endswith("/models"):
            return 200, {"object": "list", "data": [{"id": m, "object": "model"} for m in self.models]}, {}
        if not completions:
            return _error(404, f"unknown path {path}", None)
        self._authorized += 1
        if self._authorized <= self.rate_limit:
            return (*_error(429, "Rate limit reached.", "rate_limit_exceeded", "requests")[:2],
                    {"Retry-After": str(self.retry_after)})
        if self._authorized <= self.rate_limit + self.fail_5xx:
            return _error(500, "The server had an error.", None, "server_error")
        if self._authorized <= self.rate_limit + self.fail_5xx + self.malformed:
            return 200, self.malformed_body.encode(), {}
        request = json.loads(body)
        if request.get("model") not in self.models:
            return _error(404, f"The model `{request.get('model')}` does not exist.", "model_not_found")
        problem = _check_request(request)
        if problem:
            return _error(400, problem, "invalid_request")
        if len(self.bodies) < 50:
            self.bodies.append(request)
        if self.block_after is not None and self.answered >= self.block_after:
            await self._release.wait()  # type: ignore[union-attr]
        if self.delay:
            await asyncio.sleep(self.delay)
        user = next(m["content"] for m in reversed(request["messages"]) if m["role"] == "user")
        replies = self.script.get(user, self.default)
        content = replies[self.by_item[user] % len(replies)]
        content = content.replace("{authorization}", headers.get("authorization", ""))  # a leaky server
        self.by_item[user] += 1
        self.answered += 1
        prompt_tokens = sum(len(m["content"]) for m in request["messages"]) // 4 + 1
        completion_tokens = len(content) // 4 + 1
        return 200, {
            "id": f"chatcmpl-{self.requests}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content, "refusal": None}}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens,
                      "completion_tokens_details": {"reasoning_tokens": 0}},
        }, {}


def _check_request(request: dict[str, Any]) -> str | None:
    """Why a chat completions request body is malformed, or None."""
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty list"
    for m in messages:
        if m.get("role") not in ("developer", "system", "user", "assistant") or not isinstance(m.get("content"), str):
            return f"invalid message {m!r}"
    fmt = request.get("response_format")
    if fmt is not None:
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
        if not isinstance(schema, dict) or not isinstance(fmt["json_schema"].get("name"), str):
            return "response_format must be {'type': 'json_schema', 'json_schema': {'name', 'schema'}}"
    effort = request.get("reasoning_effort")
    if effort is not None and effort not in ("minimal", "low", "medium", "high"):
        return f"invalid reasoning_effort {effort!r}"
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--lifetime", type=float, default=300.0)
    parser.add_argument("--reply", default='{"labels": ["trade"]}')
    parser.add_argument("--api-key", default="sk-test-0123456789")
    parser.add_argument("--model", default="stub-model")
    args = parser.parse_args(argv)
    server = ChatServer(default=[args.reply], api_key=args.api_key, models=[args.model],
                        max_requests=args.max_requests, lifetime=args.lifetime)
    server.start()
    print(server.url, flush=True)
    server._thread.join()  # type: ignore[union-attr]  # ends after lifetime or max_requests


if __name__ == "__main__":
    main()
