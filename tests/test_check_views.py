"""``curate check`` reads other targets' files through an RFT view (curate/check/views.py): the
target's polars expression (``rft_view``) must give the same rows as the row-by-row path
(``rft_row``), for every target whose rows are not RFT rows and every task kind."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from curate.check import views
from curate.check.view_exprs import NoView
from curate.export import get_target, target_names

VIEW_TARGETS = [name for name in target_names() if not get_target(name).rows_are_rft]
TOPICS = ("harbour", "orchard", "glacier", "violin", "lantern", "meadow", "copper", "falcon", "canyon", "saffron")


def _answer(kind: str, i: int):
    return {
        "labels": sorted({TOPICS[i % 10], TOPICS[(i // 10) % 10]}),
        "number": 1000 + i * 7 if i % 3 else 2.5 * i,
        "text": ["42", "[]", '["a", "b"]', f"The {TOPICS[i % 10]} {i}", "-3.5", "true"][i % 6],
        "json": [{"name": TOPICS[i % 10], "tags": []}, "Paris", 5, True, [1, {"z": None}]][i % 5],
    }[kind]


@pytest.fixture(scope="module", params=["labels", "number", "text", "json"])
def bundle(request, tmp_path_factory):
    from curate.pipeline import run

    kind = request.param
    folder = tmp_path_factory.mktemp(kind)
    lines = [json.dumps({"uid": f"q{i}", "question": f"Question {i}: the {TOPICS[i % 10]} and the {TOPICS[i * 7 % 10]} "
                         f"number {i * 31}, caf\u00e9?", "gold": _answer(kind, i), "year": 2000 + i % 9,
                         "meta": {"a": i % 4, "b": "x"}}) for i in range(60)]
    (folder / "data.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    mapping = "labels: gold" if kind == "labels" else "answer: gold"
    task = "" if kind == "labels" else f"answer: {{kind: {kind}}}"
    (folder / "p.yaml").write_text(
        f"source: {{path: data.jsonl, id: uid, text: question, {mapping}, passthrough: [year, meta]}}\n{task}\n"
        "rules: []\nsplit: {validation: 10, seed: 3}\n"
        "export: {out: out, passthrough: [year, meta], developer: 'Answer the question.'}\n", encoding="utf-8")
    return run(folder / "p.yaml").bundle


def by_rows(path: Path, target) -> list[bytes]:
    if path.suffix == ".parquet":
        return views._rows_view(pl.read_parquet(path).to_dicts(), target)
    return views._lines_view(views.file_bytes(path), target)


def by_expression(path: Path, target) -> list[bytes]:
    if path.suffix == ".parquet":
        return views._parquet_view(pl.read_parquet(path), target)
    return views._jsonl_view(views.file_bytes(path), target)


def same_rows(a: list[bytes], b: list[bytes]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        if not x.strip():
            assert x == y
            continue
        left, right = json.loads(x), json.loads(y)
        assert left == right and list(left) == list(right), (x, y)


@pytest.mark.parametrize("name", VIEW_TARGETS)
def test_the_view_expression_gives_the_rows_of_the_row_path(bundle, name, tmp_path):
    if name == "trl-grpo":
        pytest.importorskip("datasets")
    target = get_target(name)
    target.write(bundle, tmp_path)
    files = [tmp_path / f for f in target.data_files if (tmp_path / f).is_file()]
    assert files
    heterogeneous = bundle.kind.name == "json" and name in ("bedrock-rft", "openai-evals")
    for path in files:
        rows = by_rows(path, target)
        lines = pl.read_parquet(path).height if path.suffix == ".parquet" else path.read_bytes().count(b"\n")
        assert len(rows) == lines
        if heterogeneous:  # a reference of several JSON types per file: polars cannot type the column
            with pytest.raises(NoView):
                by_expression(path, target)
            continue
        same_rows(by_expression(path, target), rows)
        view = views.write_view(path, target, tmp_path / "view")
        same_rows(view.read_bytes().splitlines(), rows)


def test_lines_the_expressions_cannot_take_go_row_by_row(tmp_path):
    target = get_target("gemini-rl")
    good = {"systemInstruction": {"parts": [{"text": "Be brief."}]},
            "contents": [{"role": "user", "parts": [{"text": "2+2?"}, {"text": "Say it."}]}],
            "references": {"reference_answer": "[1, 2]", "id": "a"}}
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join([json.dumps(good), "", json.dumps({**good, "references": {"reference_answer": None,
                               "id": "b"}}), "  "]) + "\n")
    expr = by_expression(path, target)  # blank lines stay; a key with null stays
    same_rows(expr, by_rows(path, target))
    assert json.loads(expr[0]) == {"messages": [{"role": "developer", "content": "Be brief."},
                                                {"role": "user", "content": "2+2?\nSay it."}],
                                   "reference_answer": [1, 2], "id": "a"}
    assert list(json.loads(expr[2])) == ["messages", "reference_answer", "id"]
    assert json.loads(expr[2])["reference_answer"] is None
    for broken in [json.dumps({**good, "references": {"id": "b"}}),  # a key only some lines have
                   '{"contents": "not a list"}', "{oops", '{"contents": [], "references": {"x": NaN}}', "[1]"]:
        path.write_text(json.dumps(good) + "\n" + broken + "\n")
        with pytest.raises(NoView):
            by_expression(path, target)
        view = views.write_view(path, target, tmp_path / "view")
        assert view.read_bytes().splitlines() == by_rows(path, target)


def test_trl_prompts_given_as_text_and_verl_rows_without_a_reference(tmp_path):
    trl = pl.DataFrame({"prompt": ["2+2?", None], "reference_answer": [["4"], ["5"]], "messages": ["x", "y"]})
    trl.write_parquet(tmp_path / "train.parquet")
    same_rows(by_expression(tmp_path / "train.parquet", get_target("trl-grpo")),
              by_rows(tmp_path / "train.parquet", get_target("trl-grpo")))
    verl = pl.DataFrame({
        "prompt": [[{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]] * 3,
        "reward_model": [{"style": "rule", "ground_truth": '{"a": [1]}'}, None, {"style": "rule", "ground_truth": None}],
        "extra_info": [{"id": "a"}, {"id": None}, None],
    })
    verl.write_parquet(tmp_path / "valid.parquet")
    rows = by_expression(tmp_path / "valid.parquet", get_target("verl"))
    same_rows(rows, by_rows(tmp_path / "valid.parquet", get_target("verl")))
    assert [sorted(json.loads(r)) for r in rows] == [["id", "messages", "reference_answer"], ["messages"],
                                                     ["messages", "reference_answer"]]


# --- a reference held as a string (TRL column, verl ground_truth, Gemini references) ------------

STRING_ANSWERS = {
    "json": [{"name": "harbour", "tags": ["x"]}, '"Paris"', 5, True, [1, {"z": None}], 2.5],  # '"Paris"': a JSON string
    "text": ["42", "[]", '["a", "b"]', "true", "Paris", "-3.5"],
}


def _run(kind: str, target: str, folder: Path, answers: list | None = None) -> Path:
    from curate.pipeline import run

    folder.mkdir()
    answers = answers or STRING_ANSWERS[kind]
    lines = [json.dumps({"uid": f"q{i}", "question": f"Question {i} about the {TOPICS[i % 10]} number {i * 31}?",
                         "gold": answers[i % len(answers)]}) for i in range(60)]
    (folder / "data.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "p.yaml").write_text(
        f"source: {{path: data.jsonl, id: uid, text: question, answer: gold}}\nanswer: {{kind: {kind}}}\n"
        f"rules: []\nsplit: {{validation: 10, seed: 3}}\nexport: {{out: out, target: {target}}}\n", encoding="utf-8")
    run(folder / "p.yaml")
    return folder / "out"


def _held(target: str, out: Path) -> dict[str, object]:
    """id -> the reference as the target's training file holds it."""
    if target == "gemini-rl":
        refs = [json.loads(line)["references"] for line in (out / "train.jsonl").read_text().splitlines()]
        return {r["id"]: r["reference_answer"] for r in refs}
    frame = pl.read_parquet(out / "train.parquet")
    if target == "verl":
        return dict(zip(frame["extra_info"].struct.field("id"), frame["reward_model"].struct.field("ground_truth"),
                        strict=True))
    return dict(zip(frame["id"], frame["reference_answer"], strict=True))


