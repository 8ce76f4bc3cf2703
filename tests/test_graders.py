"""Graders: presets, validation, safe formulas, template lint and the local runner (real processes)."""

from __future__ import annotations

import importlib
import json
import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from curate.errors import ConfigError
from curate.graders import LocalGrader, build_grader, lint_templates, make_sample, validate_grader
from curate.graders._worker import compile_source
from curate.graders.formula import FormulaError, parse_formula
from curate.graders.presets import PRESETS
from curate.graders.similarity import fuzzy_ratio

REFERENCES = [["trade"], ["agri-foodstuffs", "trade"], ["economics", "finance", "law"], []]
MALFORMED = ["", "   ", "not json", "null", "42", '"labels"', "[]", '["trade"]', "{}", '{"labels": null}',
             '{"labels": "trade"}', '{"labels": {"trade": 1}}', '{"labels": [1, 2]}', '{"other": ["trade"]}',
             '{"labels": ["trade"]',]  # fmt: skip


@pytest.fixture(scope="module")
def f1():
    grader = build_grader("multilabel_f1")
    with LocalGrader(grader, workers=2) as runner:
        yield grader, runner


def direct(grader, text, item):
    """Call the grader source in this process, as the platform would."""
    return compile_source(grader["source"])(make_sample(text), item)


# --- the F1 acceptance numbers, local runner == direct call ---------------------------------------


def test_f1_scores_reference_answers_partial_and_malformed_outputs(f1):
    grader, runner = f1
    pairs = [(json.dumps({"labels": ref}), {"reference_answer": ref}) for ref in REFERENCES]
    pairs.append(
        ('{"labels": ["economics", "law"]}', {"reference_answer": ["economics", "finance", "law"]})
    )
    pairs += [(text, {"reference_answer": ["trade"]}) for text in MALFORMED]
    expected = [1.0] * len(REFERENCES) + [0.8] + [0.0] * len(MALFORMED)
    results = runner.grade_many(pairs)
    assert [r.score for r in results] == pytest.approx(expected, abs=1e-12)
    assert all(r.errors == [] for r in results)
    assert [direct(grader, t, i) for t, i in pairs] == pytest.approx(expected, abs=1e-12)
    assert runner.grade(*pairs[-1]).score == 0.0  # grade() agrees with grade_many()


def test_source_file_is_importable_and_is_the_built_source():
    module = importlib.import_module("curate.graders.sources.multilabel")
    assert module.grade(
        {"output_json": {"labels": ["a", "b"]}}, {"reference_answer": ["a", "b", "c"]}
    ) == pytest.approx(0.8)
    assert (
        build_grader("multilabel_f1")["source"]
        == importlib.resources.files("curate.graders.sources").joinpath("multilabel.py").read_text()
    )


BUILTIN_GRADES = [
    compile_source(build_grader(p)["source"])
    for p in (
        "multilabel_f1",
        "multilabel_precision",
        "multilabel_recall",
        "case_insensitive_match",
        "numeric_tolerance",
    )
]


@settings(max_examples=300, deadline=None)
@given(
    output=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(["labels", "x"]), inner, max_size=2)
        ),
        max_leaves=8,
    ),
    reference=st.one_of(st.none(), st.text(max_size=3), st.lists(st.text(max_size=3), max_size=4)),
)
def test_builtin_python_graders_never_raise_and_stay_in_unit_interval(output, reference):
    for grade in BUILTIN_GRADES:
        for sample in (
            {"output_text": "x", "output_json": output},
            {"output_text": json.dumps(output), "output_json": output},
        ):
            score = grade(sample, {"reference_answer": reference})
            assert isinstance(score, float) and 0.0 <= score <= 1.0


