"""Exact token counts when ``tiktoken`` and its encoding are available offline, else nothing.

curate never downloads a tokenizer: an encoding counts as available only when ``tiktoken`` is
installed and the encoding file is already in tiktoken's cache folder.

>>> token_counter("no_such_encoding") is None
True
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import polars as pl

_BLOBS = {
    name: f"https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
    for name in ("o200k_base", "cl100k_base", "p50k_base", "r50k_base")
}


def _cache_dir() -> Path:
    for var in ("TIKTOKEN_CACHE_DIR", "DATA_GYM_CACHE_DIR"):
        if os.environ.get(var):
            return Path(os.environ[var])
    return Path(tempfile.gettempdir()) / "data-gym-cache"


def encoding_cached(encoding: str) -> bool:
    """True when tiktoken is installed and ``encoding`` is in its cache (no network needed)."""
    blob = _BLOBS.get(encoding)
    if blob is None or importlib.util.find_spec("tiktoken") is None:
        return False
    return (_cache_dir() / hashlib.sha1(blob.encode()).hexdigest()).is_file()


@lru_cache(maxsize=8)
def token_counter(encoding: str) -> Callable[[pl.Series], pl.Series] | None:
    """A batch function ``Series[str] -> Series[Int64]`` of exact token counts, or ``None``."""
    if not encoding_cached(encoding):
        return None
    try:
        import tiktoken

        enc = tiktoken.get_encoding(encoding)
    except Exception:  # a broken cache must not break a run: fall back to the estimate
        return None

    def count(texts: pl.Series) -> pl.Series:
        values = texts.to_list()
        tokens = enc.encode_ordinary_batch([v or "" for v in values])
        lengths = [None if v is None else len(t) for v, t in zip(values, tokens, strict=True)]
        return pl.Series(texts.name, lengths, dtype=pl.Int64)

    return count
