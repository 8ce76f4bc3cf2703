"""The grader audit (issue 12): answers a grader must not reward with its maximum, found offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import curate
from curate.dryrun.audit import audit_grader
from curate.dryrun.grading import open_grader
from curate.dryrun.outdir import AnswerFormat, load_items, read_json
from curate.graders import build_grader, default_grader

TOPICS = ("harbour", "orchard", "glacier", "violin", "lantern", "meadow", "copper", "falcon", "canyon", "saffron")

RECALL = """def grade(sample, item):
    got = (sample.get('output_json') or {}).get('labels') or []
    return float(set(item['reference_answer']) <= set(got))
"""
CONTAINS = """def grade(sample, item):
    text = sample.get('output_text') or ''
    return float(str(item['reference_answer']).lower() in text.lower())
"""


def _export(folder: Path, kind: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(30):
        gold = sorted({TOPICS[i % 10], TOPICS[(i + 3) % 10]}) if kind == "labels" else f"the {TOPICS[i % 10]} {i}"
        rows.append({"uid": f"q{i}", "question": f"Item {i} about the {TOPICS[i % 10]}?", "gold": gold})
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    field, task = ("labels", "") if kind == "labels" else ("answer", "answer: {kind: text}\n")
    config = folder / "pipeline.yaml"
    config.write_text(f"source: {{path: data.jsonl, id: uid, text: question, {field}: gold}}\n{task}rules: []\n"
                      "split: {validation: 5, seed: 3}\nexport: {out: out, developer: 'Answer.'}\n", encoding="utf-8")
    curate.run(config)
    return folder / "out"


@pytest.fixture(scope="module", params=["labels", "text"])
def exported(request, tmp_path_factory):
    return request.param, _export(tmp_path_factory.mktemp(request.param), request.param)


def _audit(out: Path, grader: dict) -> dict:
    items = load_items(out, "train")
    answer = AnswerFormat.from_response_format(read_json(out / "response_format.json", "response format"))
    with open_grader(grader, workers=0) as graded:
        return audit_grader(graded, items, answer)


def _flagged(found: dict) -> set[str]:
    return {c["case"] for c in found["cases"] if c["at_max"]}


def test_flags_lenient_graders_and_passes_the_presets(exported) -> None:
    kind, out = exported
    if kind == "labels":
        lenient = _audit(out, {"type": "python", "name": "recall", "source": RECALL})
        assert "every_label" in _flagged(lenient)
        assert any("every allowed label at once scores the maximum" in w for w in lenient["warnings"])
        preset = _audit(out, build_grader("multilabel_f1", answer_key="labels"))
        assert {c["case"] for c in preset["cases"]} == {"every_label", "padded", "question", "dont_know"}
    else:
        lenient = _audit(out, {"type": "python", "name": "contains", "source": CONTAINS})
        assert {"padded", "long_wrong"} <= _flagged(lenient)
        assert any("padded with a paragraph" in w for w in lenient["warnings"])
        preset = _audit(out, default_grader("text", "answer"))
        assert {c["case"] for c in preset["cases"]} == {"padded", "question", "dont_know", "long_wrong"}
    assert _flagged(preset) == set() and preset["warnings"] == []


def test_selftest_only_runs_offline_and_reports_the_audit(exported, tmp_path: Path) -> None:
    kind, out = exported
    grader = tmp_path / "lenient.json"
    grader.write_text(json.dumps({"type": "python", "name": "g", "source": RECALL if kind == "labels" else CONTAINS}))
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    done = subprocess.run([sys.executable, "-m", "curate", "dryrun", str(out), "--selftest-only", "--grader",
                           str(grader), "--grader-workers", "0"], capture_output=True, text=True, env=env)
    assert "Traceback" not in done.stderr and "--model" not in done.stderr, done.stderr
    report = json.loads((out / "dryrun.json").read_text())
    assert report["items"] == [] and report["usage"]["prompt_tokens"] == 0
    assert any(w.startswith("grader audit:") for w in report["warnings"])
    assert report["selftest"]["audit"]["warnings"]
    assert "Grader audit" in (out / "dryrun.html").read_text()
    clean = subprocess.run([sys.executable, "-m", "curate", "dryrun", str(out), "--selftest-only",
                            "--grader-workers", "0"], capture_output=True, text=True, env=env)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert json.loads((out / "dryrun.json").read_text())["selftest"]["audit"]["warnings"] == []
    missing = subprocess.run([sys.executable, "-m", "curate", "dryrun", str(out)], capture_output=True, text=True,
                             env=env)
    assert missing.returncode == 2 and "--model is required" in missing.stderr
