"""Export targets openai-evals, bedrock-rft, azure-rft, gemini-rl, trl-grpo and verl: files, lint, reward modules."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import polars as pl
import pytest

from curate.errors import ConfigError
from curate.export import ExportBundle, get_target, target_names
from curate.graders import LocalGrader, build_grader

MINE = ("openai-evals", "bedrock-rft", "azure-rft", "gemini-rl", "trl-grpo", "verl")
LABELS = ("economics", "finance", "law", "trade")
MESSAGE = pl.Struct({"role": pl.String, "content": pl.String})
RESPONSE_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "labels",
        "strict": True,
        "schema": {
            "type": "object",
            "properties": {
                "labels": {"type": "array", "items": {"type": "string", "enum": list(LABELS)}}
            },
            "required": ["labels"],
            "additionalProperties": False,
        },
    },
}


def split_frame(
    n: int, start: int = 0, *, last_role: str = "user", bad_row: int | None = None
) -> pl.DataFrame:
    rows = []
    for i in range(start, start + n):
        messages = [{"role": "developer", "content": "Pick labels from: " + ", ".join(LABELS)},
                    {"role": "user", "content": f"document {i} about trade and law"}]  # fmt: skip
        if bad_row is not None and i - start + 1 == bad_row:
            messages.append({"role": last_role, "content": "{}"})
        reference = sorted(LABELS[j] for j in range(4) if (i >> j) & 1) or ["trade"]
        rows.append(
            {
                "id": f"doc-{i}",
                "messages": messages,
                "reference_answer": reference,
                "year": 2000 + i % 20,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "id": pl.String,
            "messages": pl.List(MESSAGE),
            "reference_answer": pl.List(pl.String),
            "year": pl.Int64,
        },
    ).select("messages", "reference_answer", "id", "year")


def make_bundle(
    train: int = 120, valid: int = 30, grader: dict | None = None, **changes
) -> ExportBundle:
    bundle = ExportBundle(
        splits={"train": split_frame(train), "valid": split_frame(valid, 10_000)},
        label_names=LABELS,
        response_format=RESPONSE_FORMAT,
        grader=build_grader("multilabel_f1") if grader is None else grader,
        developer_prompt="Pick labels from: " + ", ".join(LABELS),
        user_template="{{ text }}",
        passthrough=("year",),
    )
    return dataclasses.replace(bundle, **changes)


def errors(findings: pl.DataFrame) -> pl.DataFrame:
    return findings.filter(pl.col("severity") == "error")


def write(target: str, bundle: ExportBundle, folder: Path) -> list[str]:
    folder.mkdir(parents=True)
    return get_target(target).write(bundle, folder)


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def load_module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


OUTPUTS = ['{"labels": ["trade"]}', '{"labels": ["economics", "finance"]}', '{"labels": []}', "", "nonsense",
           "null", '{"labels": "trade"}', '{"labels": ["law", "trade", "finance"]}']  # fmt: skip


# --- conformance over my targets -----------------------------------------------------------------


def test_targets_are_registered():
    assert set(MINE) <= set(target_names())


@pytest.mark.parametrize("target", MINE)
def test_write_is_deterministic_and_clean_bundles_lint_clean(target, tmp_path):
    bundle = make_bundle()
    assert errors(get_target(target).lint(bundle)).height == 0
    names_a = write(target, bundle, tmp_path / "a")
    names_b = write(target, bundle, tmp_path / "b")
    assert names_a == names_b and sorted(names_a) == sorted(
        p.name for p in (tmp_path / "a").iterdir()
    )
    assert digests(tmp_path / "a") == digests(tmp_path / "b")


@pytest.mark.parametrize("target", MINE)
def test_empty_validation_split_and_no_grader_survive(target, tmp_path):
    bundle = make_bundle(valid=0, grader={}, options={})
    bundle = dataclasses.replace(bundle, grader=None)
    get_target(target).lint(bundle)
    names = write(target, bundle, tmp_path / "out")
    assert not {"reward.py", "bedrock_reward_lambda.py", "gemini_reward.py"} & set(names)


@pytest.mark.parametrize("target", MINE)
def test_last_message_must_be_user_and_the_row_is_named(target):
    bundle = make_bundle(
        splits={
            "train": split_frame(120, bad_row=7, last_role="assistant"),
            "valid": split_frame(5, 500),
        }
    )
    found = errors(get_target(target).lint(bundle))
    hit = found.filter(pl.col("rule") == "target_last_message_role")
    assert hit["line"].to_list() == [7] and hit["id"].to_list() == ["doc-6"]
    assert hit["field"].item() == "messages[-1].role" and target in hit["message"].item()


@pytest.mark.parametrize("target", MINE)
def test_unknown_options_are_config_errors(target):
    with pytest.raises(ConfigError, match=f"unknown option 'nope' for export target {target}"):
        get_target(target).lint(make_bundle(options={"nope": 1}))


# --- target-specific constraints -----------------------------------------------------------------


def test_azure_rejects_system_messages_and_writes_a_job_request(tmp_path):
    frame = split_frame(3).with_columns(
        pl.col("messages").list.eval(
            pl.struct(
                pl.element().struct.field("role").replace({"developer": "system"}).alias("role"),
                pl.element().struct.field("content"),
            )  # fmt: skip
        )
    )
    found = errors(
        get_target("azure-rft").lint(
            make_bundle(splits={"train": frame, "valid": split_frame(2, 9)})
        )
    )
    assert found.filter(pl.col("rule") == "target_role")["line"].to_list() == [1, 2, 3]
    write("azure-rft", make_bundle(), tmp_path / "out")
    job = json.loads((tmp_path / "out" / "azure_job.json").read_text())
    assert job["method"]["reinforcement"]["grader"]["name"] == "multilabel_f1"
    assert job["method"]["reinforcement"]["response_format"] == RESPONSE_FORMAT


def test_bedrock_needs_100_training_rows_and_uses_system_messages(tmp_path):
    found = errors(get_target("bedrock-rft").lint(make_bundle(train=99)))
    assert found["rule"].to_list() == ["target_min_rows"] and "99 rows" in found["message"].item()
    write("bedrock-rft", make_bundle(), tmp_path / "out")
    line = json.loads((tmp_path / "out" / "train.jsonl").read_text().splitlines()[0])
    assert [m["role"] for m in line["messages"]] == ["system", "user"]
    assert line["reference_answer"] == ["trade"] and line["year"] == 2000


def test_evals_items_definition_and_lint(tmp_path):
    write("openai-evals", make_bundle(), tmp_path / "out")
    first = json.loads((tmp_path / "out" / "eval_items_valid.jsonl").read_text().splitlines()[0])
    assert first == {"item": {"id": "doc-10000", "text_input": "document 10000 about trade and law",
                              "reference_answer": ["trade"], "year": 2000}}  # fmt: skip
    definition = json.loads((tmp_path / "out" / "eval.json").read_text())
    schema = definition["eval"]["data_source_config"]["item_schema"]
    assert schema["properties"]["reference_answer"] == {
        "type": "array",
        "items": {"type": "string"},
    }
    assert schema["properties"]["year"] == {"type": "integer"}
    assert definition["eval"]["testing_criteria"][0]["pass_threshold"] == 0.8
    template = definition["run"]["data_source"]["input_messages"]["template"]
    assert (
        template[-1] == {"role": "user", "content": "{{ item.text_input }}"}
        and template[0]["role"] == "developer"
    )
    assert definition["run"]["data_source"]["sampling_params"]["text"]["format"]["name"] == "labels"

    varied = split_frame(4).with_columns(
        pl.when(pl.int_range(pl.len()) == 2)
        .then(
            pl.col("messages").list.eval(
                pl.struct(pl.element().struct.field("role"), pl.lit("other").alias("content"))
            )
        )
        .otherwise(pl.col("messages"))
        .alias("messages")
    )
    reads_messages = {"type": "string_check", "name": "s", "operation": "eq", "input": "{{sample.output_text}}",
                      "reference": "{{item.messages}}"}  # fmt: skip
    multi = build_grader({"preset": "multilabel_f1", "form": "multi"})
    found = get_target("openai-evals").lint(
        make_bundle(splits={"train": varied, "valid": split_frame(1, 9)}, grader=reads_messages)
    )
    assert errors(found).filter(pl.col("rule") == "target_prompt_not_shared")["line"].to_list() == [
        3
    ]
    assert errors(found).filter(pl.col("rule") == "grader_item_field_missing").height == 5
    warned = get_target("openai-evals").lint(make_bundle(grader=multi))
    assert warned.filter(pl.col("rule") == "target_multi_grader_split")["severity"].to_list() == [
        "warn"
    ]


def test_trl_reserved_names_are_errors():
    bundle = make_bundle(
        splits={
            "train": split_frame(3).rename({"year": "completions"}),
            "valid": split_frame(1, 9).rename({"year": "completions"}),
        },
        passthrough=("completions",),
    )
    found = errors(get_target("trl-grpo").lint(bundle))
    assert (
        found["rule"].to_list() == ["target_reserved_key"]
        and found["field"].item() == "completions"
    )


# --- reward modules agree with the local runner --------------------------------------------------


@pytest.fixture(scope="module")
def runner():
    with LocalGrader(build_grader("multilabel_f1"), workers=2) as local:
        yield local


@pytest.mark.parametrize("standalone", [False, True])
def test_trl_dataset_loads_and_reward_matches_the_local_runner(
    tmp_path, runner, monkeypatch, standalone
):
    datasets = pytest.importorskip("datasets")
    write("trl-grpo", make_bundle(), tmp_path / "out")
    data = datasets.load_from_disk(str(tmp_path / "out" / "hf_dataset"))
    assert set(data) == {"train", "valid"} and data["train"].num_rows == 120
    assert data["train"].column_names == ["prompt", "reference_answer", "id", "year"]
    assert data["train"][0]["prompt"][0] == {
        "role": "system",
        "content": "Pick labels from: " + ", ".join(LABELS),
    }
    assert pl.read_parquet(tmp_path / "out" / "train.parquet").height == 120
    if standalone:
        monkeypatch.setenv("CURATE_REWARD_STANDALONE", "1")
    module = load_module(tmp_path / "out" / "reward.py", f"trl_reward_{standalone}")
    rows = data["train"].select(range(len(OUTPUTS) * 2))
    completions = [
        [{"role": "assistant", "content": OUTPUTS[i % len(OUTPUTS)]}] for i in range(rows.num_rows)
    ]
    kwargs = {c: rows[c] for c in rows.column_names if c != "prompt"}
    got = module.reward(
        prompts=rows["prompt"],
        completions=completions,
        completion_ids=[[1]] * rows.num_rows,
        **kwargs,
    )
    expected = runner.grade_many(
        [
            (c[0]["content"], {"reference_answer": r})
            for c, r in zip(completions, rows["reference_answer"], strict=True)
        ]
    )
    assert got == [r.score for r in expected]
    assert len(set(got)) > 2  # the samples really differ


def test_verl_parquet_shape_and_compute_score_match_the_local_runner(tmp_path, runner):
    write("verl", make_bundle(options={"data_source": "eurlex"}), tmp_path / "out")
    frame = pl.read_parquet(tmp_path / "out" / "valid.parquet")
    assert frame.columns == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    row = frame.row(3, named=True)
    assert row["data_source"] == "eurlex" and row["ability"] == "classification"
    assert row["reward_model"]["style"] == "rule" and isinstance(
        row["reward_model"]["ground_truth"], str
    )
    assert {k: row["extra_info"][k] for k in ("split", "index", "id")} == {
        "split": "valid",
        "index": 3,
        "id": "doc-10003",
    }
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    module = load_module(tmp_path / "out" / "reward.py", "verl_reward")
    rows = frame.head(len(OUTPUTS)).to_dicts()
    got = [
        module.compute_score(
            r["data_source"], out, r["reward_model"]["ground_truth"], r["extra_info"]
        )
        for r, out in zip(rows, OUTPUTS, strict=True)
    ]
    expected = runner.grade_many(
        [
            (out, {"reference_answer": json.loads(r["reward_model"]["ground_truth"])})
            for r, out in zip(rows, OUTPUTS, strict=True)
        ]
    )
    assert got == [r.score for r in expected]


def test_bedrock_lambda_matches_the_local_runner(tmp_path, runner, monkeypatch):
    write("bedrock-rft", make_bundle(), tmp_path / "out")
    monkeypatch.setenv("CURATE_REWARD_STANDALONE", "1")  # as in AWS Lambda: no curate installed
    module = load_module(tmp_path / "out" / "bedrock_reward_lambda.py", "bedrock_reward")
    lines = [
        json.loads(line)
        for line in (tmp_path / "out" / "train.jsonl").read_text().splitlines()[: len(OUTPUTS)]
    ]
    event = [
        {**line, "messages": [*line["messages"], {"role": "assistant", "content": out}]}
        for line, out in zip(lines, OUTPUTS, strict=True)
    ]
    got = module.lambda_handler(event, None)
    expected = runner.grade_many([(out, line) for line, out in zip(lines, OUTPUTS, strict=True)])
    assert [g["aggregate_reward_score"] for g in got] == [r.score for r in expected]
    assert [g["id"] for g in got] == [line["id"] for line in lines]


def test_reward_module_without_curate_refuses_non_python_graders(tmp_path, monkeypatch):
    grader = build_grader("exact_match")
    write("verl", make_bundle(grader=grader), tmp_path / "out")
    monkeypatch.setenv("CURATE_REWARD_STANDALONE", "1")
    module = load_module(tmp_path / "out" / "reward.py", "verl_reward_exact")
    with pytest.raises(RuntimeError, match="needs curate to run"):
        module.compute_score("curate", '{"labels": ["trade"]}', '["trade"]', {"item": "{}"})
    monkeypatch.delenv("CURATE_REWARD_STANDALONE")
    fresh = load_module(tmp_path / "out" / "reward.py", "verl_reward_exact2")
    assert (
        fresh.compute_score("curate", '{"labels": ["trade"]}', '["trade"]', {"item": "{}"}) == 1.0
    )


# --- the EUR-Lex example, end to end -------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "eurlex" / "pipeline.yaml"


@pytest.mark.skipif(not EXAMPLE.exists(), reason="the EUR-Lex example is not in this checkout")
@pytest.mark.parametrize("target", MINE)
def test_eurlex_example_exports_to_every_target(target, tmp_path):
    from curate.pipeline import run

    result = run(
        EXAMPLE,
        export__out=str(tmp_path / target),
        export__target=target,
        export__grader="multilabel_f1",
    )
    assert errors(get_target(target).lint(result.bundle)).height == 0
    files = set(result.manifest["files"])
    assert "grader.json" in files
    expected = {
        "openai-evals": {"eval.json", "eval_items_train.jsonl", "eval_items_valid.jsonl"},
        "bedrock-rft": {"train.jsonl", "valid.jsonl", "bedrock_reward_lambda.py"},
        "azure-rft": {"train.jsonl", "valid.jsonl", "azure_job.json"},
        "gemini-rl": {"train.jsonl", "valid.jsonl", "gemini_reward.py"},
        "trl-grpo": {"hf_dataset", "train.parquet", "valid.parquet", "reward.py"},
        "verl": {"train.parquet", "valid.parquet", "reward.py", "verl_overrides.txt"},
    }[target]
    assert expected <= files, expected - files
    if target == "trl-grpo":
        datasets = pytest.importorskip("datasets")
        data = datasets.load_from_disk(str(tmp_path / target / "hf_dataset"))
        assert data["train"].num_rows == result.bundle.splits["train"].height
    sys.modules.pop("reward", None)


def test_sorted_lists_equals_a_full_list_sort():
    import random

    from curate.export.bundle import sorted_lists

    rng = random.Random(0)
    data = [rng.sample("abcdefg", rng.randint(0, 5)) for _ in range(3000)] + [None, ["b", None, "a"], [], ["z"]]
    column = pl.Series("names", data)
    assert sorted_lists(column).to_list() == column.list.sort().to_list()
    already = pl.Series([["a", "b"], ["c"], ["a", "b", "d"]])
    assert sorted_lists(already) is already  # nothing to do: the column itself comes back


def test_jsonl_is_written_a_slice_at_a_time_with_the_same_bytes(tmp_path, monkeypatch):
    import json

    from curate.export import openai_rft

    n = 1000
    frame = pl.DataFrame({"messages": [[{"role": "user", "content": f"row {i} é \"q\"\n"}] for i in range(n)],
                          "reference_answer": [["a"]] * n, "id": [str(i) for i in range(n)]})
    ref = pl.Series([json.dumps(["a", str(i)]) for i in range(n)])
    for wrap in (None, "item"):
        openai_rft.write_jsonl(frame, tmp_path / "whole.jsonl", ref, wrap=wrap)
        monkeypatch.setattr(openai_rft, "WRITE_ROWS", 7)
        openai_rft.write_jsonl(frame, tmp_path / "sliced.jsonl", ref, wrap=wrap)
        monkeypatch.undo()
        whole = (tmp_path / "whole.jsonl").read_bytes()
        assert whole == (tmp_path / "sliced.jsonl").read_bytes()
        rows = [json.loads(line) for line in whole.decode().splitlines()]
        assert len(rows) == n and (rows[-1]["item"] if wrap else rows[-1])["reference_answer"] == ["a", "999"]
    openai_rft.write_jsonl(frame.clear(), tmp_path / "empty.jsonl", ref.clear())
    assert (tmp_path / "empty.jsonl").read_bytes() == b""
    # without a reference to splice: polars' own lines, a slice at a time, the same bytes
    for wrap in (None, "item"):
        whole = frame.select(pl.struct(pl.all()).alias(wrap)) if wrap else frame
        whole.write_ndjson(tmp_path / "polars.jsonl")
        monkeypatch.setattr(openai_rft, "WRITE_ROWS", 7)
        openai_rft.write_jsonl(frame, tmp_path / "plain.jsonl", wrap=wrap)
        monkeypatch.undo()
        assert (tmp_path / "plain.jsonl").read_bytes() == (tmp_path / "polars.jsonl").read_bytes()
    openai_rft.write_jsonl(frame.clear(), tmp_path / "empty.jsonl")
    assert (tmp_path / "empty.jsonl").read_bytes() == b""
    # the checksum was taken from the bytes written: the manifest's sha256 needs no second read,
    # and a file changed since is read again
    import hashlib

    from curate.manifest import _WRITTEN, sha256_of

    path = tmp_path / "sliced.jsonl"
    assert any(key[0] == str(path.resolve()) for key in _WRITTEN)
    assert sha256_of(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    openai_rft.write_jsonl(frame.head(3), path, ref.head(3))
    path.write_bytes(b"changed\n")
    assert sha256_of(path) == hashlib.sha256(b"changed\n").hexdigest()
