"""gemini-rl rows and reward, platform notices (openai-rft, openai-evals), verl 0.9 keys and prompt
length, Bedrock's prompt range, and the reference lint every target shares."""

from __future__ import annotations

import dataclasses
import json
from types import SimpleNamespace

import polars as pl
import pytest
from test_export_targets import OUTPUTS, errors, load_module, make_bundle, split_frame, write

from curate.export import get_target, target_names
from curate.export._reference import reference_findings
from curate.graders import LocalGrader, build_grader


def rows(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def text_frame(n: int, start: int = 0, answers=None) -> pl.DataFrame:
    """A split of an open-answer (text) task: the reference is one string."""
    frame = split_frame(n, start)
    answers = answers or [f"answer {i}" for i in range(start, start + n)]
    return frame.with_columns(pl.Series("reference_answer", answers, dtype=pl.String))


def make_bundle_with_kind(kind_name: str, **changes):
    from curate.kinds import get_kind

    return dataclasses.replace(make_bundle(**changes), kind=get_kind(kind_name))


# --- gemini-rl -----------------------------------------------------------------------------------


def test_gemini_rows_have_system_instruction_contents_and_string_references(tmp_path):
    bundle = make_bundle()
    write("gemini-rl", bundle, tmp_path / "out")
    lines = rows(tmp_path / "out" / "train.jsonl")
    assert len(lines) == 120 and set(lines[0]) == {"systemInstruction", "contents", "references"}
    assert lines[0]["systemInstruction"] == {"role": "system",
                                             "parts": [{"text": "Pick labels from: economics, finance, law, trade"}]}
    assert lines[0]["contents"] == [{"role": "user", "parts": [{"text": "document 0 about trade and law"}]}]
    assert lines[3]["references"] == {"reference_answer": '["economics","finance"]', "id": "doc-3", "year": "2003"}
    assert all(isinstance(v, str) for line in lines for v in line["references"].values())
    assert [json.loads(line["references"]["reference_answer"]) for line in lines] == \
        bundle.splits["train"]["reference_answer"].to_list()


def test_gemini_text_answers_are_written_as_they_are_and_turns_map_to_model():
    messages = [[{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"},
                 {"role": "user", "content": "q2"}]]
    frame = pl.DataFrame({"messages": messages, "reference_answer": ["Pneumonia"], "id": ["x"], "year": [None]},
                         schema_overrides={"year": pl.Int64})
    bundle = make_bundle(splits={"train": frame, "valid": frame.clear()}, options={"reference_key": "diagnosis"})
    row = get_target("gemini-rl").frames(bundle)["train"].row(0, named=True)
    assert "systemInstruction" not in get_target("gemini-rl").frames(bundle)["train"].columns
    assert [c["role"] for c in row["contents"]] == ["user", "model", "user"]
    assert row["references"] == {"diagnosis": "Pneumonia", "id": "x", "year": ""}
    found = get_target("gemini-rl").lint(bundle)
    assert found.filter(pl.col("rule") == "target_reference_null")[["line", "field", "severity"]].rows() == \
        [(1, "year", "warn")]


def test_gemini_lint_roles_limits_keys_and_long_prompts():
    frame = split_frame(5)
    bad = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 1)
        .then(pl.col("messages").list.reverse().list.concat(
            pl.lit([{"role": "user", "content": "again"}], dtype=frame.schema["messages"])))
        .when(pl.int_range(pl.len()) == 3)
        .then(pl.col("messages").list.concat(pl.lit([{"role": "tool", "content": "{}"}, {"role": "user", "content": "u"}],
                                                    dtype=frame.schema["messages"])))
        .otherwise(pl.col("messages")).alias("messages")
    )
    found = errors(get_target("gemini-rl").lint(make_bundle(splits={"train": bad, "valid": split_frame(1, 9)})))
    assert found.filter(pl.col("rule") == "target_role")["line"].to_list() == [2, 4]
    assert get_target("gemini-rl").lint(make_bundle(train=5001)).filter(
        pl.col("rule") == "target_row_limit")[["line", "severity"]].rows() == [(5001, "error")]
    relaxed = get_target("gemini-rl").lint(make_bundle(train=5001, options={"enforce_row_limits": False}))
    assert relaxed.filter(pl.col("rule") == "target_row_limit")["severity"].to_list() == ["warn"]
    clash = errors(get_target("gemini-rl").lint(make_bundle(options={"reference_key": "year"})))
    assert clash["rule"].to_list() == ["target_reserved_key"] and clash["field"].item() == "year"
    long = get_target("gemini-rl").lint(make_bundle(options={"max_input_tokens": 16}))
    hit = long.filter(pl.col("rule") == "target_prompt_too_long")
    assert hit.height == 150 and set(hit["severity"]) == {"warn"} and int(hit["value"][0]) > 16


