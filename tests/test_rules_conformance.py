"""Conformance suite run over every registered rule (built-in and user-defined ones alike)."""

from __future__ import annotations

import polars as pl
import pytest
import yaml

from curate.frame import FINDINGS_SCHEMA, GROUPS_SCHEMA, SEVERITIES
from curate.rules import (
    Rule,
    RuleContext,
    RuleResult,
    evaluate_rules,
    registered_rules,
    resolve_rules,
)
from curate.rules.base import NAME_RE, DatasetRule, RowRule, StageRule

RULES = registered_rules()
CONTEXT = RuleContext(
    label_names=("trade", "finance", "energy"),
    response_format={"type": "json_schema", "json_schema": {"name": "a", "strict": True, "schema": {
        "type": "object", "properties": {"labels": {"type": "array", "maxItems": 2,
                                                    "items": {"type": "string", "enum": ["trade", "finance", "energy"]}}}}}},
)
SCHEMA = {"line": pl.Int64, "id": pl.String, "text": pl.String, "labels": pl.List(pl.String),
          "label_names": pl.List(pl.String)}

BASE = "Commission Regulation laying down detailed rules for the application of import duties on cereals"
MESSY = pl.DataFrame(
    {
        "line": [10, 3, 7, 1, 12, 5, 8, 2, 11, 4, 6, 9],
        "id": ["a", "b", "a", None, "e", "f", "g", "h", "i", "j", "k", "l"],
        "text": [
            BASE, BASE, BASE + "!", "", "x" * 50, "Ã©tÃ© trÃ¨s " + BASE, BASE.upper(),
            "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", None, "ok\x00" + BASE, "tiny",
            BASE + " concerning the tariff classification of goods (EΠΙΤΡΟΠΗ)",
        ],
        "labels": [["t"], ["t"], ["f"], [], ["t"], ["t"], ["t"], ["t"], None, ["t"], ["t"], ["e", "t", "f", "s"]],
        "label_names": [["trade"], ["trade"], ["finance"], [], ["trade"], ["trade"], ["trade"], ["trade"], None,
                        ["trade"], ["trade"], ["energy", "finance", "sport", "trade"]],
    },
    schema=SCHEMA,
)


def make(name: str) -> Rule:
    return RULES[name]()


def only(rule: Rule) -> list:
    return [rule.to_dict()]


@pytest.mark.parametrize("name", sorted(RULES))
def test_name_kind_and_severity(name):
    rule = make(name)
    assert NAME_RE.match(name) and rule.name == name
    assert rule.severity in SEVERITIES
    assert isinstance(rule, RowRule | DatasetRule | StageRule)
    assert rule.message, "every rule has a message"


@pytest.mark.parametrize("name", sorted(RULES))
def test_yaml_round_trip(name):
    rule = make(name)
    text = yaml.safe_dump(rule.to_dict())
    again = Rule.from_dict(yaml.safe_load(text))
    assert again == rule and again.to_dict() == rule.to_dict()
    flipped = rule.replace(severity="warn" if rule.severity == "error" else "error", enabled=False)
    assert Rule.from_dict(yaml.safe_load(yaml.safe_dump(flipped.to_dict()))) == flipped
    assert flipped != rule


@pytest.mark.parametrize("name", sorted(RULES))
def test_survives_an_empty_frame(name):
    result = evaluate_rules(pl.DataFrame(schema=SCHEMA), only(make(name)), context=CONTEXT)
    assert isinstance(result, RuleResult)
    assert result.findings.schema == pl.Schema(FINDINGS_SCHEMA) and result.findings.height == 0
    assert result.groups.schema == pl.Schema(GROUPS_SCHEMA)


@pytest.mark.parametrize("name", sorted(RULES))
def test_survives_all_null_columns(name):
    frame = pl.DataFrame(
        {"line": [1, 2, 3], "id": [None] * 3, "text": [None] * 3, "labels": [None] * 3, "label_names": [None] * 3},
        schema=SCHEMA,
    )
    result = evaluate_rules(frame, only(make(name)), context=CONTEXT)
    assert result.findings.schema == pl.Schema(FINDINGS_SCHEMA)
    assert set(result.findings["line"].to_list()) <= {1, 2, 3}
    assert result.findings["rule"].is_in([name]).all()


@pytest.mark.parametrize("name", sorted(RULES))
def test_identical_results_on_reordered_input(name):
    rule = make(name)
    first = evaluate_rules(MESSY, only(rule), context=CONTEXT)
    for seed in (1, 2, 3):
        shuffled = MESSY.sample(fraction=1.0, shuffle=True, seed=seed)
        again = evaluate_rules(shuffled, only(rule), context=CONTEXT)
        assert again.findings.equals(first.findings), name
        assert again.groups.equals(first.groups), name


def test_the_messy_frame_exercises_most_rules():
    """Guards the conformance data itself: the reorder test must compare real findings."""
    # 12 rows are too few for the data-relative length rules' defaults (min_rows 20)
    small = [{"rule": "min_chars", "min": 20}, {"rule": "unusual_length", "min_rows": 5, "z": 2.0}]
    fired = set(evaluate_rules(MESSY, ["default", {"rule": "near_duplicate", "threshold": 0.5}, *small], context=CONTEXT).findings["rule"])
    assert {"duplicate", "normalized_duplicate", "near_duplicate", "label_conflict", "id_conflict", "missing_id",
            "empty_text", "min_chars", "mojibake", "control_chars", "mostly_non_text", "answer_schema",
            "label_outside_vocabulary", "unusual_length", "mixed_script", "near_label_conflict"} - fired == set()