def test_fbeta_precision_recall_values():
    item = {"reference_answer": ["a", "b", "c"]}
    sample = make_sample('{"labels": ["a", "b", "x", "y"]}')  # p = 0.5, r = 2/3
    score = lambda spec: compile_source(build_grader(spec)["source"])(sample, item)  # noqa: E731
    assert score("multilabel_precision") == pytest.approx(0.5)
    assert score("multilabel_recall") == pytest.approx(2 / 3)
    assert score({"preset": "multilabel_fbeta", "beta": 2}) == pytest.approx(
        5 * 0.5 * (2 / 3) / (4 * 0.5 + 2 / 3)
    )
    assert score({"preset": "multilabel_fbeta", "beta": 1}) == pytest.approx(score("multilabel_f1"))


def test_multi_form_combines_precision_and_recall_with_a_formula():
    grader = build_grader({"preset": "multilabel_f1", "form": "multi"})
    assert grader["type"] == "multi" and set(grader["graders"]) == {"precision", "recall"}
    with LocalGrader(grader, workers=1) as runner:
        result = runner.grade('{"labels": ["a", "b"]}', {"reference_answer": ["a", "b", "c"]})
    assert result.score == pytest.approx(0.8)
    assert result.sub_scores == pytest.approx({"precision": 1.0, "recall": 2 / 3})


# --- the runner survives hostile graders ----------------------------------------------------------

HOSTILE = """
import os
def grade(sample, item):
    kind = item["kind"]
    if kind == "raise":
        raise ValueError("boom")
    if kind == "loop":
        while True:
            pass
    if kind == "abc":
        return "abc"
    if kind == "nan":
        return float("nan")
    if kind == "exit":
        os._exit(3)
    if kind == "memory":
        return len(bytearray(1024 * 1024 * 1024))
    if kind == "swallow":
        try:
            while True:
                pass
        except BaseException:
            return 1.0
    return 0.5
"""


def test_raising_looping_and_non_numeric_graders_score_zero_while_others_keep_grading():
    grader = {"type": "python", "name": "hostile", "source": HOSTILE}
    kinds = ["ok", "raise", "ok", "loop", "ok", "abc", "nan", "exit", "memory", "swallow", "ok"]
    with LocalGrader(grader, workers=2, timeout=1.0, memory_mb=512) as runner:
        results = runner.grade_many([("{}", {"kind": k}) for k in kinds])
        again = runner.grade("{}", {"kind": "ok"})
    by_kind = dict(zip(kinds, results, strict=True))
    assert [r.score for k, r in zip(kinds, results, strict=True) if k == "ok"] == [0.5] * 4
    assert again.score == 0.5
    for kind in ("raise", "loop", "abc", "nan", "exit", "memory", "swallow"):
        assert by_kind[kind].score == 0.0 and len(by_kind[kind].errors) == 1, kind
    assert "ValueError: boom" in by_kind["raise"].errors[0]
    assert "unresponsive_reward" in by_kind["loop"].errors[0]
    assert "unresponsive_reward" in by_kind["swallow"].errors[0]
    assert "'abc' (str), not a number" in by_kind["abc"].errors[0]
    assert "nan" in by_kind["nan"].errors[0]
    assert "exited (code 3)" in by_kind["exit"].errors[0]
    assert "MemoryError" in by_kind["memory"].errors[0]


def test_workers_are_reused_across_calls():
    grader = {
        "type": "python",
        "name": "pid",
        "source": "import os\ndef grade(sample, item):\n    return os.getpid()\n",
    }
    with LocalGrader(grader, workers=2) as runner:
        pids = {r.score for r in runner.grade_many([("", {})] * 500)}
        pids |= {runner.grade("", {}).score for _ in range(20)}
    assert 1 <= len(pids) <= 2