def test_gemini_empty_or_missing_references_are_errors():
    frame = text_frame(4, answers=["a", "  ", None, "d"])
    bundle = make_bundle_with_kind("text", splits={"train": frame, "valid": text_frame(1, 9)})
    found = errors(get_target("gemini-rl").lint(bundle))
    assert found.sort("line")[["line", "rule"]].rows() == [(2, "target_reference_empty"),
                                                          (3, "target_reference_missing")]


@pytest.mark.parametrize("standalone", [False, True])
def test_gemini_reward_matches_the_local_runner(tmp_path, monkeypatch, standalone):
    grader = build_grader("multilabel_f1")
    write("gemini-rl", make_bundle(grader=grader), tmp_path / "out")
    if standalone:
        monkeypatch.setenv("CURATE_REWARD_STANDALONE", "1")
    module = load_module(tmp_path / "out" / "gemini_reward.py", f"gemini_reward_{standalone}")
    lines = rows(tmp_path / "out" / "train.jsonl")[: len(OUTPUTS)]
    responses = [{"role": "model", "parts": [{"text": "thinking...", "thought": True}, {"text": out}]}
                 for out in OUTPUTS]
    got = [module.evaluate(line, response) for line, response in zip(lines, responses, strict=True)]
    frame = make_bundle().splits["train"].head(len(OUTPUTS))
    with LocalGrader(grader, workers=0) as local:
        expected = local.grade_many([(out, {"reference_answer": ref})
                                     for out, ref in zip(OUTPUTS, frame["reference_answer"].to_list(), strict=True)])
    assert got == [r.score for r in expected] and len(set(got)) > 2
    item = module.item_of(lines[0])
    assert item["year"] == 2000 and item["messages"][0]["role"] == "developer"
    assert module.evaluate(lines[0], OUTPUTS[0]) == got[0]  # a plain string response


# --- notices -------------------------------------------------------------------------------------


def test_openai_rft_warns_about_the_closing_and_names_the_targets_for_the_same_file():
    found = get_target("openai-rft").lint(make_bundle())
    notice = found.filter(pl.col("rule") == "target_notice")
    assert notice["severity"].to_list() == ["warn"] and errors(found).height == 0
    message = notice["message"].item()
    assert "2027-01-06" in message and "azure-rft" in message and "bedrock-rft" in message
    for name in target_names():  # the same-shape subclasses carry no OpenAI notice
        if name not in ("openai-rft", "openai-evals"):
            assert get_target(name).lint(make_bundle()).filter(pl.col("rule") == "target_notice").height == 0, name


def test_openai_evals_warns_that_the_service_is_shut_down():
    notice = get_target("openai-evals").lint(make_bundle()).filter(pl.col("rule") == "target_notice")
    assert notice["severity"].to_list() == ["warn"] and "shut down on 2026-11-30" in notice["message"].item()


def test_notices_reach_the_run_output_manifest_and_report(tmp_path):
    from test_export_targets import EXAMPLE

    from curate.pipeline import Pipeline

    if not EXAMPLE.exists():
        pytest.skip("the EUR-Lex example is not in this checkout")
    said = []
    pipeline = Pipeline.from_file(EXAMPLE, {"export.out": str(tmp_path / "out"), "export.target": "openai-evals"})
    pipeline.progress = said.append
    result = pipeline.run()
    assert any(line.startswith("warning: target_notice: openai-evals: OpenAI Evals was shut down") for line in said)
    warnings = result.manifest["export"]["warnings"]
    assert result.manifest["export"]["target"] == "openai-evals" and warnings[0]["rule"] == "target_notice"
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["export"]["warnings"] == warnings
    assert "shut down on 2026-11-30" in (tmp_path / "out" / "report.html").read_text()


# --- verl 0.9 ------------------------------------------------------------------------------------


