"""Mapping label ids to names, with roll-up, on the real EuroVoc files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from curate.errors import VocabularyError
from curate.vocab import Vocabulary, identity_labels

ROOT = Path(__file__).resolve().parents[1]
CONCEPTS = ROOT / "examples" / "eurlex" / "concepts.tsv"
EUROVOC = {"vocabulary": str(CONCEPTS), "id": "concept_id", "name": "label_en", "parent": "domain_ids"}


def frame(labels: list[list[str]]) -> pl.DataFrame:
    return pl.DataFrame({"line": range(1, len(labels) + 1), "id": [f"r{i}" for i in range(len(labels))],
                         "labels": labels}, schema_overrides={"line": pl.Int64, "labels": pl.List(pl.String)})


def test_descriptors_roll_up_to_the_21_domains():
    vocab = Vocabulary.from_config({**EUROVOC, "level": "top"})
    assert len(vocab.class_names) == 21
    with open(CONCEPTS, newline="") as fh:
        rows = {r["concept_id"]: r for r in csv.DictReader(fh, delimiter="\t")}
    names = {cid: r["label_en"] for cid, r in rows.items()}
    for cid in ("1402", "2771", "4381"):  # checked against the TSV's own domain_ids
        expected = sorted({names[d] for d in rows[cid]["domain_ids"].split("|")})
        assert vocab.map_ids([cid]) == expected


def test_without_roll_up_names_are_the_descriptors_own():
    vocab = Vocabulary.from_config({**EUROVOC, "level": "none"})
    with open(CONCEPTS, newline="") as fh:
        names = {r["concept_id"]: r["label_en"] for r in csv.DictReader(fh, delimiter="\t")}
    assert vocab.map_ids(["1402", "2771"]) == sorted([names["1402"], names["2771"]])
    assert len(vocab.class_names) == len(set(names.values()))


def test_map_frame_reports_unknown_ids_and_rows_left_without_labels():
    vocab = Vocabulary.from_rows([("1", "fruit", None), ("10", "apples", "1")], level="top")
    out, findings = vocab.map_frame(frame([["10", "999"], ["998"], [], ["1", "10"]]))
    assert out["label_names"].to_list() == [["fruit"], [], [], ["fruit"]]
    assert findings.select("line", "rule", "severity", "value").rows() == [
        (1, "unknown_label", "warn", "999"),
        (2, "no_labels", "error", "998"),
        (2, "unknown_label", "warn", "998"),
        (3, "no_labels", "error", ""),
    ]


def test_multiple_parents_and_deep_chains():
    vocab = Vocabulary.from_rows(
        [("a", "A", None), ("b", "B", None), ("m", "mid", "a"), ("x", "leaf", "m|b")], level="top")
    assert vocab.map_ids(["x"]) == ["A", "B"] and vocab.class_names == ("A", "B")


def test_json_vocabularies(tmp_path):
    (tmp_path / "flat.json").write_text(json.dumps({"100149": "social questions"}))
    assert Vocabulary.from_config({"vocabulary": str(tmp_path / "flat.json")}).map_ids(["100149"]) == ["social questions"]
    (tmp_path / "nested.json").write_text(json.dumps({"1": {"en": "one", "up": ["0"]}, "0": {"en": "zero"}}))
    vocab = Vocabulary.from_config({"vocabulary": str(tmp_path / "nested.json"), "name": "en", "parent": "up",
                                    "level": "top"})
    assert vocab.map_ids(["1"]) == ["zero"]


def test_bad_vocabularies_name_the_file_and_problem(tmp_path):
    with pytest.raises(VocabularyError, match="no such vocabulary file"):
        Vocabulary.from_config({"vocabulary": str(tmp_path / "none.tsv")})
    (tmp_path / "v.tsv").write_text("code\tname\n1\tx\n")
    with pytest.raises(VocabularyError, match=r"v.tsv: no column 'concept_id' \(labels.id\)"):
        Vocabulary.from_config({"vocabulary": str(tmp_path / "v.tsv"), "id": "concept_id"})
    (tmp_path / "p.tsv").write_text("id\tname\tparent\n1\tx\t7\n")
    with pytest.raises(VocabularyError, match="parent id '7' has no entry"):
        Vocabulary.from_config({"vocabulary": str(tmp_path / "p.tsv"), "parent": "parent", "level": "top"})


def test_identity_labels_sort_dedupe_and_drop_blanks():
    out, findings = identity_labels(frame([["b", "a", "b"], [" ", ""]]))
    assert out["label_names"].to_list() == [["a", "b"], []]
    # blanks are dropped with a warning each (issue 13, D28), then the row has no labels left
    assert findings.select("line", "rule").rows() == [(2, "empty_label"), (2, "empty_label"), (2, "no_labels")]
