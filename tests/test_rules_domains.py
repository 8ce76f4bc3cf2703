"""Acceptance for rule defaults that fit any domain (issue 15), on real data shipped in tests/data.

- BANKING77 (13,083 short support queries): the default pack rejects at most 0.2% by text rules,
  and finds the conflicts whose texts differ only in word order.
- NLU++ hotels (1,009 dialogue utterances, many of a few words): no utterance is rejected for its
  length; near-same utterances with different intents are reported.
- EUR-Lex: stubs ("See Annex.", "OK", "n/a") among long acts are still rejected, and a pipeline run
  says so when a rule judged against the dataset rejected more than a small share.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import curate
from curate.frame import ERROR
from curate.rules import evaluate_rules

DATA = Path(__file__).parent / "data"
TEXT_RULES = {"empty_text", "min_chars", "max_chars", "max_tokens", "unusual_length", "mojibake", "control_chars",
              "mostly_non_text", "mixed_script"}
LENGTH_RULES = {"empty_text", "min_chars", "max_chars", "max_tokens", "unusual_length"}


def frame(texts: list[str], labels: list[list[str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"line": range(1, len(texts) + 1), "id": [str(i) for i in range(1, len(texts) + 1)], "text": texts,
         "labels": labels, "label_names": labels},
        schema={"line": pl.Int64, "id": pl.String, "text": pl.String, "labels": pl.List(pl.String),
                "label_names": pl.List(pl.String)},
    )


@pytest.fixture(scope="module")
def banking77():
    rows = pl.concat([pl.read_csv(DATA / "banking77" / f"{name}.csv") for name in ("train", "test")])
    f = frame(rows["text"].to_list(), [[c] for c in rows["category"].to_list()])
    return f, evaluate_rules(f, ["default"]).findings


@pytest.fixture(scope="module")
def hotels():
    rows = [json.loads(x) for x in (DATA / "nlupp_hotels.jsonl").read_text(encoding="utf-8").splitlines()]
    f = frame([r["text"] for r in rows], [sorted(r.get("intents", [])) for r in rows])
    return f, evaluate_rules(f, ["default"]).findings


def lines_of(f: pl.DataFrame, *texts: str) -> set[int]:
    return set(f.filter(pl.col("text").is_in(list(texts)))["line"].to_list())


def test_banking77_loses_at_most_0_2_percent_to_text_rules(banking77):
    f, found = banking77
    assert f.height == 13083
    rejected = found.filter(pl.col("rule").is_in(TEXT_RULES) & (pl.col("severity") == ERROR))["line"].n_unique()
    assert rejected <= 0.002 * f.height, rejected
    # short queries are normal here: "Where is my card?" (17 characters) is kept without a word
    assert not found.filter(pl.col("line").is_in(lines_of(f, "Where is my card?")) & pl.col("rule").is_in(TEXT_RULES)).height


def test_banking77_conflicts_that_differ_only_in_word_order(banking77):
    f, found = banking77
    conflicts = set(found.filter(pl.col("rule") == "label_conflict")["line"].to_list())
    for pair in [("Is my transfer pending?", "My transfer is pending."),
                 ("My top up was rejected. Why?", "Why was my top-up rejected?"),
                 ("Is my top up not working?", "My top up is not working")]:
        lines = lines_of(f, *pair)
        assert len(lines) == 2 and lines <= conflicts, pair
    # distinct intents that differ by a word are not conflicts
    assert not lines_of(f, "When will my new card arrive?", "When will my card arrive?") & conflicts


def test_hotels_no_utterance_rejected_for_length(hotels):
    f, found = hotels
    assert f.height == 1009
    length = found.filter(pl.col("rule").is_in(LENGTH_RULES))
    assert length.filter(pl.col("severity") == ERROR).height == 0
    assert not lines_of(f, "wifi is broken", "Is there a gym") & set(length["line"].to_list())
    # one-character replies are only warned about ("3" among utterances of typically 37 characters)
    assert set(length.filter(pl.col("line").is_in(lines_of(f, "3")))["rule"]) == {"unusual_length"}


def test_hotels_near_same_utterances_with_different_intents_are_reported(hotels):
    f, found = hotels
    pair = lines_of(f, "Hi, can I get some food delivered now", "Hi, can I get some food delivered")
    assert len(pair) == 2
    near = found.filter(pl.col("rule") == "near_label_conflict")
    assert pair <= set(near["line"].to_list())
    assert set(near.filter(pl.col("line").is_in(pair))["severity"]) == {"warn"}  # reported, kept


def eurlex_with_stubs(stubs: list[str]) -> pl.DataFrame:
    rows = [json.loads(x) for x in (DATA / "rules_eurlex_sample.jsonl").read_text(encoding="utf-8").splitlines()]
    return frame([r["text"] for r in rows] + stubs, [sorted(r["level_1_en"]) for r in rows] + [["law"]] * len(stubs))


def test_stubs_among_long_acts_are_rejected():
    stubs = ["See Annex.", "OK", "n/a", "Repealed."]
    f = eurlex_with_stubs(stubs)
    found = evaluate_rules(f, ["default"]).findings
    stub_lines = lines_of(f, *stubs)
    rejected = found.filter((pl.col("rule") == "min_chars") & (pl.col("severity") == ERROR))
    assert set(rejected["line"].to_list()) == stub_lines  # and no real act
    assert rejected["message"].str.contains("1% of this dataset's median length").all()
    # the same stubs among short texts are ordinary: "OK" is a fine reply in a chat
    chat = frame(["Where is my card?", "What is the rate?", "Thanks!", "Can I top up by card?"] * 6 + stubs,
                 [["x"]] * 28)
    assert evaluate_rules(chat, ["default"]).findings.filter(pl.col("severity") == ERROR).filter(
        pl.col("rule").is_in(LENGTH_RULES)).height == 0


def test_unusual_length_and_its_floor():
    texts = [f"A short message about topic number {i}." for i in range(40)]
    f = frame(texts + ["x " * 2000, "Hi"], [["a"]] * 42)
    found = evaluate_rules(f, [{"rule": "unusual_length"}]).findings
    assert found["line"].to_list() == [41, 42]
    assert found["message"].str.contains("far longer").to_list() == [True, False]
    # too few rows to judge: nothing
    assert evaluate_rules(f[38:], [{"rule": "unusual_length"}]).findings.height == 0


def test_mixed_script_words():
    texts = ["EΠΙΤΡΟΠΗ ΤΩΝ ΕΥΡΩΠΑΪΚΩΝ ΚΟΙΝΟΤΗΤΩΝ", "ΕΠΙΤΡΟΠΗ ΤΩΝ ΕΥΡΩΠΑΪΚΩΝ ΚΟΙΝΟΤΗΤΩΝ", "Log in at pаypal.com",
             "TNFα and NF-κB at 5 μg/ml", "Москва and Paris", "Mосква"]
    found = evaluate_rules(frame(texts, [["a"]] * 6), [{"rule": "mixed_script"}]).findings
    assert found.select("line", "value").rows() == [(1, "EΠΙΤΡΟΠΗ"), (3, "pаypal"), (6, "Mосква")]
    assert set(found["severity"]) == {"warn"}


def test_a_run_says_when_a_data_relative_rule_rejected_many_rows(tmp_path):
    rows = [json.loads(x) for x in (DATA / "rules_eurlex_sample.jsonl").read_text(encoding="utf-8").splitlines()]
    rows += [{"celex_id": f"stub-{i}", "text": "See Annex.", "level_1_en": ["law"]} for i in range(5)]
    (tmp_path / "acts.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    config = curate.load_config({
        "source": {"path": "acts.jsonl", "id": "celex_id", "text": "text", "labels": "level_1_en"},
        "rules": ["default"], "split": {"validation": 0.2, "seed": 1}, "export": {"out": "out", "user": "{{ text }}"},
    }, base_dir=tmp_path)
    said: list[str] = []
    result = curate.Pipeline(config, progress=said.append).run()
    warned = [s for s in said if s.startswith("warning: min_chars rejected")]
    assert len(warned) == 1 and "of 205 rows" in warned[0], said
    (entry,) = result.manifest["rule_warnings"]
    assert entry["rule"] == "min_chars" and entry["rows"] >= 5
    assert "min_chars rejected" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
