"""Graders for open answers: presets, default graders per task kind, final-answer extraction, lint,
the dry-run self-test, and the same scores through the exported TRL and verl reward functions."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz, utils

from curate.dryrun.outdir import AnswerFormat
from curate.dryrun.selftest import self_test
from curate.errors import ConfigError
from curate.export._reward import reward_module
from curate.graders import LocalGrader, build_grader, default_grader, lint_templates, make_sample
from curate.graders._worker import compile_source
from curate.graders.sources._answer import final_answer

KINDS = ("labels", "single_label", "text", "number", "json", "math")
REFERENCES = {  # two items per kind with different answers
    "labels": [["cardiology", "genetics"], ["oncology"]],
    "single_label": ["Pneumonia", "Sepsis"],
    "text": ["gout", "thought withdrawal"],
    "number": [1000, 2.5],
    "json": ['{"age":54,"drug":"warfarin"}', '{"age":7,"drug":"amoxicillin","sex":"f"}'],
    "math": ["\\frac{1}{2}", "x^2 + 1"],
}
SCHEMAS = {  # the answer property of each kind's response format
    "labels": {"type": "array", "items": {"type": "string"}},
    "single_label": {"type": "string"},
    "text": {"type": "string"},
    "number": {"type": "number"},
    "json": {"type": "string"},
    "math": {"type": "string"},
}


def _items(kind: str) -> list[dict]:
    return [{"id": f"r{i}", "messages": [{"role": "user", "content": "q"}], "reference_answer": ref}
            for i, ref in enumerate(REFERENCES[kind])]  # fmt: skip


def _format(kind: str, key: str = "answer") -> AnswerFormat:
    fmt = {"type": "json_schema", "json_schema": {"name": "a", "strict": True, "schema": {
        "type": "object", "required": [key], "additionalProperties": False,
        "properties": {key: SCHEMAS[kind]}}}}  # fmt: skip
    return AnswerFormat.from_response_format(fmt)


# --- reading the final answer ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "answer"),
    [("gout", "gout"), ("  gout\n", "  gout\n"), ("<think>maybe lupus</think>\n\ngout", "gout"),
     ("<think>a</think><think>b</think> gout ", "gout"), ("<think>cut short", ""),
     ("The answer:\n```\ngout\n```\n", "gout"), ('```json\n{"answer": 4}\n```', '{"answer": 4}'),
     ("```a```then```b```", "b"), ("<think>```x```</think>```\ny\n```", "y"), ("no ``` closing", "no ``` closing"),
     ('{"answer": "run ```ls``` first"}', '{"answer": "run ```ls``` first"}')],
)  # fmt: skip
def test_final_answer(text, answer):
    assert final_answer(text) == answer


def test_template_graders_read_the_final_answer_unless_told_not_to():
    grader = build_grader({"preset": "exact_match", "answer_from": "text"})
    assert grader["input"] == "{{sample.output_text}}"
    output, item = (
        "<think>It could be sepsis.</think>\n```\nPneumonia\n```",
        {"reference_answer": "Pneumonia"},
    )
    with (
        LocalGrader(grader, workers=0) as on,
        LocalGrader(grader, workers=0, extract_answer=False) as off,
    ):
        assert on.grade(output, item).score == 1.0
        assert off.grade(output, item).score == 0.0
    json_grader = build_grader("exact_match", answer_key="answer")
    with LocalGrader(
        json_grader, workers=0
    ) as runner:  # output_json is parsed from the final answer
        assert runner.grade('<think>hm</think>{"answer": "Pneumonia"}', item).score == 1.0


def test_python_presets_extract_per_grader():
    item = {"reference_answer": "gout"}
    output = "<think>differential: pseudogout</think>gout"
    on = compile_source(build_grader("text_blend")["source"])
    off = compile_source(build_grader({"preset": "text_blend", "extract_answer": False})["source"])
    assert on(make_sample(output), item) == 1.0
    assert off(make_sample(output), item) < 1.0


# --- presets --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "reference"),
    [("gout", "gout"), ("Gout", "gout"), ("acute gout", "gout"), ("gouty arthritis", "gout"),
     ("pseudogout", "gout"), ("", "gout"), ("Todd paralysis", "seizure")],
)  # fmt: skip
def test_text_blend_is_the_cookbook_formula(output, reference):
    grade = compile_source(build_grader("text_blend")["source"])
    fuzzy = fuzz.token_set_ratio(output, reference, processor=utils.default_process) / 100
    want = 0.85 * fuzzy + 0.15 * (output == reference)
    assert grade(make_sample(output), {"reference_answer": reference}) == pytest.approx(want)
    weighted = compile_source(
        build_grader({"preset": "text_blend", "fuzzy_weight": 0.5, "exact_weight": 0.5})["source"]
    )
    assert weighted(make_sample(output), {"reference_answer": reference}) == pytest.approx(
        0.5 * fuzzy + 0.5 * (output == reference)
    )


def test_numeric_tolerance_reads_numbers_as_written():
    grade = compile_source(
        build_grader({"preset": "numeric_tolerance", "answer_from": "auto"}, answer_key="answer")[
            "source"
        ]
    )
    for output in ("1000", "1,000", "1e3", "1000.0000001", '{"answer": "1,000"}', '{"answer": 1000}',
                   "<think>3 steps</think>The total is 1,000.", "```\n1000\n```"):  # fmt: skip
        assert grade(make_sample(output), {"reference_answer": 1000}) == 1.0, output
    for output in ("1001", "", "one thousand", '{"answer": null}', "1000/0"):
        assert grade(make_sample(output), {"reference_answer": 1000}) == 0.0, output
    assert grade(make_sample("1/2"), {"reference_answer": "0.5"}) == 1.0
    relative = compile_source(build_grader({"preset": "numeric_tolerance", "tolerance": 0.01, "relative": True,
                                            "answer_from": "text"})["source"])  # fmt: skip
    assert relative(make_sample("1009"), {"reference_answer": 1000}) == 1.0
    assert relative(make_sample("1011"), {"reference_answer": 1000}) == 0.0


def test_json_match_per_field_mean_and_f1():
    reference = {"reference_answer": '{"age":54,"drug":"warfarin","dose":{"mg":5,"per":"day"}}'}
    mean = compile_source(build_grader("json_match", answer_key="answer")["source"])
    f1 = compile_source(
        build_grader({"preset": "json_match", "score": "f1"}, answer_key="answer")["source"]
    )
    exact = '{"age": 54, "drug": "Warfarin ", "dose": {"mg": 5.0, "per": "day"}}'
    assert mean(make_sample(exact), reference) == 1.0 and f1(make_sample(exact), reference) == 1.0
    half = (
        '{"age": 54, "drug": "heparin", "dose": {"mg": 5, "per": "week"}, "note": "x", "sex": "m"}'
    )
    assert mean(make_sample(half), reference) == pytest.approx(2 / 4)  # age, dose.mg of 4 fields
    assert f1(make_sample(half), reference) == pytest.approx(
        2 * (2 / 6) * (2 / 4) / (2 / 6 + 2 / 4)
    )
    wrapped = '```json\n{"answer": {"age": 54}}\n```'  # the answer field of a response format
    assert mean(make_sample(wrapped), reference) == pytest.approx(1 / 4)
    assert mean(make_sample("not json"), reference) == 0.0
    assert mean(make_sample("{}"), {"reference_answer": {}}) == 1.0
    strict = compile_source(
        build_grader({"preset": "json_match", "case_sensitive": True}, answer_key="answer")[
            "source"
        ]
    )
    assert strict(make_sample(exact), reference) == pytest.approx(3 / 4)


def test_math_equivalence():
    grade = compile_source(build_grader("math_equivalence", answer_key="answer")["source"])
    assert grade(make_sample("0.5"), {"reference_answer": "\\frac{1}{2}"}) == 1.0
    assert (
        grade(make_sample("The answer is $\\boxed{\\frac{2}{4}}$"), {"reference_answer": "0.5"})
        == 1.0
    )
    assert grade(make_sample('{"answer": "1/2"}'), {"reference_answer": "0.5"}) == 1.0
    assert grade(make_sample("0.6"), {"reference_answer": "\\frac{1}{2}"}) == 0.0
    assert grade(make_sample(""), {"reference_answer": "1"}) == 0.0
    assert grade(make_sample("x"), {"reference_answer": None}) == 0.0


def test_python_presets_name_their_missing_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "math_verify", None)
    monkeypatch.setitem(sys.modules, "rapidfuzz", None)
    with pytest.raises(ConfigError, match=r"imports math_verify, .*pip install 'curate\[math\]'"):
        LocalGrader(default_grader("math", "answer"), workers=0)
    with pytest.raises(
        ConfigError, match=r"imports rapidfuzz, .*pip install 'curate\[similarity\]'"
    ):
        LocalGrader(default_grader("text", "answer"), workers=0)


def test_multi_preset_blends_with_a_formula():
    grader = build_grader({"preset": "multi", "name": "blend", "calculate_output": "0.15 * exact + 0.85 * fuzzy",
                           "graders": {"exact": {"preset": "exact_match", "answer_from": "text"},
                                       "fuzzy": {"preset": "fuzzy_match", "answer_from": "text"}}})  # fmt: skip
    assert grader["type"] == "multi" and set(grader["graders"]) == {"exact", "fuzzy"}
    with LocalGrader(grader, workers=0) as runner:
        result = runner.grade("gouty", {"reference_answer": "gout"})
    assert result.sub_scores == {
        "exact": 0.0,
        "fuzzy": pytest.approx(fuzz.ratio("gouty", "gout") / 100),
    }
    assert result.score == pytest.approx(0.85 * fuzz.ratio("gouty", "gout") / 100)
    with pytest.raises(ConfigError, match="reads b, which is not a sub-grader"):
        build_grader(
            {"preset": "multi", "graders": {"a": "exact_match"}, "calculate_output": "a + b"}
        )
    with pytest.raises(ConfigError, match="cannot be nested"):
        build_grader({"preset": "multi", "calculate_output": "a", "graders": {
            "a": {"preset": "multi", "graders": {"b": "exact_match"}, "calculate_output": "b"}}})  # fmt: skip


def test_string_check_and_text_similarity_presets():
    like = build_grader({"preset": "string_check", "operation": "ilike", "answer_from": "text"})
    assert (like["type"], like["operation"], like["name"]) == (
        "string_check",
        "ilike",
        "string_ilike",
    )
    rouge = build_grader({"preset": "text_similarity", "metric": "rouge_l"}, answer_key="answer")
    assert (rouge["evaluation_metric"], rouge["input"]) == (
        "rouge_l",
        "{{sample.output_json.answer}}",
    )
    with pytest.raises(ConfigError, match="'metric' parameter"):
        build_grader({"preset": "text_similarity", "metric": "rouge_9"})


@settings(max_examples=150, deadline=None)
@given(
    output=st.one_of(st.text(max_size=12), st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["answer", "a"]), inner, max_size=2),
        max_leaves=6).map(json.dumps)),
    reference=st.one_of(st.none(), st.integers(), st.text(max_size=6), st.lists(st.text(max_size=3), max_size=2),
                        st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), max_size=2)),
)  # fmt: skip
def test_open_answer_sources_never_raise_and_stay_in_unit_interval(output, reference):
    for grade in OPEN_GRADES:
        score = grade(make_sample(output), {"reference_answer": reference})
        assert isinstance(score, float) and 0.0 <= score <= 1.0


OPEN_GRADES = [
    compile_source(default_grader(kind, "answer")["source"])
    for kind in ("text", "number", "json", "math")
]


# --- default graders per task kind ----------------------------------------------------------------


def test_default_grader_per_kind():
    names = {
        kind: (default_grader(kind, "answer")["type"], default_grader(kind, "answer")["name"])
        for kind in KINDS
    }
    assert names == {
        "labels": ("python", "multilabel_f1"), "single_label": ("string_check", "exact_match"),
        "text": ("python", "text_blend"), "number": ("python", "numeric_tolerance"),
        "json": ("python", "json_match"), "math": ("python", "math_equivalence"),
    }  # fmt: skip
    assert 'ANSWER_KEY = "diagnosis"' in default_grader("text", "diagnosis")["source"]
    assert build_grader(default_grader("number", "answer")) == default_grader(
        "number", "answer"
    )  # a valid spec
    with pytest.raises(ConfigError, match="no default grader for task kind 'essay'"):
        default_grader("essay", "answer")


@pytest.mark.parametrize("kind", KINDS)
def test_default_graders_pass_lint_and_the_dryrun_self_test(kind):
    key = "labels" if kind == "labels" else "answer"
    grader = default_grader(kind, key)
    items = _items(kind)
    assert lint_templates(grader, items, has_response_format=True).height == 0
    plain = lint_templates(grader, items, has_response_format=False)["rule"].to_list()
    needs_format = kind in ("labels", "single_label")  # they read sample.output_json only
    assert plain == (["grader_output_json_without_response_format"] if needs_format else [])
    with LocalGrader(grader, workers=1) as runner:
        result = self_test(runner, items, _format(kind, key))
        assert result["passed"], result["problems"]
        if kind != "labels":
            kinds = sorted({f"{m['case']}" for m in result["malformed"]})
            assert (
                "empty" in kinds and result["perturbed"]["checked"] >= 4
            )  # empty + other answer, each item
        # the three promises, checked directly: reference = max, empty = min, another answer < max
        ref, other = items[0]["reference_answer"], items[1]["reference_answer"]
        fmt = _format(kind, key)
        assert runner.grade(fmt.render_answer(ref), items[0]).score == 1.0
        assert runner.grade("", items[0]).score == 0.0
        assert runner.grade(fmt.render_answer(other), items[0]).score < 1.0


@pytest.mark.parametrize("kind", ["text", "number", "math"])
def test_open_defaults_pass_the_self_test_without_a_response_format(kind):
    with LocalGrader(default_grader(kind, "answer"), workers=0) as runner:
        result = self_test(runner, _items(kind), AnswerFormat.from_response_format(None))
    assert result["passed"], result["problems"]


def test_self_test_catches_a_grader_that_cannot_tell_answers_apart():
    lenient = {
        "type": "python",
        "name": "any",
        "source": "def grade(sample, item):\n    return 1.0 if sample['output_text'] else 0.0",
    }
    with LocalGrader(lenient, workers=0) as runner:
        result = self_test(runner, _items("text"), AnswerFormat.from_response_format(None))
    assert not result["passed"]
    assert any("other items' answers score the maximum" in p for p in result["problems"])


# --- the exported reward functions give the local runner's scores ---------------------------------


OUTPUTS = {
    "text": ["gout", "Gout", "<think>maybe pseudogout</think>\n\ngout", "acute gout", "", "```\nthought withdrawal\n```"],
    "single_label": ['{"answer": "Pneumonia"}', '<think>x</think>{"answer": "Pneumonia"}', '{"answer": "Sepsis"}', "Pneumonia", ""],
    "number": ["1000", "1,000", "<think>approx</think>2.5", "1e3", "999", ""],
    "json": ['{"age": 54, "drug": "warfarin"}', '```json\n{"answer": {"age": 54}}\n```', "{}", "nope"],
    "math": ["\\boxed{1000}", "0.5", "<think>...</think>$x^2+1$", "2.5"],
}  # fmt: skip


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("standalone", [False, True])
@pytest.mark.parametrize("kind", sorted(OUTPUTS))
def test_trl_and_verl_reward_functions_match_the_local_runner(
    tmp_path, monkeypatch, kind, standalone
):
    grader = default_grader(kind, "answer")
    if standalone and grader["type"] != "python":
        pytest.skip("without curate the reward module runs python graders only")
    if standalone:
        monkeypatch.setenv("CURATE_REWARD_STANDALONE", "1")
    refs = {"number": [1000, 2.5], "math": ["1000", "x^2 + 1"]}.get(kind, REFERENCES.get(kind))
    outputs = OUTPUTS[kind]
    pairs = [
        (out, {"reference_answer": refs[i % 2], "id": f"r{i}"}) for i, out in enumerate(outputs)
    ]
    with LocalGrader(grader, workers=1) as runner:
        expected = [r.score for r in runner.grade_many(pairs)]
    assert len(set(expected)) > 1  # the outputs really differ

    (tmp_path / "trl.py").write_text(
        reward_module(grader, "trl", header="t", columns=["reference_answer", "id"])
    )
    trl = _load(tmp_path / "trl.py", f"trl_{kind}_{standalone}")
    got = trl.reward(
        prompts=[[{"role": "user", "content": "q"}]] * len(pairs),
        completions=[[{"role": "assistant", "content": out}] for out, _ in pairs],
        reference_answer=[item["reference_answer"] for _, item in pairs],
        id=[item["id"] for _, item in pairs],
    )
    assert got == expected

    # verl's ground_truth is a string: string references as they are, others as JSON text
    is_json = not isinstance(refs[0], str)
    (tmp_path / "verl.py").write_text(
        reward_module(grader, "verl", header="v", constants={"REFERENCE_IS_JSON": is_json})
    )
    verl = _load(tmp_path / "verl.py", f"verl_{kind}_{standalone}")
    truth = json.dumps if is_json else str
    scores = [verl.compute_score("curate", out, truth(item["reference_answer"]),
                                 {"item": json.dumps({"id": item["id"]})}) for out, item in pairs]  # fmt: skip
    assert scores == expected


# --- end to end: a real run per open kind, its grader.json, the self-test, the verl reward ---------


def _rows(kind: str) -> list[dict]:
    rows = []
    for i in range(30):
        answer = {
            "text": ["gout", "thought withdrawal", "Parvovirus B19 infection"][i % 3]
            + f" type {i}",
            "number": f"{(i + 1) * 1000:,}",
            "json": {"age": 20 + i, "drug": ["warfarin", "heparin"][i % 2]},
            "math": f"\\frac{{{i + 1}}}{{{i + 2}}}",
        }[kind]
        rows.append(
            {
                "id": f"q{i}",
                "question": f"Question number {i} about case {i * 7} of {kind}?",
                "answer": answer,
            }
        )
    return rows


@pytest.mark.parametrize("kind", ["text", "number", "json", "math"])
def test_each_open_kind_exports_a_grader_that_passes_the_self_test_and_matches_verl(tmp_path, kind):
    from curate.pipeline import Pipeline

    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows(kind)))
    config = {"source": {"path": str(data), "id": "id", "text": "question", "answer": "answer"},
              "answer": {"kind": kind}, "split": {"validation": 0.3, "seed": 3}}  # fmt: skip
    (tmp_path / "pipeline.yaml").write_text(json.dumps(config))
    outputs = {}
    for target in ("openai-rft", "verl"):
        out = tmp_path / target
        Pipeline.from_file(
            tmp_path / "pipeline.yaml", {"export.out": str(out), "export.target": target}
        ).run()
        outputs[target] = out
    rft = outputs["openai-rft"]
    grader = json.loads((rft / "grader.json").read_text())
    assert grader == default_grader(kind, "answer")  # export.grader omitted: the kind's default
    items = [json.loads(line) for line in (rft / "valid.jsonl").read_text().splitlines()]
    fmt = AnswerFormat.from_response_format(json.loads((rft / "response_format.json").read_text()))
    with LocalGrader(grader, workers=1) as runner:
        result = self_test(runner, items, fmt)
        assert result["passed"], result["problems"]
        samples = [fmt.render_answer(item["reference_answer"]) for item in items]
        samples += ["", "<think>no idea</think>", fmt.render_answer(items[1]["reference_answer"])]
        pairs = [
            (text, items[0] if i >= len(items) else items[i]) for i, text in enumerate(samples)
        ]
        expected = [r.score for r in runner.grade_many(pairs)]
    import polars as pl

    verl_rows = {
        r["extra_info"]["id"]: r
        for r in pl.read_parquet(outputs["verl"] / "valid.parquet").to_dicts()
    }
    module = _load(outputs["verl"] / "reward.py", f"verl_e2e_{kind}")
    got = []
    for text, item in pairs:
        row = verl_rows[item["id"]]
        got.append(
            module.compute_score(
                row["data_source"], text, row["reward_model"]["ground_truth"], row["extra_info"]
            )
        )
    assert got == expected
    assert expected[: len(items)] == [1.0] * len(items) and expected[len(items) :][:2] == [0.0, 0.0]


def test_dry_run_grades_a_reasoning_models_final_answers(tmp_path, monkeypatch):
    from chat_server import ChatServer

    from curate.dryrun import run_dryrun
    from curate.pipeline import Pipeline

    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in _rows("text")))
    config = {"source": {"path": str(data), "id": "id", "text": "question", "answer": "answer"},
              "answer": {"kind": "text"}, "split": {"validation": 0.3, "seed": 3},
              "export": {"out": str(tmp_path / "out"), "response_format": False}}  # fmt: skip
    (tmp_path / "pipeline.yaml").write_text(json.dumps(config))
    Pipeline.from_file(tmp_path / "pipeline.yaml").run()
    out = tmp_path / "out"
    assert not (out / "response_format.json").exists()
    items = [json.loads(line) for line in (out / "valid.jsonl").read_text().splitlines()]
    script = {}
    for i, item in enumerate(items):
        ref = item["reference_answer"]
        right = f"<think>The vignette fits {ref}, or maybe not.</think>\n\n{ref}"
        fenced = f"Final answer:\n```\n{ref}\n```"
        wrong = "<think>Hmm.</think> lupus"
        script[item["messages"][-1]["content"]] = [right, fenced] if i % 2 else [wrong, wrong]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0123456789")
    with ChatServer(script, api_key="sk-test-0123456789") as server:
        report = run_dryrun(
            out, model="stub-model", base_url=server.url, samples=2, concurrency=2, split="valid"
        )
    data = json.loads((out / "dryrun.json").read_text())
    assert data["selftest"]["passed"] is True, data["selftest"]["problems"]
    by_id = {row["id"]: row["scores"] for row in data["items"]}
    for i, item in enumerate(items):
        scores = by_id[item["id"]]
        if i % 2:
            assert scores == [1.0, 1.0]  # the final answer, after </think> or in the fence
        else:
            assert max(scores) < 0.5  # "lupus" is not the reference
    assert report.summary["mean"] == pytest.approx(
        sum(max(by_id[it["id"]]) for it in items) / len(items)
    )
