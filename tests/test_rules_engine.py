"""The rule engine: packs, overrides, clear errors, user rules from Python, findings shape."""

from __future__ import annotations

import polars as pl
import pytest

from curate.errors import ConfigError
from curate.frame import FINDINGS_SCHEMA
from curate.options import Param
from curate.rules import (
    RowRule,
    Rule,
    RuleContext,
    evaluate_rules,
    registered_rules,
    resolve_rules,
    restate_findings,
    shipped_packs,
)


def frame(texts, labels=None, ids=None):
    n = len(texts)
    labels = labels or [["trade"]] * n
    return pl.DataFrame(
        {"line": list(range(1, n + 1)), "id": ids or [f"r{i}" for i in range(n)], "text": texts,
         "labels": labels, "label_names": labels},
        schema={"line": pl.Int64, "id": pl.String, "text": pl.String, "labels": pl.List(pl.String),
                "label_names": pl.List(pl.String)},
    )


LONG = "The Commission adopted this regulation on imports of fruit and vegetables. " * 3


def test_public_surface_is_frozen():
    import curate.rules as rules

    assert sorted(rules.__all__) == sorted([
        "DatasetRule", "Rule", "RuleContext", "RuleResult", "RowRule", "StageRule", "data_relative_warnings", "dump_pack",
        "evaluate_rules", "registered_rules", "resolve_rules", "restate_findings", "shipped_packs",
    ])


def test_shipped_packs():
    assert {"default", "strict", "minimal"} <= set(shipped_packs())


def test_override_parameter_and_severity_and_disable():
    f = frame([LONG, "x" * 25 + " words here", LONG])
    base = evaluate_rules(f).findings
    assert set(base["rule"]) == {"duplicate"}
    rows = evaluate_rules(f, ["default", {"rule": "max_chars", "max": 100}, {"rule": "duplicate", "severity": "warn"}]).findings
    assert set(rows.filter(pl.col("rule") == "max_chars")["line"]) == {1, 3}
    assert rows.filter(pl.col("rule") == "duplicate")["severity"].to_list() == ["warn"]
    off = evaluate_rules(f, ["default", {"rule": "duplicate", "enabled": False}]).findings
    assert "duplicate" not in set(off["rule"])


def test_strict_extends_default_and_tightens():
    by_name = {r.name: r for r in resolve_rules(["strict"])}
    default = {r.name: r for r in resolve_rules(["default"])}
    assert set(default) <= set(by_name)
    assert by_name["min_chars"].min > default["min_chars"].min
    assert by_name["near_duplicate"].severity == "error" and default["near_duplicate"].severity == "warn"


def test_pack_file_relative_to_base_dir(tmp_path):
    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "mine.yaml").write_text(
        "extends: minimal\nrules:\n  - {rule: max_chars, max: 10}\n  - {rule: duplicate, enabled: false}\n"
    )
    rules = {r.name: r for r in resolve_rules(["packs/mine.yaml"], base_dir=tmp_path)}
    assert rules["max_chars"].max == 10 and not rules["duplicate"].enabled and "mojibake" in rules


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rules:\n  - {rule: max_char, max: 5}\n", r"bad\.yaml: entry 1 \(max_char\): unknown rule 'max_char'; known rules: .*max_chars"),
        ("rules:\n  - {rule: empty_text}\n  - {rule: max_chars, max: many}\n",
         r"bad\.yaml: entry 2 \(max_chars\): The 'max' parameter of max_chars must be an int in the range \[1, inf\)\. Got 'many' instead\."),
        ("rules:\n  - {rule: max_chars, severity: fatal}\n",
         r"entry 1 \(max_chars\): The 'severity' parameter of max_chars must be one of 'error', 'warn'\. Got 'fatal' instead\."),
        ("rules:\n  - {rule: max_chars, maximum: 3}\n", r"entry 1 \(max_chars\): unknown option 'maximum' for max_chars; known options: max"),
        ("rules:\n  - max_chars\n", r"bad\.yaml: entry 1: a rule entry must be a mapping"),
        ("rule: [\n", r"bad\.yaml:2:1: not valid YAML"),
        ("ruls: []\n", r"bad\.yaml: unknown key 'ruls'"),
        ("rules:\n  - {rule: near_duplicate, threshold: 2}\n", r"The 'threshold' parameter of near_duplicate must be a float in the range \[0\.05, 1\]"),
        ("rules:\n  - {rule: label_conflict, resolve: vote}\n", r"The 'resolve' parameter of label_conflict must be one of 'reject_all', 'majority'\. Got 'vote'"),
    ],
)
def test_pack_mistakes_name_the_file_and_entry(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=expected):
        resolve_rules([str(path)])


