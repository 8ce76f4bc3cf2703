"""Several inputs: `source.path` as a list, a glob or a folder, `source.split` as a list or `all`.

The NLU++ hotel folds (tests/data/nlupp_folds, see tests/data/SOURCE.md) are read as one source: the
ledger keeps (file, file_line) for every row, every row of every file ends in one disposition, and
`curate explain` and the findings name the file a row came from.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import curate
from curate.errors import ConfigError, SourceError
from curate.explain import explain, render
from curate.io.inputs import load_inputs
from curate.io.load import load_records
from curate.io.source import SourceSpec

FOLDS = Path(__file__).parent / "data" / "nlupp_folds"
ORDER = ["fold0.json", "fold1.json", "fold15.json", "fold2.json"]  # sorted by name, as `ls` sorts


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate", *args], capture_output=True, text=True)


def one_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stderr
    errors = [x for x in done.stderr.splitlines() if not x.startswith("•")]  # progress lines start with •
    assert "Traceback" not in done.stderr and len(errors) == 1 and errors[0].startswith("error: "), done.stderr
    return errors[0]


def write_pipeline(folder: Path, path, **extra) -> Path:
    config = {"source": {"path": path, "text": "text", "labels": "intents", **extra.pop("source", {})},
              "labels": {"allow_empty": True}, "split": {"validation": 0.2, "seed": 3},
              "export": {"out": "out"}, **extra}
    (folder / "pipeline.yaml").write_text(json.dumps(config))
    return folder / "pipeline.yaml"


@pytest.fixture(scope="module")
def folds_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("nlupp")
    shutil.copytree(FOLDS, root / "data")
    result = curate.run(write_pipeline(root, "data"))
    return root, result


def test_a_folder_is_read_file_by_file_in_name_order_with_every_row_accounted_for(folds_run):
    root, result = folds_run
    ledger = pl.read_parquet(root / "out" / "ledger.parquet")
    assert ledger.columns[:3] == ["line", "file", "file_line"]
    sizes = {name: len(json.loads((FOLDS / name).read_text())) for name in ORDER}
    assert ledger.height == sum(sizes.values()) == result.manifest["input_rows"]
    assert ledger["line"].to_list() == list(range(1, ledger.height + 1))  # JSON arrays: no gaps between files
    per_file = dict(ledger.group_by("file").len().iter_rows())
    assert per_file == {f"data/{name}": n for name, n in sizes.items()}
    # within each file, file_line is the element's position, as the single-file loader numbers it
    for name in ORDER:
        alone = load_records(SourceSpec.from_mapping({"path": str(FOLDS / name), "labels": "intents"}))
        mine = ledger.filter(pl.col("file") == f"data/{name}")
        assert mine["file_line"].to_list() == list(range(1, sizes[name] + 1))
        assert set(alone.frame["line"]) <= set(mine["file_line"])
    files = result.manifest["source"]["files"]
    assert [f["file"] for f in files] == [f"data/{name}" for name in ORDER]
    offset = 0
    for entry, name in zip(files, ORDER, strict=True):
        assert entry["rows"] == sizes[name] == sum(entry["counts"].values())
        assert entry["line_offset"] == offset and entry["format"] == "json" and len(entry["sha256"]) == 64
        counted = ledger.filter(pl.col("file") == entry["file"]).group_by("disposition").len()
        assert {d: n for d, n in entry["counts"].items() if n} == dict(counted.iter_rows())
        offset += sizes[name]


def test_a_duplicate_across_two_files_names_both_files(folds_run):
    root, result = folds_run
    # "spa team please" is row 8 of fold1.json and row 8 of fold15.json, with the same intents
    findings = pl.read_parquet(root / "out" / "findings.parquet")
    dup = findings.filter(pl.col("rule") == "duplicate").row(0, named=True)
    assert (dup["file"], dup["file_line"]) == ("data/fold15.json", 8)
    assert dup["message"] == f"same text and labels as line {dup['partner']} (data/fold1.json:8)"
    ledger = pl.read_parquet(root / "out" / "ledger.parquet")
    assert ledger.filter(pl.col("line") == dup["partner"]).select("file", "file_line").row(0) == ("data/fold1.json", 8)
    rejected = [json.loads(x) for x in (root / "out" / "rejected.jsonl").read_text().splitlines()]
    assert {(r["file"], r["file_line"]) for r in rejected} >= {("data/fold15.json", 8)}
    assert list(rejected[0])[:3] == ["line", "file", "file_line"]


def test_explain_finds_a_row_of_the_third_file_by_file_and_line(folds_run):
    root, _ = folds_run
    story = explain(root / "out", "data/fold15.json:8")
    (row,) = story.rows
    assert (row["file"], row["file_line"], row["disposition"]) == ("data/fold15.json", 8, "rejected")
    assert json.loads(row["text"]) == json.loads((FOLDS / "fold15.json").read_text())[7]
    (partner,) = row["partners"]
    assert (partner["file"], partner["file_line"]) == ("data/fold1.json", 8)
    assert json.loads(partner["text"])["text"] == "spa team please"
    assert explain(root / "out", "fold15.json:8").rows == story.rows  # the name alone is enough
    assert explain(root / "out", str(row["line"])).rows == story.rows  # and the global line still works
    text = render(story)
    assert f"line {row['line']} (data/fold15.json:8)" in text and "paired with line" in text
    first = explain(root / "out", "data/fold15.json:1").rows[0]  # a long element: its start
    assert json.dumps(json.loads((FOLDS / "fold15.json").read_text())[0]).startswith(first["text"].rstrip("…"))
    done = cli("explain", str(root / "out"), "fold15.json:999")
    assert "no row at line fold15.json:999" in one_line(done)


def test_glob_and_list_read_the_same_rows_and_a_list_keeps_its_order(tmp_path):
    shutil.copytree(FOLDS, tmp_path / "data")
    spec = SourceSpec.from_mapping({"path": "data/fold1*.json", "labels": "intents"}, base_dir=tmp_path)
    assert [i.name for i in spec.inputs] == ["data/fold1.json", "data/fold15.json"]
    listed = SourceSpec.from_mapping({"path": ["data/fold15.json", "data/fold1.json"], "labels": "intents"},
                                     base_dir=tmp_path)
    a, b = load_inputs(spec), load_inputs(listed)
    assert a.input_rows == b.input_rows == 48 + 50
    assert [o.name for o in b.inputs.files] == ["data/fold15.json", "data/fold1.json"]
    first = b.inputs.annotate(b.frame).row(0, named=True)
    assert (first["file"], first["file_line"], first["line"]) == ("data/fold15.json", 1, 1)
    assert sorted(a.frame["text"]) == sorted(b.frame["text"])


def test_csv_lines_stay_distinct_across_files_with_headers_and_multiline_fields(tmp_path):
    (tmp_path / "a.csv").write_text('text,labels\n"two\nlines",x\n\nthird,y\n')
    (tmp_path / "b.csv").write_text('text,labels\nfirst,z\n"bad quote,z\nlast,w\n')
    mapping = {"path": ["a.csv", "b.csv"], "labels_sep": "|"}
    loaded = load_inputs(SourceSpec.from_mapping(mapping, base_dir=tmp_path))
    rows = loaded.inputs.annotate(loaded.frame).select("line", "file", "file_line", "text").rows()
    found = loaded.inputs.annotate(loaded.findings).select("line", "file", "file_line", "rule").rows()
    for name in ("a.csv", "b.csv"):  # each file's lines are the ones the single-file loader reports
        alone = load_records(SourceSpec.from_mapping({**mapping, "path": name}, base_dir=tmp_path))
        assert [r[2:] for r in rows if r[1] == name] == alone.frame.select("line", "text").rows()
        assert [(r[2], r[3]) for r in found if r[1] == name] == alone.findings.select("line", "rule").rows()
    lines = [r[0] for r in rows] + [r[0] for r in found]
    assert len(set(lines)) == len(lines) == loaded.input_rows == 5
    assert [r[:3] for r in rows][:2] == [(2, "a.csv", 2), (5, "a.csv", 5)]


def test_files_of_different_formats_and_types_become_one_frame(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.jsonl").write_text(json.dumps({"text": "one", "labels": ["x"], "fold": 1}) + "\n")
    (tmp_path / "data" / "b.csv").write_text("text,labels,fold\ntwo,y,B\n")
    pl.DataFrame({"text": ["three"], "labels": [["z"]], "fold": [3.5]}).write_parquet(tmp_path / "data" / "c.parquet")
    (tmp_path / "data" / "notes.md").write_text("not data\n")  # a folder's other files are not read
    spec = SourceSpec.from_mapping({"path": "data", "labels_sep": "|", "passthrough": ["fold"]}, base_dir=tmp_path)
    assert (spec.format, [i.format for i in spec.inputs]) == ("mixed", ["jsonl", "csv", "parquet"])
    loaded = load_inputs(spec)
    assert loaded.frame.select("text", "labels", "fold").rows() == [
        ("one", ["x"], "1"), ("two", ["y"], "B"), ("three", ["z"], "3.5")]
    # numbers in every file stay numbers
    (tmp_path / "data" / "b.csv").unlink()
    loaded = load_inputs(SourceSpec.from_mapping({"path": "data", "passthrough": ["fold"]}, base_dir=tmp_path))
    assert loaded.frame["fold"].to_list() == [1.0, 3.5]


def test_an_object_in_one_file_and_a_number_in_another_is_one_line(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "one", "labels": ["x"], "meta": 1}) + "\n")
    (tmp_path / "b.jsonl").write_text(json.dumps({"text": "two", "labels": ["y"], "meta": {"k": 2}}) + "\n")
    with pytest.raises(SourceError, match=r"b.jsonl: field 'meta' holds an object here but a number in a.jsonl"):
        load_inputs(SourceSpec.from_mapping({"path": "*.jsonl", "passthrough": ["meta"]}, base_dir=tmp_path))
    (tmp_path / "p.yaml").write_text(json.dumps({"source": {"path": "*.jsonl", "passthrough": ["meta"]},
                                                 "export": {"out": "out"}}))
    assert "field 'meta' holds an object here but a number in a.jsonl" in one_line(cli("run", str(tmp_path / "p.yaml")))


def test_an_empty_glob_an_empty_folder_and_a_missing_listed_file_are_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.md").write_text("nothing to read")
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "one", "labels": ["x"]}) + "\n")
    cases = {"fold_*.json": "no file matches 'fold_*.json'",
             "empty": "empty: a folder with no JSONL, JSON, CSV/TSV or Parquet file in it",
             ("a.jsonl", "gone.jsonl"): "gone.jsonl: no such file or folder",
             ("a.jsonl", "a.jsonl"): "a.jsonl is named twice"}
    for path, message in cases.items():
        (tmp_path / "p.yaml").write_text(json.dumps({"source": {"path": list(path) if isinstance(path, tuple) else path},
                                                     "export": {"out": "out"}}))
        line = one_line(cli("run", str(tmp_path / "p.yaml")))
        assert message in line and "source: path:" in line, line
    with pytest.raises(ConfigError, match="a list of paths"):
        SourceSpec.from_mapping({"path": []}, base_dir=tmp_path)


def test_the_out_folder_may_hold_no_input_file(tmp_path):
    (tmp_path / "data" / "out").mkdir(parents=True)
    for name in ("a.jsonl", "out/b.jsonl"):
        (tmp_path / "data" / name).write_text(json.dumps({"text": name, "labels": ["x"]}) + "\n")
    (tmp_path / "p.yaml").write_text(json.dumps({"source": {"path": ["data/a.jsonl", "data/out/b.jsonl"]},
                                                 "export": {"out": "data/out"}}))
    line = one_line(cli("run", str(tmp_path / "p.yaml")))
    assert f"holds {tmp_path / 'data' / 'out' / 'b.jsonl'}, which this run reads" in line
    assert (tmp_path / "data" / "out" / "b.jsonl").is_file()


def test_a_single_file_run_keeps_its_shape(tmp_path):
    shutil.copy(FOLDS / "fold0.json", tmp_path / "fold0.json")
    result = curate.run(write_pipeline(tmp_path, "fold0.json"))
    assert result.ledger.columns == ["line", "id", "disposition", "reasons"]
    assert "source" not in result.manifest and "file" not in pl.read_parquet(tmp_path / "out" / "findings.parquet").columns
    # a list of one file is several inputs: the shape follows the configuration, not the count
    result = curate.run(write_pipeline(tmp_path, ["fold0.json"]))
    assert result.ledger.columns[:3] == ["line", "file", "file_line"]
    assert result.manifest["source"]["files"][0]["rows"] == 47


def test_ids_made_from_lines_are_unique_across_files(folds_run):
    root, _ = folds_run
    ledger = pl.read_parquet(root / "out" / "ledger.parquet")
    assert ledger["id"].to_list() == [f"line-{n}" for n in ledger["line"]]


def test_hugging_face_splits_all_or_a_list(tmp_path):
    datasets = pytest.importorskip("datasets")
    rows = {"train": ["a", "b", "c"], "validation": ["d"], "test": ["e", "f"]}
    datasets.DatasetDict({name: datasets.Dataset.from_dict({"text": texts, "labels": [["x"]] * len(texts)})
                          for name, texts in rows.items()}).save_to_disk(str(tmp_path / "hf"))
    every = load_inputs(SourceSpec.from_mapping({"path": "hf", "split": "all"}, base_dir=tmp_path))
    assert [o.name for o in every.inputs.files] == ["hf/train", "hf/validation", "hf/test"]
    frame = every.inputs.annotate(every.frame)
    assert frame.select("line", "file", "file_line", "text").rows() == [
        (1, "hf/train", 1, "a"), (2, "hf/train", 2, "b"), (3, "hf/train", 3, "c"), (4, "hf/validation", 1, "d"),
        (5, "hf/test", 1, "e"), (6, "hf/test", 2, "f")]
    two = load_inputs(SourceSpec.from_mapping({"path": "hf", "split": ["test", "train"]}, base_dir=tmp_path))
    assert two.inputs.annotate(two.frame).select("file", "text").rows()[:3] == [
        ("hf/test", "e"), ("hf/test", "f"), ("hf/train", "a")]
    with pytest.raises(SourceError, match=r"has no split 'dev' \(splits: train, validation, test\)"):
        SourceSpec.from_mapping({"path": "hf", "split": ["train", "dev"]}, base_dir=tmp_path)
    result = curate.run({"source": {"path": str(tmp_path / "hf"), "split": "all"}, "rules": [],
                         "split": {"validation": 2, "seed": 1}, "export": {"out": str(tmp_path / "out")}})
    files = result.manifest["source"]["files"]
    assert [(f["split"], f["rows"]) for f in files] == [("train", 3), ("validation", 1), ("test", 2)]
    assert "sha256" not in files[0]  # a saved dataset is a folder