@pytest.mark.parametrize("pack", ["default", "strict", "minimal"])
def test_shipped_packs_load_and_round_trip(pack, tmp_path):
    from curate.rules import dump_pack

    rules = resolve_rules([pack])
    assert rules and all(isinstance(r, Rule) for r in rules)
    path = tmp_path / "copy.yaml"
    path.write_text(dump_pack(rules, description="copy"))
    assert resolve_rules([str(path)]) == rules


try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
except ImportError:  # pragma: no cover
    st = None

if st is not None:
    WORDS = ["import", "duty", "cereal", "rice", "Fruit", "fruit", "  ", "Ã©", "\x07", "regulation", "1.5", "||"]
    row = st.tuples(
        st.lists(st.sampled_from(WORDS), min_size=0, max_size=12).map(" ".join),
        st.lists(st.sampled_from(["trade", "finance", "energy"]), max_size=3, unique=True).map(sorted),
        st.sampled_from([None, "a", "b", "c", "d"]),
    )

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(row, min_size=0, max_size=25), st.randoms(use_true_random=False))
    def test_default_pack_is_order_free_on_random_frames(rows, rnd):
        frame = pl.DataFrame(
            {"line": list(range(1, len(rows) + 1)), "id": [r[2] for r in rows], "text": [r[0] for r in rows],
             "labels": [r[1] for r in rows], "label_names": [r[1] for r in rows]},
            schema=SCHEMA,
        )
        packs = ["default", {"rule": "near_duplicate", "threshold": 0.5}, {"rule": "label_conflict", "threshold": 0.5}]
        first = evaluate_rules(frame, packs, context=CONTEXT)
        order = list(range(len(rows)))
        rnd.shuffle(order)
        again = evaluate_rules(frame[order] if rows else frame, packs, context=CONTEXT)
        assert again.findings.equals(first.findings)
        assert again.groups.equals(first.groups)
        # every group's id is its smallest line, and duplicates always point back to a smaller line
        for line, group in first.groups.iter_rows():
            assert group <= line
        dups = first.findings.filter(pl.col("rule").is_in(["duplicate", "normalized_duplicate", "near_duplicate"]))
        assert all(int(v) < line for line, v in dups.select("line", "value").iter_rows())


# -- open-answer tasks ---------------------------------------------------------------------------
from curate.kinds import get_kind  # noqa: E402

ANSWER_SCHEMA = {**SCHEMA, "answer": pl.String, "answer_norm": pl.String}
ANSWER_KINDS = ("text", "number", "json", "math")
ANSWER_RULES = sorted(n for n, cls in RULES.items() if cls.task == "answer")
MESSY_ANSWERS = MESSY.with_columns(
    pl.Series("answer", ["1000", "1000", "1001", "", "1000", None, "12", "17", "5", "7", "  ", "x" * 900]),
).with_columns(pl.when(pl.col("answer").str.contains(r"^\d+$")).then(pl.col("answer")).alias("answer_norm"))


def answer_context(kind: str) -> RuleContext:
    return RuleContext(kind=get_kind(kind))


def test_answer_rules_exist():
    assert {"empty_answer", "answer_conflict", "answer_in_prompt", "overlong_answer", "unverifiable_answer"} <= set(ANSWER_RULES)


@pytest.mark.parametrize("kind", ANSWER_KINDS)
@pytest.mark.parametrize("name", sorted(RULES))
def test_every_rule_survives_empty_and_all_null_answer_frames(name, kind):
    ctx = answer_context(kind)
    empty = evaluate_rules(pl.DataFrame(schema=ANSWER_SCHEMA), only(make(name)), context=ctx)
    assert empty.findings.height == 0 and empty.findings.schema == pl.Schema(FINDINGS_SCHEMA)
    nulls = pl.DataFrame({k: [None] * 3 for k in ANSWER_SCHEMA}, schema=ANSWER_SCHEMA).with_columns(
        pl.Series("line", [1, 2, 3], dtype=pl.Int64))
    result = evaluate_rules(nulls, only(make(name)), context=ctx)
    assert result.findings.schema == pl.Schema(FINDINGS_SCHEMA)
    assert result.findings["rule"].is_in([name]).all()


@pytest.mark.parametrize("name", ANSWER_RULES)
def test_answer_rules_are_skipped_silently_in_label_tasks(name):
    """Label tasks have no answer column: the rule does not run (no finding, no error)."""
    assert evaluate_rules(MESSY, only(make(name)), context=CONTEXT).findings.height == 0


@pytest.mark.parametrize("kind", ANSWER_KINDS)
@pytest.mark.parametrize("name", ANSWER_RULES)
def test_answer_rules_identical_on_reordered_input(name, kind):
    ctx = answer_context(kind)
    first = evaluate_rules(MESSY_ANSWERS, only(make(name)), context=ctx)
    for seed in (1, 2):
        again = evaluate_rules(MESSY_ANSWERS.sample(fraction=1.0, shuffle=True, seed=seed), only(make(name)), context=ctx)
        assert again.findings.equals(first.findings), name
        assert again.groups.equals(first.groups), name


def test_the_messy_answer_frame_exercises_the_answer_rules():
    ctx = answer_context("math")
    small = [{"rule": "overlong_answer", "min_rows": 5}, {"rule": "answer_in_prompt", "min_chars": 1}]
    fired = set(evaluate_rules(MESSY_ANSWERS, ["default", *small], context=ctx).findings["rule"])
    assert set(ANSWER_RULES) - fired == set()