def test_inline_mistakes_and_unknown_pack():
    with pytest.raises(ConfigError, match=r"rules entry 2 \(max_chars\): The 'max' parameter"):
        resolve_rules(["default", {"rule": "max_chars", "max": 1.5}])
    with pytest.raises(ConfigError, match=r"unknown rule pack 'defualt'; shipped packs: .*default"):
        resolve_rules(["defualt"])
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_rules(["nope/missing.yaml"])


def test_cyclic_extends(tmp_path):
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        resolve_rules([str(tmp_path / "a.yaml")])


def test_rules_are_immutable_and_validate_on_construction():
    from curate.rules.text import MaxChars

    rule = MaxChars(max=5)
    with pytest.raises(AttributeError):
        rule.max = 3  # type: ignore[misc]
    with pytest.raises(ConfigError, match="Got -1 instead"):
        MaxChars(max=-1)
    assert rule.replace(max=7).max == 7 and rule.max == 5


def test_user_rule_from_python_registers_and_works_in_packs(tmp_path):
    class NoShouting(RowRule):
        name = "no_shouting"
        severity_default = "warn"
        params = (Param("max_upper_ratio", float, 0.5, low=0.0, high=1.0),)
        message = "more than {max_upper_ratio:.0%} of letters are upper case"

        def passes(self, context):
            text = pl.col("text")
            upper = text.str.count_matches(r"\p{Lu}")
            letters = text.str.count_matches(r"\p{L}")
            return upper <= self.max_upper_ratio * letters

    assert "no_shouting" in registered_rules()
    f = frame(["A CALM SENTENCE IN CAPITALS ONLY", "a calm sentence in lower case"])
    found = evaluate_rules(f, ["minimal", {"rule": "no_shouting", "max_upper_ratio": 0.3}]).findings
    assert found.select("line", "rule", "severity", "message").rows() == [
        (1, "no_shouting", "warn", "more than 30% of letters are upper case")
    ]
    # instances work too, and the rule round-trips through a pack file
    assert evaluate_rules(f, [NoShouting(severity="error")]).findings["severity"].to_list() == ["error"]
    (tmp_path / "p.yaml").write_text("rules:\n  - {rule: no_shouting, max_upper_ratio: 0.9}\n")
    assert resolve_rules([str(tmp_path / "p.yaml")]) == [NoShouting(max_upper_ratio=0.9)]
    with pytest.raises(ValueError, match="already registered"):
        type("Other", (RowRule,), {"name": "no_shouting"})
    with pytest.raises(ValueError, match="snake_case"):
        type("Bad", (RowRule,), {"name": "NoShouting"})


def test_findings_shape_truncated_values_and_sorting():
    f = frame(["é" * 30000, "", LONG], ids=["x", None, "z"])
    found = evaluate_rules(f, ["default", {"rule": "max_chars", "max": 20000}]).findings
    assert found.schema == pl.Schema(FINDINGS_SCHEMA)
    assert found["line"].to_list() == sorted(found["line"].to_list())
    assert found["value"].drop_nulls().str.len_chars().max() <= 80
    long_row = found.filter(pl.col("rule") == "max_chars").row(0, named=True)
    assert long_row["value"] == "30000" and long_row["id"] == "x" and long_row["field"] == "text"
    assert found.filter(pl.col("rule") == "missing_id")["line"].to_list() == [2]


def test_restate_findings_from_other_stages():
    stage = pl.DataFrame(
        {"line": [1, 2, 3], "id": ["a", "b", "c"], "rule": ["unknown_label", "no_labels", "something_else"],
         "severity": ["warn", "error", "warn"], "field": ["labels"] * 3, "value": ["99", None, None],
         "message": ["m"] * 3, "partner": [None] * 3},
        schema=FINDINGS_SCHEMA,
    )
    strict = restate_findings(stage, ["strict"])
    assert strict["severity"].to_list() == ["error", "error", "warn"]
    dropped = restate_findings(stage, ["default", {"rule": "unknown_label", "enabled": False}])
    assert dropped["rule"].to_list() == ["no_labels", "something_else"]


def test_context_free_rules_do_nothing_without_context():
    f = frame([LONG], labels=[["not-a-label"]])
    assert evaluate_rules(f).findings.height == 0
    found = evaluate_rules(f, context=RuleContext(label_names=("trade",)))
    assert found.findings["rule"].to_list() == ["label_outside_vocabulary"]
    assert found.findings["value"].to_list() == ["not-a-label"]


