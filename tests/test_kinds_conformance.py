"""Every registered task kind through load, rules, split, every export target's write and lint, and
the grader self-test: the same suite for each kind, as the rule and target conformance tests do."""

from __future__ import annotations

import json
import random
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import curate
from curate.export import get_target, target_names
from curate.kinds import KINDS

ROWS = 130  # bedrock-rft needs 100 training rows
WORDS = ("river stone lamp orchard copper violet harbor meadow quartz lantern willow ember falcon "
         "cedar thistle marble saffron glacier pepper cobalt juniper nectar basalt").split()


def _text(rng: random.Random, i: int) -> str:
    return f"Case {i}: " + " ".join(rng.choice(WORDS) for _ in range(14)) + "?"


def _answer(kind: str, i: int):
    return {
        "labels": [["alpha"], ["beta"], ["alpha", "gamma"]][i % 3],
        "single_label": ["alpha", "beta", "gamma"][i % 3],
        "text": f"Answer number {i}",
        "number": [f"{i},000", i * 1000 + 0.5, f"{i}/4"][i % 3],
        "json": {"name": f"item {i}", "count": i},
        "math": f"\\frac{{{i}}}{{{i + 1}}}",
    }[kind]


def _pipeline(kind: str, path: Path) -> dict:
    if kind in ("labels", "single_label"):
        source = {"path": str(path), "id": "k", "text": "q", "labels": "a", "passthrough": ["topic"]}
        extra = {"labels": {"single": True}} if kind == "single_label" else {}
    else:
        source = {"path": str(path), "id": "k", "text": "q", "answer": "a", "passthrough": ["topic"]}
        extra = {"answer": {"kind": kind}}
    return {"source": source, **extra, "rules": ["default"],
            "split": {"validation": 20, "seed": 3, "stratify": "topic"},
            "export": {"out": str(path.parent / "out"), "passthrough": ["topic"],
                       "developer": "Answer the question.", "options": {"enforce_row_limits": False}}}


@cache
def run_kind(kind: str, root: str):
    if kind == "math":
        pytest.importorskip("math_verify")
    rng = random.Random(kind)
    folder = Path(root) / kind
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"k": f"r{i}", "q": _text(rng, i), "a": _answer(kind, i), "topic": ["x", "y"][i % 2]} for i in range(ROWS)]
    path = folder / "raw.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return curate.run(_pipeline(kind, path)), rows


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("kinds"))


KIND_NAMES = sorted(KINDS)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_row_is_accounted_for_and_the_split_follows_the_category(kind, root):
    result, rows = run_kind(kind, root)
    counts = result.manifest["counts"]
    assert sum(counts.values()) == ROWS and counts["rejected"] == 0
    assert result.manifest["export"]["kind"] == kind
    valid = result.bundle.splits["valid"]
    assert valid.height == 20
    assert sorted(valid["topic"].value_counts()["count"].to_list()) == [10, 10]  # stratified on topic


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_reference_answers_are_typed_by_kind(kind, root):
    result, rows = run_kind(kind, root)
    by_id = {r["k"]: r["a"] for r in rows}
    train = result.bundle.splits["train"]
    refs = dict(zip(train["id"].to_list(), train["reference_answer"].to_list(), strict=True))
    jsons = dict(zip(train["id"].to_list(), train["reference_json"].to_list(), strict=True))
    for key, ref in refs.items():
        source = by_id[key]
        if kind == "labels":
            assert ref == sorted(source)
        elif kind == "number":
            assert isinstance(ref, float) and json.loads(jsons[key]) == ref
        elif kind == "json":
            assert json.loads(ref) == source == json.loads(jsons[key])
        else:
            assert ref == source and json.loads(jsons[key]) == source


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_response_format_never_carries_open_answers(kind, root):
    result, rows = run_kind(kind, root)
    fmt = result.bundle.response_format
    schema = fmt["json_schema"]["schema"]
    assert schema["required"] == [result.bundle.answer_key] and schema["additionalProperties"] is False
    if not KINDS[kind].is_labels:
        text = json.dumps(fmt)
        assert not any(json.dumps(r["a"])[1:-1] in text for r in rows if isinstance(r["a"], str))
        assert "enum" not in text


