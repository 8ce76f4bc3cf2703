"""Exact token counts offline: bpe-openai's shipped encodings agree with tiktoken's on the same files."""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import json
from pathlib import Path

import polars as pl
import pytest

from curate.rules import tokens

EURLEX = Path(__file__).parents[1] / "examples" / "eurlex" / "raw.jsonl"
MEDICAL = Path(__file__).parent / "data" / "inspect" / "medical_head40.jsonl"


def sample_texts() -> list[str]:
    eurlex = [json.loads(line)["text"]["en"] for line in EURLEX.read_text().splitlines()[:40]]
    medical = [json.loads(line)["Open-ended Verifiable Question"] for line in MEDICAL.read_text().splitlines()]
    odd = ["", " ", "EΠΙΤΡΟΠΗ", "def f(x):\n    return x ** 2  # 🙂", "Règlement (CE) n° 1234/2007", "\u200b\ufeffzero width",
           "a" * 5000, "1,000,000.50 € — 日本語のテキスト"]
    return eurlex + medical + odd


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_bpe_openai_counts_equal_tiktoken_on_cached_encodings(tmp_path, monkeypatch, encoding):
    pytest.importorskip("bpe_openai")
    tiktoken = pytest.importorskip("tiktoken")
    # tiktoken's cache, filled from the encoding files bpe-openai ships (tiktoken checks their sha256)
    data = gzip.decompress((importlib.resources.files("bpe_openai") / "data" / f"{encoding}.tiktoken.gz").read_bytes())
    blob = f"https://openaipublic.blob.core.windows.net/encodings/{encoding}.tiktoken"
    (tmp_path / hashlib.sha1(blob.encode()).hexdigest()).write_bytes(data)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    reference = tiktoken.get_encoding(encoding)
    texts = sample_texts()
    expected = [len(reference.encode_ordinary(t)) for t in texts]
    counts, exact = tokens.count_tokens(pl.Series(texts), encoding=encoding)
    assert exact and counts.to_list() == expected
    assert tokens.counter_name(encoding) == f"{encoding} via bpe-openai"


def test_counts_keep_row_order_nulls_and_repeats():
    pytest.importorskip("bpe_openai")
    texts = pl.Series("t", ["two words", None, "two words", "three words here"])
    counts, exact = tokens.count_tokens(texts)
    assert exact and counts.name == "t"
    assert counts.to_list() == [2, None, 2, 3]


def test_unknown_encoding_falls_back_to_the_estimate():
    assert tokens.counter_name("no_such_encoding") is None
    counts, exact = tokens.count_tokens(pl.Series(["abcdefghi"]), encoding="no_such_encoding")
    assert not exact and counts.to_list() == [3]