def test_answer_schema_reads_nested_item_enums():
    rf = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "properties": {
        "level1": {"type": "array", "items": {"type": "object", "properties": {"code": {"enum": ["trade", "law"]}}}}}}}}
    f = frame([LONG, LONG + " again, differently"], labels=[["trade"], ["sport", "law"]])
    found = evaluate_rules(f, [{"rule": "answer_schema"}], context=RuleContext(response_format=rf)).findings
    assert found.select("line", "value").rows() == [(2, "sport")]


def test_max_tokens_estimate_when_asked_or_when_no_tokenizer_counts():
    from curate.rules.text import MaxTokens

    assert MaxTokens(max=10, tokenizer="estimate").check(frame(["a" * 40, "a" * 41])).to_list() == [True, False]
    msg = evaluate_rules(frame(["a" * 41]), [{"rule": "max_tokens", "max": 10, "tokenizer": "estimate"}]).findings["message"][0]
    assert "estimated at 4 characters per token" in msg
    msg = evaluate_rules(frame(["a" * 41]), [{"rule": "max_tokens", "max": 1, "encoding": "no_such"}]).findings["message"][0]
    assert "estimated at 4 characters per token" in msg


def test_max_tokens_loads_no_tokenizer_when_every_text_is_short_enough():
    from curate.rules import tokens
    from curate.rules.text import MaxTokens

    tokens._resolve.cache_clear()
    assert MaxTokens(max=10).check(frame(["a" * 10, "short"])).to_list() == [True, True]
    assert tokens._resolve.cache_info().misses == 0  # no text over 10 bytes: nothing loaded
    # under one character per token the estimate can fail a short text: the backend is asked
    assert MaxTokens(max=10, encoding="no_such", chars_per_token=0.5).check(frame(["a" * 6])).to_list() == [False]
    assert tokens._resolve.cache_info().misses == 1
    assert MaxTokens(max=10, encoding="no_such").check(frame(["a" * 44])).to_list() == [False]  # 11 estimated


def test_max_tokens_counts_exactly_offline_with_bpe_openai():
    pytest.importorskip("bpe_openai")
    from curate.rules.text import MaxTokens

    words = " ".join(["tokenisation"] * 30)
    bpe = __import__("bpe_openai").get_encoding("o200k_base")
    exact = len(bpe.encode_ordinary(words))
    assert exact != -(-len(words) // 4)
    assert MaxTokens(max=exact).check(frame([words])).to_list() == [True]
    assert MaxTokens(max=exact - 1).check(frame([words])).to_list() == [False]
    msg = evaluate_rules(frame([words]), [{"rule": "max_tokens", "max": exact - 1}]).findings["message"][0]
    assert "o200k_base via bpe-openai" in msg


def test_rule_registry_contains_the_issue_rules():
    names = set(registered_rules())
    assert {
        "empty_text", "min_chars", "max_chars", "max_tokens", "mojibake", "control_chars", "mostly_non_text",
        "max_labels", "label_outside_vocabulary", "answer_schema", "missing_id", "id_conflict", "duplicate",
        "normalized_duplicate", "near_duplicate", "label_conflict", "no_labels", "unknown_label",
    } <= names
    assert all(isinstance(name, str) for name in names) and Rule.registry


def test_first_in_group_equals_a_plain_group_minimum():
    import random

    from curate.rules.workspace import Workspace

    rng = random.Random(3)
    n = 2000
    frame = pl.DataFrame({
        "line": rng.sample(range(1, 10 * n), n), "id": [None] * n,
        "text": [None if rng.random() < 0.05 else rng.choice(["a", "b", "A", "a "]) + str(rng.randint(0, 40)) for _ in range(n)],
        "labels": [[rng.choice("xyz")] for _ in range(n)],
    }, schema_overrides={"id": pl.String})
    frame = frame.with_columns(pl.col("labels").alias("label_names"))
    ws = Workspace(frame)
    k = ws.keys_with_norm()
    assert "norm" not in k.columns  # resolved from hashes, normalised only where a hash repeats
    full = k.with_columns(ws.norm)  # the plain group minimum over the whole normalised text
    for by in (["exact"], ["exact", "labels"], ["norm", "labels"], ["norm"]):
        expected = full.select(pl.col("line").min().over(by)).to_series()
        assert ws.first_in_group(k, by).to_list() == expected.to_list()
        positions = full.with_row_index("pos").select(pl.col("pos").min().over(by)).to_series().cast(pl.Int64)
        assert ws.first_in_group(k, by, "pos").to_list() == positions.to_list()