def test_verl_writes_the_0_9_reward_keys_and_the_prompt_cap(tmp_path):
    names = write("verl", make_bundle(options={"max_prompt_length": 4096}), tmp_path / "out")
    assert "verl_overrides.txt" in names
    lines = (tmp_path / "out" / "verl_overrides.txt").read_text().splitlines()
    assert "reward.custom_reward_function.path=reward.py" in lines
    assert "reward.custom_reward_function.name=compute_score" in lines
    assert not any(line.startswith("custom_reward_function.") for line in lines)  # ignored by verl 0.9
    assert "data.max_prompt_length=4096" in lines and "data.filter_overlong_prompts=True" in lines
    assert "reward.custom_reward_function.path" in (tmp_path / "out" / "reward.py").read_text()


def test_verl_warns_about_prompts_over_max_prompt_length():
    frame = split_frame(3)
    messages = frame["messages"].to_list()
    messages[1][-1]["content"] *= 200  # ~30 characters -> ~6,000
    long_frame = frame.with_columns(pl.Series("messages", messages, dtype=frame.schema["messages"]))
    found = get_target("verl").lint(make_bundle(splits={"train": long_frame, "valid": split_frame(1, 9)}))
    hit = found.filter(pl.col("rule") == "target_prompt_too_long")
    assert hit[["line", "severity"]].rows() == [(2, "warn")] and "max_prompt_length=1024" in hit["message"].item()
    assert int(hit["value"].item()) > 1024 and errors(found).height == 0
    wide = get_target("verl").lint(make_bundle(splits={"train": long_frame, "valid": split_frame(1, 9)},
                                               options={"max_prompt_length": 100_000}))
    assert wide.filter(pl.col("rule") == "target_prompt_too_long").height == 0


def test_verl_string_references_are_the_ground_truth_itself(tmp_path):
    grader = build_grader("exact_match")
    bundle = make_bundle_with_kind("text", splits={"train": text_frame(6), "valid": text_frame(2, 50)}, grader=grader)
    write("verl", bundle, tmp_path / "out")
    frame = pl.read_parquet(tmp_path / "out" / "train.parquet")
    assert frame["reward_model"].struct.field("ground_truth").to_list() == [f"answer {i}" for i in range(6)]
    module = load_module(tmp_path / "out" / "reward.py", "verl_reward_text")
    row = frame.row(2, named=True)
    outputs = ['{"labels": "answer 2"}', "answer 2", '{"labels": "answer 3"}', ""]
    got = [module.compute_score("curate", out, row["reward_model"]["ground_truth"], row["extra_info"]) for out in outputs]
    with LocalGrader(grader, workers=0) as local:
        expected = [r.score for r in local.grade_many([(out, {"reference_answer": "answer 2"}) for out in outputs])]
    assert got == expected


# --- Bedrock and the shared reference lint -------------------------------------------------------


def test_bedrock_takes_at_most_20000_prompts():
    found = get_target("bedrock-rft").lint(make_bundle(train=20_001, valid=1))
    assert errors(found)["rule"].to_list() == ["target_row_limit"] and "20001 rows" in errors(found)["message"].item()
    assert errors(get_target("bedrock-rft").lint(make_bundle(train=20_000, valid=1))).height == 0


@pytest.mark.parametrize("kind,dtype_ok,values", [
    ("text", True, ["a", "b"]), ("text", False, [["a"], ["b"]]), ("number", True, [1.5, 2.0]),
    ("number", True, [1, 2]), ("number", False, ["1", "2"]), ("labels", True, [["a"], []]),
    ("labels", False, ["a", "b"]), ("json", True, ['{"a":1}', "[]"]), ("json", False, [1, 2]),
    ("single_label", False, [["a"], ["b"]]), ("math", True, ["1/2", "x"]),
])
def test_reference_lint_knows_what_each_kind_holds(kind, dtype_ok, values):
    from curate.kinds import get_kind

    frame = pl.DataFrame({"reference_answer": values, "id": ["1", "2"]})
    bundle = SimpleNamespace(splits={"train": frame}, kind=get_kind(kind))
    found = reference_findings("t", bundle)
    assert (found.filter(pl.col("rule") == "target_reference_type").height == 0) == dtype_ok


def test_a_kind_the_lint_cannot_probe_accepts_any_reference_type():
    frame = pl.DataFrame({"reference_answer": [{"x": 1}], "id": ["1"]})
    bundle = SimpleNamespace(splits={"train": frame}, kind=SimpleNamespace(name="custom", is_labels=False))
    assert reference_findings("t", bundle).height == 0
