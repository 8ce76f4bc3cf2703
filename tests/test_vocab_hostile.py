"""Hostile vocabulary files (issue 13: D19, D20): one-line errors naming the file and line."""

from __future__ import annotations

import pytest

from curate.errors import VocabularyError
from curate.vocab import Vocabulary


def build(tmp_path, name: str, data: bytes) -> Vocabulary:
    (tmp_path / name).write_bytes(data)
    return Vocabulary.from_config({"vocabulary": name}, tmp_path)


def test_invalid_utf8_names_the_line(tmp_path):  # D19
    with pytest.raises(VocabularyError) as err:
        build(tmp_path, "v.csv", b"id,name\n1,apples\n2,caf\xe9\n")
    assert "line 3" in str(err.value) and "UTF-8" in str(err.value) and "\n" not in str(err.value)


def test_an_empty_name_is_an_error_not_a_class(tmp_path):  # D20
    with pytest.raises(VocabularyError, match="empty name"):
        build(tmp_path, "v.tsv", b"id\tname\tparent\n1\t\t\n2\tpears\t\n")
    with pytest.raises(VocabularyError, match="empty name"):
        build(tmp_path, "v.json", b'{"1": "  ", "2": "pears"}')


def test_bom_and_deep_or_nan_json(tmp_path):  # D14, D5
    assert build(tmp_path, "v.csv", b"\xef\xbb\xbfid,name\n1,apples\n").class_names == ("apples",)
    for data in (b'{"1": ' + b"[" * 3000 + b"]" * 3000 + b"}", b'{"1": NaN}'):
        with pytest.raises(VocabularyError):
            build(tmp_path, "v.json", data)