@pytest.mark.parametrize("kind", ["json", "text"])
@pytest.mark.parametrize("target", ["trl-grpo", "verl", "gemini-rl"])
def test_a_string_reference_is_read_as_the_task_kind_says(kind, target, tmp_path):
    """json answers are JSON text in the file and the JSON value for the reward module and for
    ``curate check`` (as in the RFT JSONL); text answers stay strings even when they look like
    JSON ("42", "[]", "true"). Before the kind answered, ``curate check`` guessed from the value:
    text "42" or "[]" in verl/Gemini became a number or an empty label list, json "Paris" or
    true stayed JSON text, and a json-kind TRL reference stayed a string."""
    from curate.kinds import get_kind

    if target == "trl-grpo":
        pytest.importorskip("datasets")
    rft = _run(kind, "openai-rft", tmp_path / "rft")
    want = {r["id"]: r["reference_answer"] for r in map(json.loads, (rft / "train.jsonl").read_text().splitlines())}
    given = [json.loads(a) if a == '"Paris"' else a for a in STRING_ANSWERS[kind]]
    assert {json.dumps(v) for v in want.values()} == {json.dumps(a) for a in given}
    out = _run(kind, target, tmp_path / "out")
    held = _held(target, out)
    assert held.keys() == want.keys()
    for key, value in held.items():
        assert isinstance(value, str)
        assert (json.loads(value) if kind == "json" else value) == want[key], (key, value)
    reward = (out / ("gemini_reward.py" if target == "gemini-rl" else "reward.py")).read_text()
    assert f"REFERENCE_IS_JSON = {get_kind(kind).reference_is_json}\n" in reward
    data = out / ("train.jsonl" if target == "gemini-rl" else "train.parquet")
    assert views.reading_of(data) == views.Reading(kind == "json", is_labels=False)
    (planned,) = views.prepare([data], None, tmp_path / "scratch")
    seen = {r["id"]: r["reference_answer"] for r in map(json.loads, planned.read.read_text().splitlines())}
    assert seen == want
    assert views.prepare([data], target, tmp_path / "guess")  # without a manifest's kind: guessed per value