def test_a_source_that_hangs_on_load_costs_one_timeout_not_one_per_item():
    grader = {
        "type": "python",
        "name": "slow",
        "source": "while True:\n    pass\ndef grade(sample, item):\n    return 1.0\n",
    }
    from curate.graders.pool import WorkerPool

    replaced = []
    real_replace = WorkerPool._replace

    def counting_replace(self, worker):
        replaced.append(worker)
        return real_replace(self, worker)

    WorkerPool._replace = counting_replace
    try:
        with LocalGrader(grader, workers=1, timeout=0.5) as runner:
            results = runner.grade_many([("", {})] * 50)
    finally:
        WorkerPool._replace = real_replace
    assert all(r.score == 0.0 and "loading the source" in r.errors[0] for r in results)
    assert len(replaced) == 1  # one timed-out worker replaced, not one per item (no clock involved)


def test_in_process_mode_gives_the_same_scores(f1):
    grader, runner = f1
    pairs = [
        (text, {"reference_answer": ["trade", "law"]})
        for text in MALFORMED + ['{"labels": ["law"]}']
    ]
    inproc = LocalGrader(grader, workers=0).grade_many(pairs)
    assert [r.score for r in inproc] == [r.score for r in runner.grade_many(pairs)]


# --- string_check, text_similarity, templates ----------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "output", "reference", "score"),
    [("eq", "Paris", "Paris", 1.0), ("eq", "paris", "Paris", 0.0), ("ne", "Rome", "Paris", 1.0),
     ("like", "It is Paris.", "Paris", 1.0), ("like", "it is paris", "Paris", 0.0), ("ilike", "IT IS PARIS", "paris", 1.0)],
)  # fmt: skip
def test_string_check_operations(operation, output, reference, score):
    grader = {"type": "string_check", "name": "s", "operation": operation,
              "input": "{{sample.output_text}}", "reference": "{{item.answer}}"}  # fmt: skip
    assert LocalGrader(grader).grade(output, {"answer": reference}).score == score


def test_fuzzy_match_matches_rapidfuzz_ratio_values():
    assert fuzzy_ratio("kitten", "sitting") == pytest.approx(0.6153846153846154)
    assert fuzzy_ratio("this is a test", "this is a test!") == pytest.approx(0.9655172413793104)
    assert fuzzy_ratio("abc", "") == 0.0
    grader = build_grader("fuzzy_match", answer_key="answer")
    assert LocalGrader(grader).grade(
        '{"answer": "kitten"}', {"reference_answer": "sitting"}
    ).score == pytest.approx(8 / 13)


def test_missing_template_variables_and_non_json_samples_score_zero_with_the_platform_flag():
    grader = build_grader("exact_match", answer_key="answer")
    runner = LocalGrader(grader)
    missing = runner.grade('{"answer": "x"}', {"other": "x"})
    assert missing.score == 0.0 and "invalid_variable_error" in missing.errors[0]
    not_json = runner.grade("x", {"reference_answer": "x"})
    assert not_json.score == 0.0 and "sample_parse_error" in not_json.errors[0]
    nested = {**grader, "reference": "{{item.meta.answer}}"}
    assert LocalGrader(nested).grade('{"answer": "x"}', {"meta": {"answer": "x"}}).score == 1.0


def test_model_graders_and_unsupported_metrics_are_refused_clearly():
    score_model = {"type": "score_model", "name": "judge", "model": "gpt-4.1",
                   "input": [{"role": "user", "content": "Grade {{sample.output_text}}"}]}  # fmt: skip
    validate_grader(score_model)
    with pytest.raises(ConfigError, match="cannot run offline"):
        LocalGrader(score_model)
    cosine = {"type": "text_similarity", "name": "c", "input": "{{sample.output_text}}", "reference": "{{item.a}}",
              "evaluation_metric": "cosine"}  # fmt: skip
    with pytest.raises(ConfigError, match="evals only"):
        validate_grader(cosine)  # not an RFT grader on the platform
    with pytest.raises(ConfigError, match="grader 'c': the cosine metric embeds texts"):
        LocalGrader(cosine)  # needs an embeddings endpoint (tests/test_grader_similarity.py)


