"""Exact token counts that work offline, else nothing (callers then estimate from characters).

curate never downloads a tokenizer. An encoding is counted exactly by, in order:

1. ``bpe-openai`` (the ``tokens`` extra: ``pip install 'curate[tokens]'``), which ships the
   ``o200k_base`` and ``cl100k_base`` encodings inside the package and counts in Rust;
2. ``tiktoken``, when its encoding file is already in tiktoken's cache folder;
3. a Hugging Face ``tokenizer.json`` file the user names as ``file:PATH`` (the ``tokenizers``
   package), for open models.

:func:`counter_name` says which one counts (for messages and the manifest), or ``None`` when
counts are estimates.

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
_BPE_OPENAI = ("o200k_base", "cl100k_base")

Counter = Callable[[pl.Series], pl.Series]


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


def _batch(count_one: Callable[[str], int]) -> Counter:
    def count(texts: pl.Series) -> pl.Series:
        # tokenizers work on one string at a time; identical texts are counted once
        uniques = texts.unique()
        counts = pl.Series("n", [None if t is None else count_one(t) for t in uniques.to_list()], dtype=pl.Int64)
        table = pl.DataFrame({"t": uniques, "n": counts})
        return texts.to_frame("t").join(table, on="t", how="left", maintain_order="left", nulls_equal=True)["n"].alias(texts.name)

    return count


def _bpe_openai(encoding: str) -> Callable[[str], int] | None:
    if encoding not in _BPE_OPENAI or importlib.util.find_spec("bpe_openai") is None:
        return None
    try:
        from bpe_openai import _bindings

        return _bindings.tokenizer_for_encoding(encoding).count
    except Exception:  # a broken install must not break a run: fall back
        return None


def _tiktoken(encoding: str) -> Callable[[str], int] | None:
    if not encoding_cached(encoding):
        return None
    try:
        import tiktoken

        enc = tiktoken.get_encoding(encoding)
    except Exception:  # a broken cache must not break a run: fall back to the estimate
        return None
    return lambda text: len(enc.encode_ordinary(text))


def _hf_file(encoding: str) -> Callable[[str], int] | None:
    if not encoding.startswith("file:") or importlib.util.find_spec("tokenizers") is None:
        return None
    path = Path(encoding[len("file:"):]).expanduser()
    if not path.is_file():
        return None
    try:
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(path))
    except Exception:
        return None
    return lambda text: len(tok.encode(text, add_special_tokens=False).ids)


_BACKENDS = (("bpe-openai", _bpe_openai), ("tiktoken", _tiktoken), ("tokenizers", _hf_file))


@lru_cache(maxsize=16)
def _resolve(encoding: str) -> tuple[str, Callable[[str], int]] | None:
    for name, make in _BACKENDS:
        one = make(encoding)
        if one is not None:
            return name, one
    return None


def token_counter(encoding: str) -> Counter | None:
    """A batch function ``Series[str] -> Series[Int64]`` of exact token counts, or ``None``."""
    found = _resolve(encoding)
    return None if found is None else _batch(found[1])


def counter_name(encoding: str) -> str | None:
    """``"o200k_base via bpe-openai"`` when counts of ``encoding`` are exact, else ``None``."""
    found = _resolve(encoding)
    return None if found is None else f"{encoding} via {found[0]}"


def count_tokens(texts: pl.Series, encoding: str = "o200k_base", chars_per_token: float = 4.0) -> tuple[pl.Series, bool]:
    """Token counts of ``texts`` and whether they are exact (else ``ceil(chars / chars_per_token)``).

    >>> counts, exact = count_tokens(pl.Series(["abcdefgh", None]), encoding="none", chars_per_token=4)
    >>> counts.to_list(), exact
    ([2, None], False)
    """
    count = token_counter(encoding)
    if count is None:
        return (texts.str.len_chars() / chars_per_token).ceil().cast(pl.Int64), False
    return count(texts), True
