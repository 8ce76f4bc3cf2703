"""Sample a model through any OpenAI-compatible endpoint: bounded concurrency, retries, cache.

Uses the official ``openai`` SDK (``AsyncOpenAI``, its own retries off in favour of the policy
here). ``concurrency`` workers pull requests from a queue; each response is written to the
:class:`~curate.dryrun.cache.ResponseCache` the moment it arrives. 429, 5xx, 408/409 and timeouts
are retried after the server's ``Retry-After``, or else with exponential backoff; a wrong key, an
unknown model or a refused request stops the run with an :class:`EndpointError` whose message is
one line and never contains the key. The first request is sent alone, so an unreachable endpoint or a bad key fails
fast instead of once per worker.

>>> settings = ClientSettings(model="gpt-4.1-mini", base_url="http://127.0.0.1:9/v1")
>>> resolve_api_key(settings, environ={})   # local endpoint, no key set: a dummy key
'sk-no-key-required'
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from curate.dryrun.cache import ResponseCache
from curate.errors import CurateError

DUMMY_KEY = "sk-no-key-required"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")
RETRY_STATUSES = (408, 409, 429)
MAX_BACKOFF = 30.0


class EndpointError(CurateError):
    """The model endpoint cannot be used (unreachable, bad key, unknown model, rate limited for long)."""


@dataclass(frozen=True)
class ClientSettings:
    """How to reach the model and what to send besides the messages."""

    model: str
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    response_format: Mapping[str, Any] | None = None
    params: Mapping[str, Any] = field(default_factory=dict)  # reasoning_effort, temperature, ...
    concurrency: int = 16
    timeout: float = 300.0
    max_retries: int = 8
    backoff: float = 0.5  # first retry delay in seconds, doubled each time up to MAX_BACKOFF


@dataclass(frozen=True)
class SampleRequest:
    """One response to obtain: the item, the sample index, and its cache key."""

    item: int
    item_id: str
    sample: int
    messages: Sequence[Mapping[str, Any]]
    key: str


def resolve_api_key(settings: ClientSettings, environ: Mapping[str, str] | None = None) -> str:
    """The API key from ``settings.api_key_env``; a dummy key for a local endpoint without one."""
    env = os.environ if environ is None else environ
    key = env.get(settings.api_key_env, "")
    if key:
        return key
    host = urlparse(settings.base_url or "").hostname or ""
    if settings.base_url and host in LOCAL_HOSTS:
        return DUMMY_KEY
    raise EndpointError(
        f"no API key: set {settings.api_key_env} (or name another variable with --api-key-env)"
    )


def _server_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error") if isinstance(body.get("error"), dict) else body
        if isinstance(inner.get("message"), str):
            return inner["message"]
    return str(getattr(exc, "message", "") or exc)


class _Sampler:
    def __init__(self, settings: ClientSettings, cache: ResponseCache, api_key: str,
                 on_response: Callable[[], None] | None, secrets: Sequence[str] = ()) -> None:
        import openai

        self.openai = openai
        self.settings = settings
        self.cache = cache
        self.api_key = api_key
        self.secrets = tuple(x for x in (api_key, *secrets) if x and x != DUMMY_KEY)
        self.on_response = on_response
        self.client = openai.AsyncOpenAI(
            api_key=api_key, base_url=settings.base_url, max_retries=0, timeout=settings.timeout
        )
        self.where = settings.base_url or "the OpenAI API"
        self.sent = 0
        self.fatal: EndpointError | None = None
        extra = {k: v for k, v in settings.params.items() if v is not None}
        if settings.response_format is not None:
            extra["response_format"] = dict(settings.response_format)
        self.extra = extra

    def _clean(self, text: str) -> str:
        return " ".join(mask_secrets(text, self.secrets).split())

    def _fail(self, message: str) -> EndpointError:
        return EndpointError(self._clean(message))

    async def fetch(self, request: SampleRequest, *, probe: bool = False) -> None:
        """Get one response (with retries) and cache it."""
        o = self.openai
        delay = self.settings.backoff
        last = ""
        for attempt in range(self.settings.max_retries + 1):
            if self.fatal is not None:
                return
            wait, server_said = delay, False
            try:
                self.sent += 1
                completion = await self.client.chat.completions.create(
                    model=self.settings.model, messages=list(request.messages), **self.extra
                )
            except (o.AuthenticationError, o.PermissionDeniedError) as exc:
                raise self._fail(
                    f"the endpoint at {self.where} rejected the API key ({exc.status_code}: "
                    f"{_server_message(exc)}); check {self.settings.api_key_env}"
                ) from None
            except o.NotFoundError as exc:
                raise self._fail(
                    f"model {self.settings.model!r} not found at {self.where} (404: "
                    f"{_server_message(exc)}); check --model and --base-url"
                ) from None
            except o.RateLimitError as exc:
                if getattr(exc, "code", None) == "insufficient_quota":
                    raise self._fail(f"out of quota at {self.where}: {_server_message(exc)}") from None
                last = f"rate limited (429: {_server_message(exc)})"
                retry_after = _retry_after(exc)
                if retry_after is not None:
                    wait, server_said = retry_after, True
            except o.APIStatusError as exc:
                if exc.status_code < 500 and exc.status_code not in RETRY_STATUSES:
                    raise self._fail(
                        f"the endpoint refused the request for item {request.item_id!r} "
                        f"({exc.status_code}: {_server_message(exc)})"
                    ) from None
                last = f"server error ({exc.status_code}: {_server_message(exc)})"
            except o.APITimeoutError:
                last = f"no answer within {self.settings.timeout:g} s"
            except o.APIConnectionError as exc:
                cause = exc.__cause__ or exc
                last = f"cannot connect ({type(cause).__name__}: {cause})"
                if probe and attempt >= 1:
                    raise self._fail(
                        f"cannot reach the endpoint at {self.where}: {last}; check --base-url "
                        "and that the server is running"
                    ) from None
            except (ValueError, o.APIResponseValidationError) as exc:  # a 200 whose body is not JSON
                last = f"a 200 response that is not a chat completion ({type(exc).__name__}: {exc})"
                if probe and attempt >= 1:
                    raise self._fail(f"the endpoint at {self.where} sent {last}; check --base-url") from None
            else:
                problem = _malformed(completion)
                if problem is None:  # nothing secret is stored, even if the server echoed it
                    record = mask_secrets(_response_record(completion), self.secrets)
                    self.cache.put(request.key, record)
                    if self.on_response is not None:
                        self.on_response()
                    return
                last = f"a 200 response that is not a chat completion ({problem})"
                if probe and attempt >= 1:
                    raise self._fail(f"the endpoint at {self.where} sent {last}; check --base-url") from None
            if attempt < self.settings.max_retries:
                await asyncio.sleep(min(wait, MAX_BACKOFF) * (1 + 0.25 * random.random()))
                if not server_said:  # our own guess: back off further next time
                    delay = min(delay * 2, MAX_BACKOFF)
        raise self._fail(
            f"gave up on item {request.item_id!r} after {self.settings.max_retries} retries at "
            f"{self.where}: {last}"
        )

    async def worker(self, queue: asyncio.Queue[SampleRequest]) -> None:
        while self.fatal is None:
            try:
                request = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            try:
                await self.fetch(request)
            except EndpointError as exc:
                self.fatal = self.fatal or exc

    async def run(self, pending: Sequence[SampleRequest]) -> None:
        try:
            if not pending:
                return
            await self.fetch(pending[0], probe=True)
            queue: asyncio.Queue[SampleRequest] = asyncio.Queue()
            for request in pending[1:]:
                queue.put_nowait(request)
            n = min(self.settings.concurrency, len(pending) - 1)
            await asyncio.gather(*(self.worker(queue) for _ in range(n)))
            if self.fatal is not None:
                raise self.fatal
        finally:
            await self.client.close()


def _retry_after(exc: Exception) -> float | None:
    response = getattr(exc, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def mask_secrets(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` with every secret in every string replaced by ``***`` (dicts and lists too).

    >>> mask_secrets({"content": "key sk-abc!", "n": 1}, ["sk-abc"])
    {'content': 'key ***!', 'n': 1}
    """
    if isinstance(value, str):
        for secret in secrets:
            if secret:
                value = value.replace(secret, "***")
        return value
    if isinstance(value, dict):
        return {k: mask_secrets(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(v, secrets) for v in value]
    return value


def _malformed(completion: Any) -> str | None:
    """Why a parsed 200 response is not a usable chat completion (None when it is)."""
    choices = getattr(completion, "choices", None)
    if not isinstance(choices, list) or not choices:
        return "no 'choices'"
    message = getattr(choices[0], "message", None)
    if message is None:
        return "no 'message' in choices[0]"
    content = getattr(message, "content", None)
    if content is not None and not isinstance(content, str):
        return f"'content' is a {type(content).__name__}, not a string"
    return None


def _response_record(completion: Any) -> dict[str, Any]:
    """What the cache keeps of a completion: the text, why it stopped, and token usage."""
    choice = completion.choices[0] if completion.choices else None
    message = choice.message if choice is not None else None
    usage = completion.usage
    details = getattr(usage, "completion_tokens_details", None) if usage is not None else None
    return {
        "content": (message.content if message is not None else None) or "",
        "refusal": getattr(message, "refusal", None) if message is not None else None,
        "finish_reason": choice.finish_reason if choice is not None else None,
        "prompt_tokens": (usage.prompt_tokens or 0) if usage is not None else 0,
        "completion_tokens": (usage.completion_tokens or 0) if usage is not None else 0,
        "reasoning_tokens": (getattr(details, "reasoning_tokens", None) or 0) if details else 0,
    }


def sample_missing(
    requests: Sequence[SampleRequest],
    settings: ClientSettings,
    cache: ResponseCache,
    *,
    on_response: Callable[[], None] | None = None,
    api_key: str | None = None,
    secrets: Sequence[str] = (),
) -> int:
    """Send every request whose key is not in ``cache``; return how many HTTP requests were sent.

    The API key and ``secrets`` are masked (``***``) in everything cached and in error messages.
    A 200 response that is not a chat completion (a body that is not JSON, no ``choices``) is
    retried like a server error and never cached.

    Raises :class:`EndpointError` on a problem that retrying cannot fix; responses received
    before it stay in the cache.
    """
    pending = list({r.key: r for r in requests if r.key not in cache}.values())
    if not pending:
        return 0
    sampler = _Sampler(settings, cache, api_key or resolve_api_key(settings), on_response, secrets)
    asyncio.run(sampler.run(pending))
    return sampler.sent
