"""End to end: the EUR-Lex example and a deliberately messy source through `curate.run`."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

import curate
from curate.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "eurlex"


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("eurlex-out")
    return curate.run(EXAMPLE / "pipeline.yaml", export__out=str(out))


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_example_gives_100_train_and_50_valid_rft_lines(example_run):
    out = example_run.out_dir
    train, valid = read_jsonl(out / "train.jsonl"), read_jsonl(out / "valid.jsonl")
    assert (len(train), len(valid)) == (100, 50)
    for row in train + valid:
        assert list(row) == ["messages", "reference_answer", "id", "document_type"]
        assert [m["role"] for m in row["messages"]] == ["developer", "user"]
        assert row["messages"][-1]["role"] == "user" and row["messages"][-1]["content"].strip()
        assert row["reference_answer"] == sorted(row["reference_answer"]) and row["reference_answer"]
    prompts = lambda rows: {r["messages"][-1]["content"] for r in rows}  # noqa: E731
    assert not prompts(train) & prompts(valid)
    assert not {r["id"] for r in train} & {r["id"] for r in valid}


def test_example_reference_answers_are_rolled_up_domain_names(example_run):
    fmt = json.loads((example_run.out_dir / "response_format.json").read_text())
    enum = fmt["json_schema"]["schema"]["properties"]["labels"]["items"]["enum"]
    assert len(enum) == 21 and fmt["json_schema"]["strict"] is True
    developer = read_jsonl(example_run.out_dir / "train.jsonl")[0]["messages"][0]["content"]
    assert all(f"- {name}\n" in developer for name in enum)
    raw = {json.loads(line)["celex_id"]: json.loads(line) for line in (EXAMPLE / "raw.jsonl").read_text().splitlines()}
    row = read_jsonl(example_run.out_dir / "valid.jsonl")[0]
    assert set(row["reference_answer"]) <= set(enum)
    assert row["messages"][-1]["content"] == raw[row["id"]]["text"]["en"]


def test_ledger_has_one_row_per_input_line_and_the_manifest_adds_up(example_run):
    out = example_run.out_dir
    ledger = pl.read_parquet(out / "ledger.parquet")
    assert ledger["line"].to_list() == list(range(1, 301))
    assert ledger.schema == {"line": pl.Int64, "id": pl.String, "disposition": pl.String, "reasons": pl.List(pl.String)}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["input_rows"] == 300 == sum(manifest["counts"].values())
    counts = dict(ledger.group_by("disposition").len().iter_rows())
    assert all(manifest["counts"][k] == counts.get(k, 0) for k in manifest["counts"])
    train_ids = {r["id"] for r in read_jsonl(out / "train.jsonl")}
    assert train_ids == set(ledger.filter(pl.col("disposition") == "train")["id"])
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    assert sum(manifest["labels"]["train"].values()) == sum(len(r["reference_answer"]) for r in read_jsonl(out / "train.jsonl"))
    rejected = read_jsonl(out / "rejected.jsonl")
    assert {r["line"] for r in rejected} == set(ledger.filter(pl.col("disposition") == "rejected")["line"])


def test_running_twice_gives_byte_identical_outputs(tmp_path):
    shutil.copytree(EXAMPLE, tmp_path / "ex", ignore=shutil.ignore_patterns("out"))
    curate.run(tmp_path / "ex" / "pipeline.yaml")
    first = {p.name: p.read_bytes() for p in (tmp_path / "ex" / "out").iterdir()}
    curate.run(tmp_path / "ex" / "pipeline.yaml")
    second = {p.name: p.read_bytes() for p in (tmp_path / "ex" / "out").iterdir()}
    assert first == second and "train.jsonl" in first
    curate.run(tmp_path / "ex" / "pipeline.yaml", split__seed=8)
    assert (tmp_path / "ex" / "out" / "valid.jsonl").read_bytes() != first["valid.jsonl"]


MESSY_LINES = [
    '{"celex_id": "ok1", "text": {"en": "Regulation on the import of bananas and other fruit."}, "eurovoc_concepts": ["1402"]}',
    '{"celex_id": "badjson", "text": {"en": "unterminated"',
    '{"celex_id": "strlabels", "text": {"en": "Labels given as a single string here."}, "eurovoc_concepts": "1402"}',
    '{"celex_id": "numtext", "text": {"en": 12345}, "eurovoc_concepts": ["1402"]}',
    '{"celex_id": "unknown", "text": {"en": "A decision whose descriptor is not in EuroVoc."}, "eurovoc_concepts": ["999999"]}',
    '{"celex_id": "partly", "text": {"en": "A directive with one known and one unknown descriptor."}, "eurovoc_concepts": ["2771", "999998"]}',
    '{"celex_id": "nolabels", "text": {"en": "A decision with no descriptors at all."}, "eurovoc_concepts": []}',
    '{"celex_id": "notext", "eurovoc_concepts": ["1402"]}',
    '{"celex_id": "ok2", "text": {"en": "Council decision on fisheries agreements with third countries."}, "eurovoc_concepts": ["2771"]}',
    '{"celex_id": "ok3", "text": {"en": "Commission regulation fixing export refunds on cereals for the period."}, "eurovoc_concepts": ["1402", "2771"]}',
    '{"celex_id": "ok4", "text": {"en": "Directive on the approximation of laws concerning packaging waste."}, "eurovoc_concepts": ["2771"]}',
]


def test_messy_source_runs_to_the_end_and_accounts_for_every_row(tmp_path):
    (tmp_path / "raw.jsonl").write_text("\n".join(MESSY_LINES) + "\n")
    config = {
        "source": {"path": "raw.jsonl", "id": "celex_id", "text": "text.en", "labels": "eurovoc_concepts"},
        "labels": {"vocabulary": str(EXAMPLE / "concepts.tsv"), "id": "concept_id", "name": "label_en",
                   "parent": "domain_ids", "level": "top"},
        "rules": [],
        "split": {"validation": 1, "seed": 1},
        "export": {"out": "out", "user": "{{ text }}"},
    }
    result = curate.run(curate.load_config(config, base_dir=tmp_path))
    ledger = pl.read_parquet(tmp_path / "out" / "ledger.parquet")
    assert ledger.height == len(MESSY_LINES)
    reasons = {line: set(r) for line, r in ledger.select("line", "reasons").iter_rows()}
    disposition = dict(ledger.select("line", "disposition").iter_rows())
    expected_rejected = {2: "malformed_json", 3: "wrong_type", 4: "wrong_type", 5: "no_labels",
                         7: "no_labels", 8: "missing_field"}
    for line, reason in expected_rejected.items():
        assert disposition[line] == "rejected" and reason in reasons[line], line
    assert reasons[5] == {"no_labels", "unknown_label"}
    assert disposition[6] in ("train", "valid") and reasons[6] == {"unknown_label"}
    rejected = {r["line"]: r for r in read_jsonl(tmp_path / "out" / "rejected.jsonl")}
    assert set(rejected) == set(expected_rejected)
    assert rejected[3]["findings"][0]["field"] == "eurovoc_concepts"
    assert result.manifest["counts"]["rejected"] == 6 and sum(result.manifest["counts"].values()) == 11
    assert result.manifest["rules"]["unknown_label"] == 2


def test_record_text_is_data_not_template_and_is_escaped_in_the_report(tmp_path):
    rows = [{"id": "x", "text": "{{ 7 * 7 }} <script>alert(1)</script>", "labels": ["a"]},
            {"id": "y", "text": "plain", "labels": ["b"]}, {"id": "z", "text": "", "labels": ["a"]}]
    (tmp_path / "raw.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    config = {"source": {"path": "raw.jsonl", "id": "id"}, "rules": [], "split": {"validation": 1, "seed": 0},
              "export": {"out": "out", "user": "Text: {{ text }}"}}
    curate.run(curate.load_config(config, base_dir=tmp_path))
    exported = read_jsonl(tmp_path / "out" / "train.jsonl") + read_jsonl(tmp_path / "out" / "valid.jsonl")
    contents = {r["id"]: r["messages"][-1]["content"] for r in exported}
    assert contents["x"] == "Text: {{ 7 * 7 }} <script>alert(1)</script>"
    report = (tmp_path / "out" / "report.html").read_text()
    assert "<script>" not in report


def test_config_errors_are_clear_and_come_before_any_output(tmp_path):
    (tmp_path / "raw.jsonl").write_text('{"id": "a", "text": "t", "labels": ["x"]}\n')
    base = {"source": {"path": "raw.jsonl"}, "export": {"out": "out"}}
    with pytest.raises(ConfigError, match=r"uses \{\{ body \}\}, which is not a field"):
        curate.run(curate.load_config({**base, "export": {"out": "out", "user": "{{ body }}"}}, base_dir=tmp_path))
    with pytest.raises(ConfigError, match="unknown section 'balanse'"):
        curate.load_config({**base, "balanse": {}}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="unknown export target 'nope'"):
        curate.run(curate.load_config({**base, "export": {"out": "out", "target": "nope"}}, base_dir=tmp_path))
    with pytest.raises(ConfigError, match="unknown option 'bogus' for export target openai-rft"):
        curate.run(curate.load_config({**base, "export": {"out": "out", "options": {"bogus": 1}}}, base_dir=tmp_path))
    assert not (tmp_path / "out").exists()


def test_user_hooks_run_at_stage_boundaries_and_can_gate(tmp_path):
    from curate.errors import GateFailed
    from curate.pipeline import Pipeline

    shutil.copytree(EXAMPLE, tmp_path / "ex", ignore=shutil.ignore_patterns("out"))
    pipeline = Pipeline.from_file(tmp_path / "ex" / "pipeline.yaml")
    seen = []
    pipeline.add_hook("after_load", lambda e: seen.append((e.stage, e.state["frame"].height)))
    pipeline.add_hook("after_split", lambda e: seen.append((e.stage, {k: f.height for k, f in e.state["splits"].items()})))

    def gate(event):
        seen.append((event.stage, event.state["manifest"]["counts"]["train"]))
        raise GateFailed("too few training rows for this team's taste")

    pipeline.add_hook("after_export", gate)
    with pytest.raises(GateFailed, match="taste"):
        pipeline.run()
    assert seen == [("after_load", 300), ("after_split", {"train": 100, "valid": 50}), ("after_export", 100)]
    assert (tmp_path / "ex" / "out" / "manifest.json").exists()  # outputs are kept on a no-go
    with pytest.raises(ValueError, match="unknown stage 'before_lunch'"):
        pipeline.add_hook("before_lunch", gate)