@pytest.mark.parametrize("target", target_names())
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_target_writes_and_lints_every_kind(kind, target, root, tmp_path):
    pytest.importorskip("datasets") if target == "trl-grpo" else None
    result, rows = run_kind(kind, root)
    exporter = get_target(target)
    found = exporter.lint(result.bundle)
    assert found.filter(pl.col("severity") == "error").height == 0, found.to_dicts()
    names = exporter.write(result.bundle, tmp_path)
    assert names and all((tmp_path / n).exists() for n in names)
    by_id = {r["k"]: r["a"] for r in rows}
    lines = _exported_references(target, tmp_path)
    assert len(lines) == result.bundle.splits["train"].height
    for key, ref in lines:
        _check_reference(kind, target, ref, by_id[key])


def _exported_references(target: str, folder: Path) -> list[tuple[str, object]]:
    if target in ("trl-grpo",):
        frame = pl.read_parquet(folder / "train.parquet")
        return list(zip(frame["id"].to_list(), frame["reference_answer"].to_list(), strict=True))
    if target == "verl":
        frame = pl.read_parquet(folder / "train.parquet")
        return [(e["id"], r["ground_truth"]) for e, r in zip(frame["extra_info"], frame["reward_model"], strict=True)]
    if target == "openai-evals":
        lines = [json.loads(x)["item"] for x in (folder / "eval_items_train.jsonl").open()]
        return [(x["id"], x["reference_answer"]) for x in lines]
    if target == "gemini-rl":
        lines = [json.loads(x) for x in (folder / "train.jsonl").open()]
        return [(x["references"]["id"], x["references"]["reference_answer"]) for x in lines]
    lines = [json.loads(x) for x in (folder / "train.jsonl").open()]
    return [(x["id"], x["reference_answer"]) for x in lines]


def _check_reference(kind: str, target: str, ref, source) -> None:
    """JSON Lines targets hold the typed value; string-only formats its text (strings as they are)."""
    as_text = target in ("verl", "gemini-rl") or (target == "trl-grpo" and kind == "json")
    if kind == "labels":
        value = json.loads(ref) if as_text else ref
        assert value == sorted(source)
    elif kind == "number":
        value = json.loads(ref) if isinstance(ref, str) else ref
        assert isinstance(value, int | float) and not isinstance(value, bool)
        if target != "trl-grpo" and not isinstance(source, float):  # integral values stay integers in JSON
            assert isinstance(value, int) == (not isinstance(source, str) or "/" not in source or
                                              int(source.split("/")[0]) % 4 == 0), (value, source)
        expected = float(source.replace(",", "")) if isinstance(source, str) and "/" not in source else (
            float(source) if not isinstance(source, str) else int(source.split("/")[0]) / 4)
        assert np.isclose(value, expected)
    elif kind == "json":
        assert (json.loads(ref) if isinstance(ref, str) else ref) == source
    else:
        assert ref == source


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_grader_self_test_passes_on_every_kind(kind, root):
    from curate.dryrun.outdir import AnswerFormat
    from curate.dryrun.selftest import self_test
    from curate.graders import LocalGrader

    if not hasattr(AnswerFormat, "render_answer") and kind not in ("labels",):
        pytest.skip("the dry-run self-test for open answers lands with curate.graders' open-answer work")
    result, rows = run_kind(kind, root)
    bundle = result.bundle
    out = Path(root) / f"selftest-{kind}"
    out.mkdir(exist_ok=True)
    get_target("openai-rft").write(bundle, out)
    items = [json.loads(x) for x in (out / "train.jsonl").open()]
    with LocalGrader(bundle.grader, workers=0) as grader:
        report = self_test(grader, items, AnswerFormat.from_response_format(bundle.response_format))
    assert report["passed"], report["problems"]