def test_an_answer_task_export_is_not_checked_as_label_sets(tmp_path):
    """A json answer holding a list of strings (or an object with one) is not a label set: with the
    manifest naming the answer task, curate check reports no no_labels / answer_schema on it."""
    import shutil

    from curate.check import check_files

    out = _run("json", "openai-rft", tmp_path / "run", [{"name": "x", "tags": []}, ["a", "b"], [], {"n": 1}])
    labelled = ("no_labels", "answer_schema")
    found = check_files([out / "train.jsonl"]).findings
    assert found.filter(pl.col("rule").is_in(labelled)).height == 0, found
    alone = tmp_path / "alone"  # without its manifest the file reads as a label task, as before
    alone.mkdir()
    shutil.copy(out / "train.jsonl", alone / "train.jsonl")
    assert check_files([alone / "train.jsonl"]).findings.filter(pl.col("rule") == "no_labels").height > 0


def test_a_lone_surrogate_on_the_row_path_is_a_finding_not_a_crash(tmp_path):
    import subprocess
    import sys

    lines = ['{"messages":[{"role":"system","content":"x"},{"role":"user","content":"hi \\ud800 there"}],'
             '"reference_answer":"a"}',
             '{"messages":[{"role":"user","content":"ok"}],"reference_answer":"b","extra":1}']  # keys differ: row path
    (tmp_path / "train.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "curate", "check", "--target", "bedrock-rft", "train.jsonl"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "train.jsonl:1: invalid_utf8" in done.stdout + done.stderr and "internal error" not in done.stderr
