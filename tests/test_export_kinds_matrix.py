"""Every registered task kind through every registered export target: the pipeline builds the
bundle, each target lints it clean, writes it, and the reference lands in the target's format with
the kind's type (any JSON value in the JSONL formats, a typed TRL column, a string for verl's
``ground_truth`` and Gemini's ``references``)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import polars as pl
import pytest

from curate.export import get_target, target_names

kinds = pytest.importorskip("curate.kinds")

ROWS, VALID = 130, 20
TOPICS = ("harbour", "orchard", "glacier", "violin", "lantern", "meadow", "copper", "falcon", "canyon", "saffron")


def _answer(kind: str, i: int):
    """Row ``i``'s raw answer for ``kind``, as written in the source file."""
    return {
        "labels": sorted({TOPICS[i % 10], TOPICS[(i // 10) % 10]}),
        "single_label": [TOPICS[i % 10]],
        "text": f"The {TOPICS[i % 10]} near line {i}",
        "number": 1000 + i * 7,
        "json": {"name": TOPICS[i % 10], "count": i, "tags": [TOPICS[(i + 3) % 10]]},
        "math": f"\\frac{{{i + 1}}}{{{i + 2}}}",
    }[kind]


def _expected(kind: str, raw):
    """The reference a target must carry for a raw answer (as a Python value)."""
    return raw[0] if kind == "single_label" else raw


def _pipeline(kind: str, folder: Path) -> Path:
    lines = []
    for i in range(ROWS):
        text = f"Question {i}: tell me about the {TOPICS[i % 10]} and the {TOPICS[(i * 7) % 10]} number {i * 31}."
        lines.append(json.dumps({"uid": f"q{i}", "question": text, "gold": _answer(kind, i), "year": 2000 + i % 9}))
    (folder / "data.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if kind in ("labels", "single_label"):
        source = "{path: data.jsonl, id: uid, text: question, labels: gold, passthrough: [year]}"
        task = "labels: {single: true}" if kind == "single_label" else ""
    else:
        source = "{path: data.jsonl, id: uid, text: question, answer: gold, passthrough: [year]}"
        task = f"answer: {{kind: {kind}}}"
    config = folder / "pipeline.yaml"
    config.write_text(f"source: {source}\n{task}\nrules: []\nsplit: {{validation: {VALID}, seed: 3}}\n"
                      "export: {out: out, passthrough: [year], developer: 'Answer the question.'}\n",
                      encoding="utf-8")
    return config


@pytest.fixture(scope="module", params=sorted(kinds.KINDS))
def curated(request, tmp_path_factory):
    """(kind name, the run's bundle, id -> expected reference) for one kind."""
    kind = request.param
    if kind == "math":
        pytest.importorskip("math_verify")
    from curate.pipeline import run

    folder = tmp_path_factory.mktemp(kind)
    result = run(_pipeline(kind, folder))
    expected = {f"q{i}": _expected(kind, _answer(kind, i)) for i in range(ROWS)}
    return kind, result.bundle, expected


def _references(target: str, folder: Path) -> dict[str, object]:
    """id -> the reference as written by ``target`` in the training file."""
    if target in ("openai-rft", "azure-rft", "bedrock-rft"):
        rows = [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()]
        return {r["id"]: r["reference_answer"] for r in rows}
    if target == "openai-evals":
        rows = [json.loads(line)["item"] for line in (folder / "eval_items_train.jsonl").read_text().splitlines()]
        return {r["id"]: r["reference_answer"] for r in rows}
    if target == "trl-grpo":
        frame = pl.read_parquet(folder / "train.parquet")
        return dict(zip(frame["id"].to_list(), frame["reference_answer"].to_list(), strict=True))
    if target == "verl":
        frame = pl.read_parquet(folder / "train.parquet")
        ids = frame["extra_info"].struct.field("id").to_list()
        return dict(zip(ids, frame["reward_model"].struct.field("ground_truth").to_list(), strict=True))
    if target == "gemini-rl":
        rows = [json.loads(line)["references"] for line in (folder / "train.jsonl").read_text().splitlines()]
        return {r["id"]: r["reference_answer"] for r in rows}
    raise AssertionError(f"add {target} to the kind x target matrix: where does it write the reference?")


def _same(kind: str, got, want) -> bool:
    if kind == "json" and isinstance(got, str):  # a typed column: canonical JSON text
        return json.loads(got) == want
    if kind == "number":
        return float(got) == float(want)
    return got == want


@pytest.mark.parametrize("target", target_names())
def test_every_kind_through_every_target(curated, target, tmp_path):
    kind, bundle, expected = curated
    tool = get_target(target)
    found = tool.lint(bundle)
    assert found.filter(pl.col("severity") == "error").height == 0, found.filter(pl.col("severity") == "error")
    if target == "trl-grpo":
        pytest.importorskip("datasets")
    tool.write(bundle, tmp_path)
    written = _references(target, tmp_path)
    assert len(written) == ROWS - VALID
    for key, value in written.items():
        want = expected[key]
        if target in ("verl", "gemini-rl"):
            assert isinstance(value, str), (kind, target, value)
            parsed = json.loads(value) if bundle.kind.reference_is_json else value
            assert _same(kind, parsed, want), (kind, target, value, want)
        else:
            assert _same(kind, value, want), (kind, target, value, want)
    if target == "verl":  # verl's ability names the task
        ability = pl.read_parquet(tmp_path / "train.parquet")["ability"].unique().to_list()
        assert ability == ["classification" if kind in ("labels", "single_label") else kind]
    if target == "openai-evals":  # every item fits the eval's item schema
        jsonschema = pytest.importorskip("jsonschema")
        schema = json.loads((tmp_path / "eval.json").read_text())["eval"]["data_source_config"]["item_schema"]
        for line in (tmp_path / "eval_items_valid.jsonl").read_text().splitlines():
            jsonschema.validate(json.loads(line)["item"], schema)


@pytest.mark.parametrize("target", target_names())
def test_every_target_rejects_a_reference_of_the_wrong_type(curated, target):
    kind, bundle, _ = curated
    wrong = pl.List(pl.String) if kind in ("number", "text", "json", "math", "single_label") else pl.Int64

    frames = {name: frame.with_columns(pl.lit(None, dtype=wrong).alias("reference_answer"))
              for name, frame in bundle.splits.items()}
    found = get_target(target).lint(dataclasses.replace(bundle, splits=frames))
    assert found.filter((pl.col("severity") == "error") & (pl.col("rule") == "target_reference_type")).height > 0


REWARD_TARGETS = ("bedrock-rft", "gemini-rl", "trl-grpo", "verl")


def _module_scores(target: str, folder: Path, outputs: dict[str, list[str]]) -> dict[str, list[float]]:
    """id -> the scores the target's reward module gives each output, called as the trainer calls it."""
    from test_export_targets import load_module

    if target == "bedrock-rft":
        module = load_module(folder / "bedrock_reward_lambda.py", f"bedrock_{folder.name}")
        lines = {r["id"]: r for r in map(json.loads, (folder / "train.jsonl").read_text().splitlines())}
        return {key: [g["aggregate_reward_score"] for g in module.lambda_handler(
            [{**lines[key], "messages": [*lines[key]["messages"], {"role": "assistant", "content": out}]}
             for out in outs], None)] for key, outs in outputs.items()}
    if target == "gemini-rl":
        module = load_module(folder / "gemini_reward.py", f"gemini_{folder.name}")
        lines = {r["references"]["id"]: r for r in map(json.loads, (folder / "train.jsonl").read_text().splitlines())}
        return {key: [module.evaluate(lines[key], {"role": "model", "parts": [{"text": out}]}) for out in outs]
                for key, outs in outputs.items()}
    frame = pl.read_parquet(folder / "train.parquet")
    if target == "verl":
        module = load_module(folder / "reward.py", f"verl_{folder.name}")
        rows = {r["extra_info"]["id"]: r for r in frame.to_dicts()}
        return {key: [module.compute_score(rows[key]["data_source"], out, rows[key]["reward_model"]["ground_truth"],
                                           rows[key]["extra_info"]) for out in outs] for key, outs in outputs.items()}
    module = load_module(folder / "reward.py", f"trl_{folder.name}")
    rows = {r["id"]: r for r in frame.to_dicts()}
    out = {}
    for key, outs in outputs.items():
        columns = {c: [rows[key][c]] * len(outs) for c in frame.columns if c != "prompt"}
        out[key] = module.reward(prompts=[rows[key]["prompt"]] * len(outs),
                                 completions=[[{"role": "assistant", "content": o}] for o in outs], **columns)
    return out


@pytest.mark.parametrize("target", REWARD_TARGETS)
def test_reward_modules_score_like_the_grader_on_the_platform_item(curated, target, tmp_path):
    """Each reward module rebuilds the item the JSONL formats carry (a JSON reference decoded, a
    string kept) and scores exactly as the local grader does on that item."""
    kind, bundle, _ = curated
    assert bundle.grader is not None  # every kind ships a grader
    if target == "trl-grpo":
        pytest.importorskip("datasets")
    get_target("openai-rft").write(bundle, tmp_path / "rft" if (tmp_path / "rft").mkdir() is None else None)
    items = [json.loads(line) for line in (tmp_path / "rft" / "train.jsonl").read_text().splitlines()[:6]]
    outputs = {}
    for i, item in enumerate(items):
        other = items[(i + 1) % len(items)]["reference_answer"]
        ref = item["reference_answer"]
        outputs[item["id"]] = [json.dumps({bundle.answer_key: ref}), ref if isinstance(ref, str) else json.dumps(ref),
                               json.dumps({bundle.answer_key: other}), "", "no idea"]
    (tmp_path / "out").mkdir()
    get_target(target).write(bundle, tmp_path / "out")
    got = _module_scores(target, tmp_path / "out", outputs)
    from curate.graders import LocalGrader

    with LocalGrader(bundle.grader, workers=0) as local:
        for item in items:
            want = [r.score for r in local.grade_many([(out, item) for out in outputs[item["id"]]])]
            assert got[item["id"]] == want, (kind, target, item["id"], got[item["id"]], want)
            assert len(set(want)) > 1, (kind, want)  # the outputs really differ in score
