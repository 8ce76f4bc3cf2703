"""On-disk cache of model responses, so an interrupted dry run resumes and a rerun costs nothing.

One append-only JSON Lines file (``OUT_DIR/.dryrun-cache/responses.jsonl``). Each response is written
with a single ``write`` as soon as it arrives and flushed to the operating system, so killing the
process loses at most the requests still in flight; ``close`` also fsyncs. A line cut short by a
kill is skipped on the next load. The key is a sha256 of the request that matters for the answer
(model, messages, response format, sampling parameters, sample index), never of the endpoint URL
or the API key, and nothing secret is stored.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> key = request_key("m", [{"role": "user", "content": "hi"}], None, {}, 0)
>>> with ResponseCache(folder) as cache:
...     cache.put(key, {"content": "{}"})
>>> ResponseCache(folder).get(key)
{'content': '{}'}
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

CACHE_DIR = ".dryrun-cache"
CACHE_FILE = "responses.jsonl"


def request_key(
    model: str,
    messages: Sequence[Mapping[str, Any]],
    response_format: Mapping[str, Any] | None,
    params: Mapping[str, Any],
    sample: int,
) -> str:
    """The cache key of one sampled response (sha256 hex of a canonical JSON of the request)."""
    blob = json.dumps(
        {"model": model, "messages": messages, "response_format": response_format,
         "params": {k: v for k, v in params.items() if v is not None}, "sample": sample},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    """Cached responses by key; ``put`` appends to disk at once (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / CACHE_FILE
        self._entries: dict[str, dict[str, Any]] = {}
        self._fh = None
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        with self.path.open("rb") as fh:
            for raw in fh:
                try:
                    record = json.loads(raw)
                    self._entries[record["key"]] = record["response"]
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a kill

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str) -> bool:
        return key in self._entries

    def get(self, key: str) -> dict[str, Any] | None:
        return self._entries.get(key)

    def put(self, key: str, response: Mapping[str, Any]) -> None:
        """Store ``response`` under ``key`` and write it to disk before returning."""
        if self._fh is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            cut_short = self.path.exists() and _last_byte(self.path) not in (b"", b"\n")
            self._fh = self.path.open("ab")
            if cut_short:  # the last line was cut short by a kill: start a fresh one
                self._fh.write(b"\n")
        line = json.dumps({"key": key, "response": response}, ensure_ascii=False, separators=(",", ":"))
        self._fh.write(line.encode() + b"\n")
        self._fh.flush()
        self._entries[key] = dict(response)

    def close(self) -> None:
        if self._fh is not None:
            os.fsync(self._fh.fileno())
            self._fh.close()
            self._fh = None

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _last_byte(path: Path) -> bytes:
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        if not fh.tell():
            return b""
        fh.seek(-1, os.SEEK_END)
        return fh.read(1)
