"""Model graders (score_model, label_model) against a real scripted OpenAI-compatible server."""

from __future__ import annotations

import json

import pytest
from chat_server import ChatServer

from curate.errors import ConfigError
from curate.graders import LocalGrader, build_grader

JUDGE = {
    "type": "score_model",
    "name": "judge",
    "model": "stub-model",
    "input": [
        {"role": "developer", "content": "Score the answer from 0 to 10."},
        {"role": "user", "content": "Answer: {{sample.output_text}} Reference: {{item.answer}}"},
    ],
    "range": [0, 10],
    "sampling_params": {"temperature": 0, "seed": 1},
}


def test_score_model_calls_the_endpoint_clips_to_range_and_records_failures():
    script = {
        "Answer: Paris Reference: Paris": [json.dumps({"steps": [], "result": 9})],
        "Answer: Lyon Reference: Paris": [json.dumps({"steps": [], "result": 42})],
        "Answer: Rome Reference: Paris": ["not json"],
    }
    with ChatServer(script=script) as server:
        with pytest.raises(ConfigError, match="cannot run offline"):
            LocalGrader(JUDGE)
        grader = LocalGrader(JUDGE, model_base_url=server.url, model_api_key=server.api_key)
        results = grader.grade_many(
            [(text, {"answer": "Paris"}) for text in ("Paris", "Lyon", "Rome")]
        )
        missing = grader.grade("Paris", {})
        body = server.bodies[-1]
    assert [r.score for r in results] == [9.0, 10.0, 0.0]
    assert results[2].errors[0].startswith("judge: model_grader_parse_error")
    assert missing.score == 0.0 and "invalid_variable_error" in missing.errors[0]
    assert body["response_format"]["json_schema"]["schema"]["required"] == ["steps", "result"]


def test_label_model_inside_multi_with_a_python_grader():
    label = {"type": "label_model", "name": "tone", "model": "stub-model", "labels": ["polite", "rude"],
             "passing_labels": ["polite"], "input": [{"role": "user", "content": "{{sample.output_text}}"}]}  # fmt: skip
    grader = {"type": "multi", "name": "m", "calculate_output": "0.5 * tone + 0.5 * f1",
              "graders": {"tone": label, "f1": build_grader("multilabel_f1")}}  # fmt: skip
    polite, rude = '{"labels": ["a"]}', '{"labels": ["a", "b"]}'
    script = {
        polite: [json.dumps({"steps": [], "result": "polite"})],
        rude: [json.dumps({"steps": [], "result": "rude"})],
    }
    with ChatServer(script=script) as server:
        with LocalGrader(
            grader, workers=1, model_base_url=server.url, model_api_key=server.api_key
        ) as runner:
            results = runner.grade_many(
                [(polite, {"reference_answer": ["a"]}), (rude, {"reference_answer": ["a"]})]
            )
    assert [r.score for r in results] == pytest.approx([1.0, 0.5 * 0 + 0.5 * (2 / 3)])
    assert results[0].sub_scores == {"tone": 1.0, "f1": 1.0}


def test_an_unreachable_endpoint_scores_zero_with_a_server_error():
    grader = LocalGrader(JUDGE, model_base_url="http://127.0.0.1:9/v1", timeout=2)
    result = grader.grade("Paris", {"answer": "Paris"})
    assert result.score == 0.0 and result.errors[0].startswith("judge: model_grader_server_error")
