"""`curate inspect` names a file's fields; `curate init` writes a starter pipeline that `curate run` completes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from curate.errors import ConfigError, SourceError
from curate.profiling import inspect_file, render_profile
from curate.starter import write_starter

DATA = Path(__file__).parent / "data" / "inspect"
EURLEX = Path(__file__).parents[1] / "examples" / "eurlex"


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_inspect_banking77_names_text_and_single_label_category():
    profile = inspect_file(DATA / "banking77_head200.csv")
    by_path = {f.path: f for f in profile.fields}
    assert set(by_path) == {"text", "category"}
    assert by_path["text"].dtype == "string" and by_path["text"].filled == 1.0
    assert by_path["category"].distinct == len({r.split(",")[-1] for r in (DATA / "banking77_head200.csv").read_text().splitlines()[1:]})
    assert profile.guess["text"] == "text" and profile.guess["labels"] == "category" and profile.guess["single"]
    out = render_profile(profile)
    assert "labels  category (one label per row: labels.single)" in out


def test_inspect_medical_names_question_and_answer():
    profile = inspect_file(DATA / "medical_head40.jsonl")
    assert [f.path for f in profile.fields] == ["idx", "Open-ended Verifiable Question", "Ground-True Answer"]
    assert profile.guess["id"] == "idx"
    assert profile.guess["text"] == "Open-ended Verifiable Question"
    assert profile.guess["answer"] == "Ground-True Answer" and profile.guess["kind"] == "text"
    question = next(f for f in profile.fields if f.path == "Open-ended Verifiable Question")
    lengths = sorted(len(json.loads(line)["Open-ended Verifiable Question"])
                     for line in (DATA / "medical_head40.jsonl").read_text().splitlines())
    assert question.lengths["max"] == lengths[-1] and question.lengths["p5"] <= question.lengths["p50"] <= question.lengths["p95"]


def test_inspect_flattens_nested_fields_to_dotted_paths():
    profile = inspect_file(EURLEX / "raw.jsonl")
    paths = [f.path for f in profile.fields]
    assert "text.en" in paths and "eurovoc_concepts" in paths
    assert profile.guess["text"] == "text.en" and profile.guess["labels"] == "eurovoc_concepts"
    concepts = next(f for f in profile.fields if f.path == "eurovoc_concepts")
    assert concepts.dtype == "list[string]" and concepts.list_len > 1


def test_inspect_numbers_as_answer_kind(tmp_path):
    rows = [{"question": f"How many legs do {i} spiders have in total?", "answer": f"{8 * i:,}"} for i in range(200, 260)]
    (tmp_path / "q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    profile = inspect_file(tmp_path / "q.jsonl")
    assert profile.guess["answer"] == "answer" and profile.guess["kind"] == "number"


def test_inspect_mixed_types_and_broken_lines_do_not_crash(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"text": "a", "v": 1}\n{"text": "b", "v": {"x": 1}}\nnot json\n{"text": "c", "v": "s"}\n')
    profile = inspect_file(path)
    assert {f.path for f in profile.fields} == {"text", "v"}


@pytest.mark.parametrize("content", ["", "[1, 2, 3]"])
def test_inspect_unreadable_files_are_one_line_errors(tmp_path, content):
    path = tmp_path / "x.json"
    path.write_text(content)
    with pytest.raises(SourceError):
        inspect_file(path)
    out = cli("inspect", str(path))
    assert out.returncode == 2 and "Traceback" not in out.stderr and str(path) in out.stderr


def test_init_writes_a_commented_starter_and_never_overwrites(tmp_path):
    shutil.copy(DATA / "medical_head40.jsonl", tmp_path / "raw.jsonl")
    written = write_starter(tmp_path / "raw.jsonl")
    text = written.read_text()
    assert text.startswith("# Starter pipeline for raw.jsonl")
    cfg = yaml.safe_load(text)
    assert cfg["source"] == {"path": "raw.jsonl", "id": "idx", "text": "Open-ended Verifiable Question",
                             "answer": "Ground-True Answer"}
    assert cfg["answer"] == {"kind": "text"} and cfg["export"]["out"] == "out"
    with pytest.raises(ConfigError, match="already exists"):
        write_starter(tmp_path / "raw.jsonl")
    assert written.read_text() == text


def test_init_finds_a_vocabulary_beside_the_data(tmp_path):
    shutil.copy(EURLEX / "raw.jsonl", tmp_path / "raw.jsonl")
    shutil.copy(EURLEX / "concepts.tsv", tmp_path / "concepts.tsv")
    cfg = yaml.safe_load(write_starter(tmp_path / "raw.jsonl").read_text())
    assert cfg["source"]["labels"] == "eurovoc_concepts"
    assert cfg["labels"]["vocabulary"] == "concepts.tsv" and cfg["labels"]["id"] == "concept_id"


def test_init_then_run_completes_on_a_labelled_file(tmp_path):
    shutil.copy(EURLEX / "raw.jsonl", tmp_path / "raw.jsonl")
    shutil.copy(EURLEX / "concepts.tsv", tmp_path / "concepts.tsv")
    made = cli("init", str(tmp_path / "raw.jsonl"))
    assert made.returncode == 0, made.stderr
    ran = cli("run", str(tmp_path / "pipeline.yaml"), "--quiet")
    assert ran.returncode == 0, ran.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["input_rows"] == 300 and sum(manifest["counts"].values()) == 300
    assert manifest["counts"]["train"] > 0 and manifest["counts"]["valid"] > 0


def test_help_wraps_instead_of_cropping():
    import os

    out = subprocess.run([sys.executable, "-m", "curate", "check", "--help"], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "50"})
    assert out.returncode == 0
    assert "…" not in out.stdout and "(repeatable)" in " ".join(out.stdout.split())


def test_closed_pipe_gives_no_traceback(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": "x"}], "id": str(i % 5)}) + "\n"
                            for i in range(5000)))
    proc = subprocess.Popen([sys.executable, "-m", "curate", "check", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away, as `| head -1` does
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_init_then_run_completes_on_an_open_answer_file(tmp_path):
    shutil.copy(DATA / "medical_head40.jsonl", tmp_path / "raw.jsonl")
    assert cli("init", str(tmp_path / "raw.jsonl")).returncode == 0
    ran = cli("run", str(tmp_path / "pipeline.yaml"), "--quiet")
    assert ran.returncode == 0, ran.stderr
    answers = {str(r["idx"]): r["Ground-True Answer"] for r in map(json.loads, (DATA / "medical_head40.jsonl").read_text().splitlines())}
    exported = [json.loads(line) for name in ("train.jsonl", "valid.jsonl")
                for line in (tmp_path / "out" / name).read_text().splitlines()]
    assert exported and all(row["reference_answer"] == answers[row["id"]] for row in exported)


def test_init_then_run_on_a_single_label_csv(tmp_path):
    shutil.copy(DATA / "banking77_head200.csv", tmp_path / "train.csv")
    assert cli("init", str(tmp_path / "train.csv")).returncode == 0
    assert yaml.safe_load((tmp_path / "pipeline.yaml").read_text())["labels"] == {"single": True}
    ran = cli("run", str(tmp_path / "pipeline.yaml"), "--quiet")
    assert ran.returncode == 0, ran.stderr
    rows = [json.loads(line) for line in (tmp_path / "out" / "train.jsonl").read_text().splitlines()]
    assert rows and all(isinstance(r["reference_answer"], str) for r in rows)


def test_init_then_run_on_a_large_file_keeps_the_targets_validation_limit(tmp_path):
    from curate.export.openai_rft import LIMITS
    from curate.starter import VALID_LIMIT

    assert VALID_LIMIT == LIMITS["valid"]
    shutil.copy(DATA.parent / "banking77" / "train.csv", tmp_path / "train.csv")  # 10,003 queries: a fifth is 2,000
    assert cli("init", str(tmp_path / "train.csv")).returncode == 0
    assert yaml.safe_load((tmp_path / "pipeline.yaml").read_text())["split"]["validation"] == VALID_LIMIT
    ran = cli("run", str(tmp_path / "pipeline.yaml"), "--quiet")
    assert ran.returncode == 0, ran.stderr
    assert len((tmp_path / "out" / "valid.jsonl").read_text().splitlines()) == VALID_LIMIT
