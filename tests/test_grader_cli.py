"""``curate grade`` and ``curate grader validate|build`` on real files, and the benchmark's quick mode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from curate.cli import app
from curate.graders import build_grader

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def files(tmp_path):
    grader = tmp_path / "grader.json"
    grader.write_text(json.dumps(build_grader("multilabel_f1")))
    item = tmp_path / "item.json"
    item.write_text(json.dumps({"id": "a", "reference_answer": ["economics", "finance", "law"]}))
    sample = tmp_path / "output.txt"
    sample.write_text('{"labels": ["economics", "law"]}')
    return grader, item, sample


def test_grade_prints_the_score(files):
    grader, item, sample = files
    result = CliRunner().invoke(
        app, ["grade", "--grader", str(grader), "--item", str(item), "--sample", str(sample)]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["score"] == pytest.approx(0.8) and out["errors"] == []


def test_grade_accepts_eval_items_and_inline_text(files, tmp_path):
    grader, _, _ = files
    item = tmp_path / "eval_item.json"
    item.write_text(json.dumps({"item": {"reference_answer": ["law"]}}))
    result = CliRunner().invoke(
        app, ["grade", "-g", str(grader), "-i", str(item), "--text", "not json"]
    )
    assert result.exit_code == 0 and json.loads(result.stdout)["score"] == 0.0
    both = CliRunner().invoke(app, ["grade", "-g", str(grader), "-i", str(item)])
    assert both.exit_code == 2 and "exactly one of --sample FILE or --text TEXT" in both.stderr


def test_grade_reads_one_row_of_an_exported_jsonl_file(files, tmp_path):
    grader, _, _ = files
    train = tmp_path / "train.jsonl"
    train.write_text(
        "\n".join(
            json.dumps({"id": str(i), "messages": [], "reference_answer": [f"l{i}"]})
            for i in range(3)
        )
    )
    result = CliRunner().invoke(
        app,
        ["grade", "-g", str(grader), "-i", str(train), "--row", "2", "-t", '{"labels": ["l1"]}'],
    )
    assert result.exit_code == 0 and json.loads(result.stdout)["score"] == 1.0
    past = CliRunner().invoke(
        app, ["grade", "-g", str(grader), "-i", str(train), "--row", "9", "-t", "{}"]
    )
    assert past.exit_code == 2 and "fewer than 9 lines" in past.stderr
    train.write_bytes(b'{"reference_answer": ["l0"]}\n{"reference_answer": NaN}\n\xff\n')
    for row, message in [("2", f"{train}:2: the item holds NaN, which is not valid JSON"),
                         ("3", f"{train}:3: the item is not valid UTF-8")]:
        bad = CliRunner().invoke(app, ["grade", "-g", str(grader), "-i", str(train), "--row", row, "-t", "{}"])
        assert bad.exit_code == 2 and message in bad.stderr, bad.stderr
    for item, message in [(tmp_path, "is a folder, not an item file"), (tmp_path / "no.jsonl", "item file does not exist")]:
        bad = CliRunner().invoke(app, ["grade", "-g", str(grader), "-i", str(item), "--row", "1", "-t", "{}"])
        assert bad.exit_code == 2 and f"{item}: {message}" in bad.stderr, bad.stderr


def test_grade_reports_offline_limits(tmp_path, files):
    _, item, sample = files
    judge = tmp_path / "judge.json"
    judge.write_text(json.dumps({"type": "score_model", "name": "judge", "model": "gpt-4.1",
                                 "input": [{"role": "user", "content": "{{sample.output_text}}"}]}))  # fmt: skip
    result = CliRunner().invoke(
        app, ["grade", "-g", str(judge), "-i", str(item), "-s", str(sample)]
    )
    assert result.exit_code == 2 and "cannot run offline" in result.stderr


def test_grader_validate(files, tmp_path):
    grader, item, _ = files
    ok = CliRunner().invoke(app, ["grader", "validate", str(grader)])
    assert ok.exit_code == 0 and "ok (python grader 'multilabel_f1')" in ok.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "string_check", "name": "s", "input": "{{sample.output_text}}",
                               "reference": "{{item.a}}", "operation": "neq"}))  # fmt: skip
    result = CliRunner().invoke(app, ["grader", "validate", str(grader), str(bad)])
    assert result.exit_code == 1
    assert (
        f"{bad}: grader 's' (string_check): 'operation' must be one of 'eq', 'ne', 'like', 'ilike'"
        in result.stderr
    )


def test_grader_build(tmp_path):
    result = CliRunner().invoke(app, ["grader", "build", "multilabel_fbeta", "--set", "beta=2"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == build_grader({"preset": "multilabel_fbeta", "beta": 2})
    wrong = CliRunner().invoke(app, ["grader", "build", "multilabel_fbeta", "--set", "beta=0"])
    assert wrong.exit_code == 2 and "'beta' parameter" in wrong.stderr


def test_benchmark_quick_mode_measures_both_ways():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "graders.py"), "--quick", "--json"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    stats = json.loads(proc.stdout)
    assert stats["mismatches"] == 0
    assert stats["in_process_per_s"] > 0
    assert stats["local_runner_per_s"] > 0  # the speed target is the benchmark's to print, not a test's


def test_grader_prints_do_not_corrupt_the_json_on_stdout(tmp_path):
    grader = tmp_path / "printing.json"
    grader.write_text(json.dumps({"type": "python", "name": "p",
                                  "source": "def grade(sample, item):\n    print('debug output')\n    return 1.0\n"}))  # fmt: skip
    item = tmp_path / "item.json"
    item.write_text("{}")
    proc = subprocess.run(
        [sys.executable, "-m", "curate", "grade", "-g", str(grader), "-i", str(item), "-t", "x"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["score"] == 1.0
    assert "debug output" in proc.stderr


def test_open_answer_graders_on_the_command_line(tmp_path):
    exact = tmp_path / "exact.json"
    exact.write_text(json.dumps(build_grader({"preset": "exact_match", "answer_from": "text"})))
    item = tmp_path / "item.json"
    item.write_text(json.dumps({"id": "a", "reference_answer": "gout"}))
    output = "<think>pseudogout?</think>\n```\ngout\n```"
    args = ["grade", "--grader", str(exact), "--item", str(item), "--text", output]
    extracted = CliRunner().invoke(app, args)
    raw = CliRunner().invoke(app, [*args, "--raw-output"])
    assert json.loads(extracted.stdout)["score"] == 1.0 and json.loads(raw.stdout)["score"] == 0.0

    math = tmp_path / "math.json"
    math.write_text(json.dumps(build_grader("math_equivalence", answer_key="answer")))
    checked = CliRunner().invoke(app, ["grader", "validate", str(math), str(exact)])
    assert checked.exit_code == 0, checked.output
    assert checked.stdout.count(": ok (") == 2
    assert (
        "imports math_verify, which OpenAI's python grader sandbox does not have" in checked.stderr
    )

    cosine = tmp_path / "cosine.json"
    cosine.write_text(json.dumps({"type": "text_similarity", "name": "c", "evaluation_metric": "cosine",
                                  "input": "{{sample.output_text}}", "reference": "{{item.reference_answer}}"}))  # fmt: skip
    rft = CliRunner().invoke(app, ["grader", "validate", str(cosine)])
    assert rft.exit_code == 1 and "evals only" in rft.stderr
    assert CliRunner().invoke(app, ["grader", "validate", "--local", str(cosine)]).exit_code == 0
    no_endpoint = CliRunner().invoke(
        app, ["grade", "--grader", str(cosine), "--item", str(item), "--text", "x"]
    )
    assert no_endpoint.exit_code == 2 and "embeddings endpoint" in no_endpoint.stderr