# --- formulas ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("2 ^ 3 ^ 2", 512), ("-2 ^ 2", -4), ("10 / 4 - 1", 1.5),
     ("min(a, b, 0.25)", 0.25), ("max(a, b)", 0.75), ("abs(a - b)", 0.25), ("floor(2.7) + ceil(0.1)", 3),
     ("sqrt(16) + log(exp(2))", 6), ("0.2 * a + 0.8 * b", 0.7), ("1e-1 * 10", 1)],
)  # fmt: skip
def test_formula_values(text, value):
    assert parse_formula(text, {"a", "b"}).evaluate({"a": 0.5, "b": 0.75}) == pytest.approx(value)


@pytest.mark.parametrize(
    ("text", "message"),
    [("__import__('os')", "unexpected character"), ("a.b", "unexpected character"), ("pow(a, 2)", "unknown function 'pow'"),
     ("a +", "expected a number"), ("(a", "expected ')'"), ("c * 2", "reads c, which is not a sub-grader"),
     ("sqrt(a, b)", "takes 1 argument"), ("", "non-empty"), ("a b", "expected an operator")],
)  # fmt: skip
def test_formula_rejects_anything_outside_the_grammar(text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_formula(text, {"a", "b"})


def test_formula_runtime_errors_score_zero_in_multi():
    with pytest.raises(FormulaError):
        parse_formula("a / b").evaluate({"a": 1.0, "b": 0.0})
    grader = {"type": "multi", "name": "m", "calculate_output": "e / z", "graders": {
        "e": {"type": "string_check", "name": "e", "operation": "eq", "input": "{{sample.output_text}}", "reference": "x"},
        "z": {"type": "string_check", "name": "z", "operation": "eq", "input": "{{sample.output_text}}", "reference": "y"}}}  # fmt: skip
    result = LocalGrader(grader).grade("x", {})
    assert result.score == 0.0 and result.sub_scores == {"e": 1.0, "z": 0.0}
    assert "formula_error" in result.errors[0]
    assert math.isfinite(result.score)


# --- validation and presets ----------------------------------------------------------------------

GOOD_PY = {"type": "python", "name": "p", "source": "def grade(sample, item):\n    return 1.0\n"}


@pytest.mark.parametrize(
    ("grader", "message"),
    [({"type": "regex", "name": "x"}, "'type' must be one of"),
     ({"type": "python", "source": "def grade(s, i): return 1"}, "needs a non-empty 'name'"),
     ({**GOOD_PY, "source": "def grade(:"}, "does not compile"),
     ({**GOOD_PY, "source": "def score(sample, item): return 1"}, "must define a top-level function grade"),
     ({**GOOD_PY, "source": "def grade(sample): return 1"}, "exactly two arguments"),
     ({**GOOD_PY, "source": "x = 1\n" * 60000}, "the limit is 262144"),
     ({**GOOD_PY, "pass_threshold": 0.8}, "pass_threshold belongs to eval testing criteria"),
     ({"type": "string_check", "name": "s", "input": "{{sample.output_text}}", "reference": "{{item.a}}"}, "missing required key 'operation'"),
     ({"type": "string_check", "name": "s", "input": "{{ctx.a}}", "reference": "", "operation": "eq"}, "graders know only 'item' and 'sample'"),
     ({"type": "string_check", "name": "s", "input": "{{sample.text}}", "reference": "", "operation": "eq"}, "sample has no field 'text'"),
     ({"type": "text_similarity", "name": "t", "input": "", "reference": "", "evaluation_metric": "cosine"}, "evals only"),
     ({"type": "label_model", "name": "l", "model": "m", "input": [], "labels": ["a"], "passing_labels": ["a"]}, "only inside a multi"),
     ({"type": "multi", "name": "m", "graders": {"a": GOOD_PY}, "calculate_output": "a + b"}, "reads b"),
     ({"type": "multi", "name": "m", "graders": {"a": {"type": "multi", "name": "n", "graders": {}, "calculate_output": "1"}},
       "calculate_output": "a"}, "cannot be nested"),
     ({"type": "score_model", "name": "j", "model": "gpt-4.1", "input": [{"role": "user", "content": "x"}], "range": [1, 0]}, "low < high")],
)  # fmt: skip
def test_validate_grader_names_the_problem(grader, message):
    with pytest.raises(ConfigError, match=message):
        validate_grader(grader)


REQUIRED_PARAMS = {"multi": {"graders": {"exact": "exact_match", "fuzzy": "fuzzy_match"},
                             "calculate_output": "0.5 * exact + 0.5 * fuzzy"}}  # fmt: skip


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_builds_a_valid_grader_that_runs_locally(preset):
    spec = {"preset": preset, **REQUIRED_PARAMS.get(preset, {})}
    grader = build_grader(spec)
    validate_grader(grader)
    json.dumps(grader)
    assert build_grader(spec) == grader  # deterministic
    assert LocalGrader(grader, workers=0).grade("", {"reference_answer": ["x"]}).score == 0.0


def test_build_grader_specs(tmp_path):
    with pytest.raises(
        ConfigError, match="unknown grader preset 'f1'; known presets: multilabel_f1"
    ):
        build_grader("f1")
    with pytest.raises(
        ConfigError, match="The 'beta' parameter of grader preset 'multilabel_fbeta' must be"
    ):
        build_grader({"preset": "multilabel_fbeta", "beta": "two"})
    with pytest.raises(ConfigError, match="unknown option 'bta'"):
        build_grader({"preset": "multilabel_fbeta", "bta": 2})
    (tmp_path / "g.json").write_text(json.dumps(GOOD_PY))
    assert build_grader({"path": "g.json"}, base_dir=tmp_path) == GOOD_PY
    with pytest.raises(ConfigError, match="does not exist"):
        build_grader({"path": "nope.json"}, base_dir=tmp_path)
    assert build_grader(GOOD_PY) == GOOD_PY
    custom = build_grader("multilabel_f1", answer_key="level1")
    assert 'ANSWER_KEY = "level1"' in custom["source"]
    got = compile_source(custom["source"])(
        make_sample('{"level1": ["a"]}'), {"reference_answer": ["a"]}
    )
    assert got == 1.0


def test_numeric_and_case_insensitive_presets():
    num = compile_source(
        build_grader({"preset": "numeric_tolerance", "tolerance": 0.01}, answer_key="answer")[
            "source"
        ]
    )
    assert num(make_sample('{"answer": "1,234.505"}'), {"reference_answer": 1234.5}) == 1.0
    assert num(make_sample('{"answer": 1234.6}'), {"reference_answer": "1234.5"}) == 0.0
    rel = compile_source(build_grader({"preset": "numeric_tolerance", "tolerance": 0.1, "relative": True,
                                       "answer_from": "text"})["source"])  # fmt: skip
    assert rel(make_sample("about 105 units"), {"reference_answer": 100}) == 1.0
    ci = compile_source(build_grader("case_insensitive_match")["source"])
    assert (
        ci(make_sample('{"labels": ["Trade ", "LAW"]}'), {"reference_answer": ["law", "trade"]})
        == 1.0
    )
    assert ci(make_sample('{"labels": ["trade"]}'), {"reference_answer": ["law", "trade"]}) == 0.0


# --- template lint -------------------------------------------------------------------------------


def test_lint_finds_missing_fields_mixed_types_and_output_json_without_response_format():
    grader = {"type": "multi", "name": "m", "calculate_output": "a * b", "graders": {
        "a": {"type": "string_check", "name": "a", "operation": "eq", "input": "{{sample.output_json.x}}", "reference": "{{item.meta.x}}"},
        "b": build_grader("multilabel_f1")}}  # fmt: skip
    rows = [
        {"id": "r1", "meta": {"x": "1"}, "reference_answer": ["a"]},
        {"id": "r2", "meta": {}, "reference_answer": ["a"]},
        {"id": "r3", "meta": {"x": "2"}, "reference_answer": "a"},
        {"id": "r4", "meta": {"x": "3"}, "reference_answer": ["b"]},
    ]
    findings = lint_templates(grader, rows, has_response_format=False)
    got = sorted(
        zip(
            findings["line"].to_list(),
            findings["rule"].to_list(),
            findings["field"].to_list(),
            strict=True,
        ),
        key=str,
    )
    assert got == sorted(
        [(None, "grader_output_json_without_response_format", "sample.output_json"),
         (2, "grader_item_field_missing", "item.meta.x"),
         (3, "grader_item_field_type", "item.reference_answer")], key=str)  # fmt: skip
    assert set(findings["severity"]) == {"error"}
    assert findings.filter(findings["line"] == 3)["id"].item() == "r3"
    assert lint_templates(grader, rows[:1], has_response_format=True).height == 0


def test_a_worker_killed_while_idle_is_replaced_without_losing_items():
    import os
    import signal

    with LocalGrader(build_grader("multilabel_f1"), workers=2) as runner:
        assert runner.grade('{"labels": ["a"]}', {"reference_answer": ["a"]}).score == 1.0
        for worker in runner._pool._workers:
            os.kill(worker.process.pid, signal.SIGKILL)
            worker.process.wait(5)
        results = runner.grade_many([('{"labels": ["a"]}', {"reference_answer": ["a"]})] * 20)
    assert [r.score for r in results] == [1.0] * 20 and all(not r.errors for r in results)


def test_runner_options_are_checked():
    with pytest.raises(ConfigError, match="The 'workers' parameter of LocalGrader must be an int"):
        LocalGrader(build_grader("multilabel_f1"), workers=-1)
    with pytest.raises(ConfigError, match="'memory_mb'"):
        LocalGrader(build_grader("multilabel_f1"), memory_mb=1)


def _expressions():
    leaf = st.one_of(
        st.sampled_from(["a", "b"]),
        st.floats(min_value=0, max_value=10, allow_nan=False).map(lambda x: f"{x:.3f}"),
    )

    def extend(inner):
        binary = st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        )
        call = st.tuples(st.sampled_from(["min", "max"]), inner, inner).map(
            lambda t: f"{t[0]}({t[1]}, {t[2]})"
        )
        unary = st.tuples(st.sampled_from(["abs", "floor", "ceil", "-"]), inner).map(
            lambda t: f"-({t[1]})" if t[0] == "-" else f"{t[0]}({t[1]})"
        )
        return binary | call | unary

    return st.recursive(leaf, extend, max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(text=_expressions(), a=st.floats(0, 1), b=st.floats(0, 1))
def test_formula_agrees_with_python_arithmetic_on_generated_expressions(text, a, b):
    # the reference computes the same text with Python's own arithmetic, on a restricted namespace
    env = {
        "a": a,
        "b": b,
        "min": min,
        "max": max,
        "abs": abs,
        "floor": math.floor,
        "ceil": math.ceil,
    }
    try:
        want = float(eval(text, {"__builtins__": {}}, env))  # noqa: S307 - test oracle on generated text
    except (ZeroDivisionError, OverflowError):
        with pytest.raises(FormulaError):
            parse_formula(text, {"a", "b"}).evaluate({"a": a, "b": b})
        return
    if not math.isfinite(want):
        return
    assert parse_formula(text, {"a", "b"}).evaluate({"a": a, "b": b}) == pytest.approx(
        want, rel=1e-9, abs=1e-9
    )


def test_public_surface_is_frozen():
    import curate.graders

    assert sorted(curate.graders.__all__) == [
        "GradeResult", "LocalGrader", "PRESETS", "build_grader", "default_grader", "lint_templates", "make_sample",
        "validate_grader",
    ]  # fmt: skip
