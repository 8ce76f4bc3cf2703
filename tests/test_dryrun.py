"""Dry run against a real scripted chat completions server: statistics, verdict, reports, ledger.

The export fixture (tests/data/dryrun_out) holds 10 EUR-Lex train items; the server answers each
item by script: always right, always wrong, right 2 times in 5, or garbage.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from chat_server import ChatServer

from curate.dryrun import NO_GO, dryrun_hook, run_dryrun
from curate.errors import ConfigError, GateFailed
from curate.hooks import StageEvent
from curate.io.atomic import TEMP_PREFIX

FIXTURE = Path(__file__).parent / "data" / "dryrun_out"
KEY = "sk-test-0123456789"
WRONG = "energy"  # a level-1 name that no fixture item has


def items(split: str = "train") -> list[dict]:
    return [json.loads(line) for line in (FIXTURE / f"{split}.jsonl").read_text().splitlines()]


def right(item: dict) -> str:
    return json.dumps({"labels": item["reference_answer"]})


def wrong(item: dict) -> str:
    return json.dumps({"labels": [WRONG]})


def user_text(item: dict) -> str:
    return item["messages"][-1]["content"]


def script_for(behaviours: list[str], split: str = "train") -> dict[str, list[str]]:
    """Reply contents per item: 'right', 'wrong', '2in5' (right 2 times in 5) or 'garbage'."""
    out = {}
    for item, kind in zip(items(split), behaviours, strict=True):
        out[user_text(item)] = {
            "right": [right(item)],
            "wrong": [wrong(item)],
            "2in5": [right(item), right(item), wrong(item), wrong(item), wrong(item)],
            "garbage": ["I think this act is about trade."],
        }[kind]
    return out


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    shutil.copytree(FIXTURE, folder)
    return folder


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


MIXED = ["right", "right", "right", "wrong", "wrong", "2in5", "2in5", "2in5", "garbage", "right"]


def test_summary_item_statistics_and_suspects_match_the_script(out: Path) -> None:
    with ChatServer(script_for(MIXED), api_key=KEY) as server:
        report = run_dryrun(out, model="stub-model", base_url=server.url, samples=5, concurrency=4)
        assert server.requests == 50
        assert set(server.by_item.values()) == {5}
    ids = [it["id"] for it in items()]
    data = json.loads((out / "dryrun.json").read_text())
    assert data["summary"] == report.summary
    by_id = {row["id"]: row for row in data["items"]}
    assert [row["id"] for row in data["items"]] == ids
    for item_id, kind in zip(ids, MIXED, strict=True):
        row = by_id[item_id]
        expected = {
            "right": ([1.0] * 5, 1.0, 1.0, 1.0, 0.0),
            "wrong": ([0.0] * 5, 0.0, 0.0, 0.0, 0.0),
            "garbage": ([0.0] * 5, 0.0, 0.0, 0.0, 0.0),
            "2in5": ([0.0, 0.0, 0.0, 1.0, 1.0], 0.4, 1.0, 0.0, 0.547723),
        }[kind]
        assert (sorted(row["scores"]), row["mean"], row["max"], row["min"], row["std"]) == expected, item_id
    s = data["summary"]
    assert s["mean"] == 0.52  # (4 * 1.0 + 3 * 0.4) / 10
    assert s["frac_zero_variance"] == 0.7
    assert s["frac_all_min"] == 0.3
    assert s["frac_all_max"] == 0.4
    assert s["frac_off_schema"] == 0.1  # the garbage item's 5 answers
    assert s["suspect_labels"] == [ids[3], ids[4], ids[8]]
    assert s["verdict"] == "caution"
    assert s["reasons"] == [
        "30% of items always score the minimum: check their labels",
        "70% of items have zero variance and teach nothing",
    ]
    assert data["selftest"]["passed"] is True
    assert any("5 of 50 responses do not match the response format" in w and ids[8] in w for w in data["warnings"])
    assert data["usage"]["responses"] == 50 and data["usage"]["prompt_tokens"] > 0
    page = (out / "dryrun.html").read_text()
    assert "Verdict: caution" in page and "5 of 50 responses do not match the response format" in page
    assert all(f"<li>{i}</li>" in page for i in s["suspect_labels"])


def test_requests_carry_the_exported_messages_and_response_format(out: Path) -> None:
    with ChatServer(api_key=KEY) as server:
        run_dryrun(out, model="stub-model", base_url=server.url, samples=1, reasoning_effort="low", limit=2)
        body = server.bodies[0]
    fmt = json.loads((out / "response_format.json").read_text())
    assert body["response_format"] == fmt
    assert body["reasoning_effort"] == "low"
    assert body["messages"] in [it["messages"] for it in items()[:2]]


def test_rerun_sends_nothing_and_writes_identical_reports(out: Path) -> None:
    with ChatServer(script_for(MIXED), api_key=KEY) as server:
        run_dryrun(out, model="stub-model", base_url=server.url, samples=5)
        first_json = (out / "dryrun.json").read_bytes()
        first_html = (out / "dryrun.html").read_bytes()
        report = run_dryrun(out, model="stub-model", base_url=server.url, samples=5)
        assert server.requests == 50
    assert report.requests_sent == 0
    assert (out / "dryrun.json").read_bytes() == first_json
    assert (out / "dryrun.html").read_bytes() == first_html
    # a new parameter is a new request: more samples fetch only samples 5 and 6 of each item
    with ChatServer(script_for(MIXED), api_key=KEY) as server:
        report = run_dryrun(out, model="stub-model", base_url=server.url, samples=7)
        assert server.requests == 20


def test_suspects_are_marked_in_the_ledger_and_manifest(out: Path) -> None:
    ids = [it["id"] for it in items()]
    with ChatServer(script_for(MIXED), api_key=KEY) as server:
        run_dryrun(out, model="stub-model", base_url=server.url, samples=5)
    ledger = pl.read_parquet(out / "ledger.parquet")
    flagged = ledger.filter(pl.col("reasons").list.contains("suspect_label"))["id"].to_list()
    assert sorted(flagged) == sorted([ids[3], ids[4], ids[8]])
    assert ledger.filter(pl.col("id") == "rejected-row")["reasons"].to_list() == [["empty_text"]]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["rules"] == {"empty_text": 1, "suspect_label": 3}
    assert manifest["files"]["ledger.parquet"] == hashlib.sha256((out / "ledger.parquet").read_bytes()).hexdigest()
    assert not [p for p in out.iterdir() if p.name.startswith(TEMP_PREFIX)]
    # once a model gets them right, its dry run clears the warning again
    with ChatServer(script_for(["right"] * 10), api_key=KEY, models=["better-model"]) as server:
        run_dryrun(out, model="better-model", base_url=server.url, samples=1)
    ledger = pl.read_parquet(out / "ledger.parquet")
    assert not ledger["reasons"].list.contains("suspect_label").any()
    assert "suspect_label" not in json.loads((out / "manifest.json").read_text())["rules"]


def test_verdicts_no_go_and_go(out: Path) -> None:
    with ChatServer(script_for(["wrong"] * 10), api_key=KEY) as server:
        report = run_dryrun(out, model="stub-model", base_url=server.url, samples=2, mark_ledger=False)
    assert report.verdict == NO_GO
    assert report.summary["reasons"][:2] == [
        "mean score 0.000 is below 0.05 (RFT cannot learn from a baseline near zero)",
        "100% of items always score the minimum (more than 50%)",
    ]
    with ChatServer(script_for(["2in5"] * 10), api_key=KEY) as server:
        report = run_dryrun(out, model="stub-model", base_url=server.url, samples=5, mark_ledger=False)
    assert (report.verdict, report.summary["mean"], report.summary["frac_zero_variance"]) == ("go", 0.4, 0.0)


def test_multi_grader_reports_sub_scores(out: Path) -> None:
    half = {}
    for item in items():  # one right label and one wrong: precision 1/2, recall 1/len(reference)
        half[user_text(item)] = [json.dumps({"labels": [item["reference_answer"][0], WRONG]})]
    with ChatServer(half, api_key=KEY) as server:
        report = run_dryrun(out, grader=FIXTURE / "grader_multi.json", model="stub-model",
                            base_url=server.url, samples=2)
    first = items()[0]
    row = report.items[0]
    assert row["sub_scores"]["precision"]["mean"] == 0.5
    assert row["sub_scores"]["recall"]["mean"] == round(1 / len(first["reference_answer"]), 6)
    page = (out / "dryrun.html").read_text()
    assert "sub-score: precision" in page and "sub-score: recall" in page


def test_html_is_self_contained_and_escaped(out: Path) -> None:
    train = out / "train.jsonl"
    lines = train.read_text().splitlines()
    first = json.loads(lines[0])
    first["id"] = "<b>id&</b>"
    train.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    with ChatServer(api_key=KEY) as server:
        run_dryrun(out, model="stub-model", base_url=server.url, samples=1, limit=3, mark_ledger=False)
    page = (out / "dryrun.html").read_text()
    assert "&lt;b&gt;id&amp;&lt;/b&gt;" in page and "<b>id" not in page
    assert "<svg" in page and "<script" not in page and "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_broken_grader_fails_the_self_test_before_any_request(out: Path) -> None:
    constant = {"type": "python", "name": "half", "source": "def grade(sample, item):\n    return 0.5\n"}
    with ChatServer(api_key=KEY) as server:
        report = run_dryrun(out, grader=constant, model="stub-model", base_url=server.url)
        assert server.requests == 0
    assert report.verdict == NO_GO
    selftest = report.selftest
    assert [f["id"] for f in selftest["reference"]["failures"]] == [it["id"] for it in items()]
    assert selftest["perturbed"]["failures"] == []  # 0.5 is strictly between 0 and 1
    assert report.summary["reasons"] == ["the grader self-test failed", "no samples were drawn: fix the grader first"]
    assert json.loads((out / "dryrun.json").read_text())["items"] == []


def test_self_test_flags_a_raising_grader_and_a_binary_one(out: Path) -> None:
    fragile = {"type": "python", "name": "fragile", "source": (
        "def grade(sample, item):\n"
        "    pred = set(sample['output_json']['labels'])\n"  # raises on malformed outputs
        "    ref = set(item['reference_answer'])\n"
        "    return 2 * len(pred & ref) / (len(pred) + len(ref))\n")}
    report = run_dryrun(out, grader=fragile, model="stub-model", base_url="http://127.0.0.1:9/v1")
    invalid = [m["case"] for m in report.selftest["malformed"] if not m["valid"]]
    assert {"empty", "not_json", "null", "missing_key", "answer_null", "cut_short"} <= set(invalid)
    assert "very_long" not in invalid and report.selftest["reference"]["failures"] == []
    exact = {"type": "python", "name": "exact", "source": (
        "def grade(sample, item):\n"
        "    out = sample.get('output_json')\n"
        "    return 1.0 if isinstance(out, dict) and out.get('labels') == item['reference_answer'] else 0.0\n")}
    report = run_dryrun(out, grader=exact, model="stub-model", base_url="http://127.0.0.1:9/v1")
    assert report.selftest["problems"] == [
        f"{report.selftest['perturbed']['checked']} of {report.selftest['perturbed']['checked']} perturbed "
        "references do not score strictly between 0 and 1 (the grader is not continuous)"
    ]
    assert report.verdict == NO_GO


def test_pipeline_hook_gates_on_no_go(out: Path, tmp_path: Path) -> None:
    event = StageEvent("after_export", out, tmp_path)
    with ChatServer(script_for(["wrong"] * 10), api_key=KEY) as server:
        hook = dryrun_hook({"model": "stub-model", "base_url": server.url, "samples": 1}, tmp_path)
        with pytest.raises(GateFailed, match="dry run verdict no-go: mean score 0.000"):
            hook(event)
    assert json.loads((out / "dryrun.json").read_text())["summary"]["verdict"] == NO_GO
    with ChatServer(script_for(["2in5"] * 10), api_key=KEY) as server:
        dryrun_hook({"model": "stub-model", "base_url": server.url, "samples": 5}, tmp_path)(event)
    with pytest.raises(ConfigError, match="The 'samples' parameter of dryrun must be an int in the range"):
        dryrun_hook({"model": "m", "samples": 0}, tmp_path)
    with pytest.raises(ConfigError, match="unknown option 'sample' for dryrun"):
        dryrun_hook({"model": "m", "sample": 3}, tmp_path)


def test_missing_folder_or_grader_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="train.jsonl: not found"):
        run_dryrun(tmp_path, model="m")
    shutil.copy(FIXTURE / "train.jsonl", tmp_path / "train.jsonl")
    with pytest.raises(ConfigError, match="grader.json: no grader"):
        run_dryrun(tmp_path, model="m")
    with pytest.raises(ConfigError, match="mine.json: grader file not found"):
        run_dryrun(tmp_path, model="m", grader="mine.json")
    with pytest.raises(ConfigError, match="unknown grader preset 'f2'"):
        run_dryrun(tmp_path, model="m", grader="f2")


def test_a_preset_name_is_built_by_the_graders_package(out: Path) -> None:
    with ChatServer(script_for(["2in5"] * 10), api_key=KEY) as server:
        report = run_dryrun(out, grader="multilabel_f1", model="stub-model", base_url=server.url, workers=0)
    assert report.selftest["passed"] and report.summary["mean"] == 0.4


def test_public_surface() -> None:
    import curate.dryrun

    assert sorted(curate.dryrun.__all__) == [
        "CAUTION", "CAUTION_ALL_MIN", "CAUTION_MEAN", "CAUTION_OFF_SCHEMA", "CAUTION_ZERO_VARIANCE",
        "DRYRUN_PARAMS", "DryRunReport", "EndpointError", "GO", "NO_GO", "NO_GO_ALL_MIN", "NO_GO_MEAN",
        "dryrun_hook", "run_dryrun",
    ]
    assert all(hasattr(curate.dryrun, name) for name in curate.dryrun.__all__)
