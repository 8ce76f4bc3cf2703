"""Task kinds: reading, normalising and typing answers; the config that picks a kind; the loader."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import curate
from curate.config import load_config
from curate.errors import ConfigError
from curate.io.load import load_records
from curate.kinds import ANSWER_KINDS, KINDS, get_kind

DATA = Path(__file__).parent / "data"


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def load(tmp_path: Path, rows: list[dict], answer: dict | None = None, **source):
    path = write_jsonl(tmp_path / "raw.jsonl", rows)
    cfg = load_config({"source": {"path": str(path), "text": "q", "answer": "a", **source},
                       "answer": answer or {"kind": "text"}, "export": {"out": str(tmp_path / "out")}})
    loaded = load_records(cfg.source, cfg.kind)
    frame, found = cfg.kind.prepare(loaded.frame)
    return frame, pl.concat([loaded.findings, found])


def test_registry_has_every_kind_and_families():
    assert sorted(KINDS) == ["json", "labels", "math", "number", "single_label", "text"]
    assert ANSWER_KINDS == ("json", "math", "number", "text")
    assert [get_kind(n).is_labels for n in ("labels", "single_label", "text")] == [True, True, False]
    with pytest.raises(ConfigError, match="unknown task kind 'nope'"):
        get_kind("nope")


def test_text_key_folds_case_unicode_punctuation_and_spaces():
    values = pl.Series(["Parvovirus B19 infection", "parvovirus  b19-infection.", "ＰＡＲＶＯＶＩＲＵＳ B19 INFECTION",
                        "Straße", "strasse", "Cefaclor"])
    answer, norm, problem = get_kind("text").canonical(values)
    assert answer.to_list() == values.to_list()  # the canonical answer is the string as given
    assert norm.to_list()[:3] == ["parvovirus b19 infection"] * 3
    assert norm[3] == norm[4] and norm[5] != norm[0]
    assert problem.null_count() == len(values)


def test_number_forms_are_one_value_and_bad_numbers_are_problems():
    values = pl.Series(["1,000", "1000", "1e3", " 1 000 ", "0.5", "1/2", "-3", "\u22123", "1001", "abc", "1/0", "inf"])
    answer, norm, problem = get_kind("number").canonical(values)
    assert norm.to_list()[:4] == ["1000"] * 4
    assert norm[4] == norm[5] == "0.5"
    assert norm[6] == norm[7] == "-3"
    assert norm[8] == "1001"
    assert norm.to_list()[9:] == [None, None, None]
    assert problem.to_list()[9] == "'abc' is not a number"
    assert problem.to_list()[:9] == [None] * 9


def test_json_canonical_ignores_key_order_and_spacing():
    answer, norm, problem = get_kind("json").canonical(pl.Series(['{"b": 1, "a": [1, 2]}', '{"a":[1,2],"b":1}', "[1", '"x"']))
    assert norm[0] == norm[1] == '{"a":[1,2],"b":1}'
    assert norm[2] is None and problem[2].startswith("not valid JSON")
    assert norm[3] == '"x"'


def test_math_equivalent_answers_share_a_key():
    pytest.importorskip("math_verify")
    values = pl.Series(["\\frac{1}{2}", "0.5", "1/2", "$\\frac{2}{4}$", "x+1", "1+x", "0.6", "\\frac{"])
    _, norm, problem = get_kind("math").canonical(values)
    assert norm[0] == norm[1] == norm[2] == norm[3]
    assert norm[4] == norm[5] and norm[4] != norm[0]
    assert norm[6] != norm[0]
    assert norm[7] is None and "cannot parse" in problem[7]


def test_wrong_types_and_unparseable_answers_are_findings_naming_line_and_field(tmp_path):
    rows = [
        {"q": "How many grams in a kilogram?", "a": "1,000"},
        {"q": "How many metres in a kilometre?", "a": 1000},
        {"q": "Not a number at all here?", "a": "abc"},
        {"q": "An object instead of a number?", "a": {"x": 1}},
        {"q": "A boolean instead of a number?", "a": True},
        {"q": "No answer given for this one?"},
        {"q": "A list instead of a number?", "a": [1, 2]},
    ]
    frame, found = load(tmp_path, rows, {"kind": "number"})
    assert frame.filter(pl.col("answer").is_not_null())["answer"].to_list()[:2] == ["1000", "1000"]
    got = sorted(found.select("line", "rule", "field").rows())
    assert got == [(3, "unparseable_answer", "a"), (4, "wrong_type", "a"), (5, "wrong_type", "a"),
                   (6, "missing_field", "a"), (7, "wrong_type", "a")]


def test_text_answers_reject_objects_and_keep_strings_that_look_like_json(tmp_path):
    rows = [{"q": "A plain answer here?", "a": "Pneumonia"}, {"q": "An object answer here?", "a": {"d": "x"}},
            {"q": "A string that looks like a list?", "a": "[not json]"}, {"q": "A number answer?", "a": 42}]
    frame, found = load(tmp_path, rows)
    assert found.select("line", "rule").rows() == [(2, "wrong_type")]
    assert frame.sort("line")["answer"].to_list() == ["Pneumonia", "[not json]", "42"]


def test_json_answers_checked_against_the_users_schema(tmp_path):
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}, "required": ["age"]}
    (tmp_path / "schema.json").write_text(json.dumps(schema), encoding="utf-8")
    rows = [{"q": "Extract the age please?", "a": {"age": 3}}, {"q": "Extract a bad age please?", "a": {"age": "old"}},
            {"q": "Extract from a JSON string?", "a": '{"age": 5}'}, {"q": "Extract broken JSON please?", "a": "{oops"}]
    frame, found = load(tmp_path, rows, {"kind": "json", "schema": str(tmp_path / "schema.json")})
    assert sorted(found.select("line", "rule").rows()) == [(2, "answer_schema"), (4, "unparseable_answer")]
    assert "at age: 'old' is not of type 'integer'" in found.filter(pl.col("line") == 2)["message"][0]
    assert frame.sort("line")["answer"].to_list()[::2] == ['{"age":3}', '{"age":5}']


@pytest.mark.parametrize("mapping, message", [
    ({"source": {"path": "r.jsonl", "labels": "y", "answer": "a"}}, "map either 'labels'"),
    ({"source": {"path": "r.jsonl", "labels": "y"}, "answer": {"kind": "text"}}, "an 'answer' section needs source.answer"),
    ({"source": {"path": "r.jsonl", "answer": "a"}, "labels": {"single": True}}, "belongs to a label task"),
    ({"source": {"path": "r.jsonl", "answer": "a"}, "answer": {"kind": "labels"}}, "The 'kind' parameter of answer"),
    ({"source": {"path": "r.jsonl", "answer": "a"}, "answer": {"kind": "text", "schema": "s.json"}}, "unknown option 'schema'"),
    ({"source": {"path": "r.jsonl", "labels": "y"}, "labels": {"single": True, "allow_empty": True}}, "cannot be combined"),
    ({"source": {"path": "r.jsonl", "labels": "y"}, "labels": {"single": "yes"}}, "The 'single' parameter of task kind"),
    ({"source": {"path": "r.jsonl", "answer": "a"}, "export": {"out": "o", "reference": "labels"}}, "reference is its 'answer'"),
])
def test_config_errors_are_one_line(mapping, message):
    mapping = {"export": {"out": "o"}, **mapping}
    with pytest.raises(ConfigError, match=message) as err:
        load_config(mapping, base_dir=Path("/tmp"))
    assert "\n" not in str(err.value)


def test_config_picks_the_kind_and_its_default_answer_key():
    base = {"source": {"path": "r.jsonl"}, "export": {"out": "o"}}
    assert load_config(base, base_dir=Path("/tmp")).kind.name == "labels"
    cfg = load_config({**base, "labels": {"single": True}}, base_dir=Path("/tmp"))
    assert (cfg.kind.name, cfg.export.answer_key) == ("single_label", "label")
    cfg = load_config({**base, "source": {"path": "r.jsonl", "answer": "x.y"}, "answer": {"kind": "number"}},
                      base_dir=Path("/tmp"))
    assert (cfg.kind.name, cfg.export.answer_key, cfg.kind.field) == ("number", "answer", "x.y")
    cfg = load_config({**base, "source": {"path": "r.jsonl", "answer": "a"}}, base_dir=Path("/tmp"))
    assert cfg.kind.name == "text"  # the default answer kind


def test_one_field_mapped_as_labels_and_passthrough_does_not_crash(tmp_path):
    path = write_jsonl(tmp_path / "raw.jsonl", [{"t": "a text long enough here", "y": ["a"]},
                                                {"t": "another text long enough", "y": ["b"]}])
    cfg = load_config({"source": {"path": str(path), "text": "t", "labels": "y", "passthrough": ["y"]},
                       "export": {"out": "o"}}, base_dir=tmp_path)
    frame = load_records(cfg.source, cfg.kind).frame
    assert frame["labels"].to_list() == frame["y"].to_list() == [["a"], ["b"]]
    cfg = load_config({"source": {"path": str(path), "text": "t", "answer": "t", "passthrough": {"copy": "t"}},
                       "export": {"out": "o"}}, base_dir=tmp_path)
    frame = load_records(cfg.source, cfg.kind).frame
    assert frame["answer"].to_list() == frame["copy"].to_list()


def test_single_label_banking77_one_name_per_reference_and_one_in_the_response_format(tmp_path):
    result = curate.run({
        "source": {"path": str(DATA / "banking77_slice.csv"), "text": "text", "labels": "category"},
        "labels": {"single": True}, "rules": [], "split": {"validation": 100, "seed": 1},
        "export": {"out": str(tmp_path / "out")},
    })
    assert result.manifest["counts"]["train"] + result.manifest["counts"]["valid"] == 616
    lines = [json.loads(x) for f in ("train.jsonl", "valid.jsonl") for x in (tmp_path / "out" / f).open()]
    assert all(isinstance(x["reference_answer"], str) for x in lines)
    categories = pl.read_csv(DATA / "banking77_slice.csv")["category"]
    assert sorted(x["reference_answer"] for x in lines) == sorted(categories.to_list())
    schema = json.loads((tmp_path / "out" / "response_format.json").read_text())["json_schema"]["schema"]
    assert schema["properties"]["label"]["type"] == "string"
    assert sorted(schema["properties"]["label"]["enum"]) == sorted(categories.unique().to_list())
    grader = json.loads((tmp_path / "out" / "grader.json").read_text())
    from curate.graders import LocalGrader

    with LocalGrader(grader, workers=0) as g:
        item = lines[0]
        assert g.grade(json.dumps({"label": item["reference_answer"]}), item).score == 1.0
        assert g.grade(json.dumps({"label": "not_this_one"}), item).score == 0.0


def test_single_label_rows_with_several_labels_are_flagged(tmp_path):
    path = write_jsonl(tmp_path / "raw.jsonl", [{"t": "first text here", "y": "a"}, {"t": "second text here", "y": ["a", "b"]},
                                                {"t": "third text here", "y": ["b"]}])
    cfg = load_config({"source": {"path": str(path), "text": "t", "labels": "y"}, "labels": {"single": True},
                       "export": {"out": "o"}}, base_dir=tmp_path)
    loaded = load_records(cfg.source, cfg.kind)
    frame, found = cfg.kind.prepare(loaded.frame)
    assert loaded.findings.is_empty()
    assert found.select("line", "rule").rows() == [(2, "multiple_labels")]


def test_nlupp_allow_empty_keeps_utterances_without_intent(tmp_path):
    result = curate.run({
        "source": {"path": str(DATA / "nlupp_hotels.jsonl"), "labels": "intents", "passthrough": ["fold"]},
        "labels": {"allow_empty": True}, "rules": [], "split": {"validation": 200, "seed": 1},
        "export": {"out": str(tmp_path / "out")},
    })
    counts = result.manifest["counts"]
    assert counts["rejected"] == 0 and counts["train"] + counts["valid"] == 1009
    lines = [json.loads(x) for f in ("train.jsonl", "valid.jsonl") for x in (tmp_path / "out" / f).open()]
    assert sum(x["reference_answer"] == [] for x in lines) == 274
    grader = json.loads((tmp_path / "out" / "grader.json").read_text())
    from curate.graders import LocalGrader

    empty = next(x for x in lines if x["reference_answer"] == [])
    with LocalGrader(grader, workers=0) as g:  # the default multilabel grader: an empty answer to an empty set
        assert g.grade(json.dumps({"labels": []}), empty).score == 1.0


def test_without_allow_empty_utterances_without_intent_are_rejected(tmp_path):
    result = curate.run({
        "source": {"path": str(DATA / "nlupp_hotels.jsonl"), "labels": "intents"}, "rules": [],
        "split": {"validation": 100, "seed": 1}, "export": {"out": str(tmp_path / "out")},
    })
    assert result.manifest["counts"]["rejected"] == 274


EXAMPLES = Path(__file__).parent.parent / "examples"


def test_medical_example_exports_the_source_answers_and_keeps_them_out_of_the_response_format(tmp_path):
    result = curate.run(EXAMPLES / "medical" / "pipeline.yaml", export__out=str(tmp_path / "out"))
    out = tmp_path / "out"
    source = {str(r["idx"]): r["Ground-True Answer"]
              for r in map(json.loads, (EXAMPLES / "medical" / "raw.jsonl").open(encoding="utf-8"))}
    lines = [json.loads(x) for f in ("train.jsonl", "valid.jsonl") for x in (out / f).open(encoding="utf-8")]
    assert len(lines) == result.manifest["counts"]["train"] + result.manifest["counts"]["valid"] >= 150
    assert all(x["reference_answer"] == source[x["id"]] for x in lines)  # the string itself, not a list
    fmt_text = (out / "response_format.json").read_text(encoding="utf-8")
    fmt = json.loads(fmt_text)
    assert fmt["json_schema"]["schema"]["properties"] == {"answer": {"type": "string"}}
    assert not any(json.dumps(answer)[1:-1] in fmt_text for answer in source.values() if len(answer) > 3)
    grader = json.loads((out / "grader.json").read_text(encoding="utf-8"))
    from curate.graders import LocalGrader

    with LocalGrader(grader, workers=0) as g:
        for item, other in zip(lines[:20], lines[20:40], strict=True):
            best = g.grade(json.dumps({"answer": item["reference_answer"]}), item).score
            empty = g.grade("", item).score
            wrong = g.grade(json.dumps({"answer": other["reference_answer"]}), item).score
            assert best == 1.0 and empty == 0.0 and wrong < best
    from curate.dryrun.outdir import AnswerFormat, load_items
    from curate.dryrun.selftest import self_test

    with LocalGrader(grader, workers=0) as g:  # curate dryrun's self-test, before any model is asked
        report = self_test(g, load_items(out, "train"), AnswerFormat.from_response_format(fmt))
    assert report["passed"], report["problems"]
    assert report["reference"]["checked"] == result.manifest["counts"]["train"]


def test_number_answers_one_value_in_many_spellings_and_different_values_differ(tmp_path):
    rows = [{"q": f"How many grams make a kilogram? (copy {i})", "a": a}
            for i, a in enumerate(["1,000", "1000", "1e3", 1000, "1000.0", "1001", " 1 000 "])]
    frame, found = load(tmp_path, rows, {"kind": "number"})
    assert found.is_empty()
    keys = frame.sort("line")["answer_norm"].to_list()
    assert keys == ["1000", "1000", "1000", "1000", "1000", "1001", "1000"]


def test_math_answers_half_and_a_fraction_are_one_answer(tmp_path):
    pytest.importorskip("math_verify")
    rows = [{"q": "What is one half? (a)", "a": "\\frac{1}{2}"}, {"q": "What is one half? (b)", "a": "0.5"},
            {"q": "What is one third?", "a": "\\frac{1}{3}"}]
    frame, found = load(tmp_path, rows, {"kind": "math"})
    keys = frame.sort("line")["answer_norm"].to_list()
    assert found.is_empty() and keys[0] == keys[1] != keys[2]
    assert frame.sort("line")["answer"].to_list() == ["\\frac{1}{2}", "0.5", "\\frac{1}{3}"]


def _split_ids(tmp_path: Path, seed: int, rows: list[dict], name: str) -> set[str]:
    result = curate.run({"source": {"path": str(write_jsonl(tmp_path / f"{name}.jsonl", rows)), "id": "k",
                                    "text": "q", "answer": "a"},
                         "rules": ["default"], "split": {"validation": 10, "seed": seed},
                         "export": {"out": str(tmp_path / f"out-{name}-{seed}")}})
    return set(result.bundle.splits["valid"]["id"].to_list())


def test_open_answer_split_without_category_is_seeded_and_keeps_near_duplicates_together(tmp_path):
    import random

    rng = random.Random(5)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda sigma omega tau rho".split()
    rows = [{"k": f"r{i}", "q": " ".join(rng.choice(words) for _ in range(30)), "a": f"answer {i}"} for i in range(60)]
    twins = [dict(rows[i], k=f"twin{i}", q=rows[i]["q"] + " indeed") for i in range(0, 60, 6)]  # near-duplicates
    rows += twins
    first, again, other = (_split_ids(tmp_path, s, rows, "a") for s in (1, 1, 2))
    assert first == again and first != other and len(first) == 10
    for chosen in (first, other):
        for twin in twins:
            original = twin["k"].replace("twin", "r")
            assert (twin["k"] in chosen) == (original in chosen)
    assert {int(k[1:]) for k in first if k.startswith("r")} != set(range(10))  # not simply the first rows


def test_plain_text_answers_without_a_response_format(tmp_path):
    result = curate.run(EXAMPLES / "medical" / "pipeline.yaml", export__out=str(tmp_path / "out"),
                        export__response_format=False)
    assert result.bundle.response_format is None
    assert not (tmp_path / "out" / "response_format.json").exists()
    assert (tmp_path / "out" / "grader.json").exists()
    item = json.loads((tmp_path / "out" / "train.jsonl").open(encoding="utf-8").readline())
    from curate.graders import LocalGrader

    with LocalGrader(json.loads((tmp_path / "out" / "grader.json").read_text()), workers=0) as g:
        assert g.grade(item["reference_answer"], item).score == 1.0  # the plain answer text scores the maximum


def test_balance_by_a_category_field_evens_the_categories(tmp_path):
    rows = [{"k": f"r{i}", "q": f"Question {i}: " + "lorem ipsum " * (i % 7 + 1) + f"tail {i * 7919 % 1000}",
             "a": f"answer {i}", "meta": {"area": "common" if i % 10 else "rare"}} for i in range(200)]
    result = curate.run({"source": {"path": str(write_jsonl(tmp_path / "raw.jsonl", rows)), "id": "k", "text": "q",
                                    "answer": "a"},
                         "rules": [], "balance": {"size": 40, "seed": 1, "by": "meta.area"},
                         "split": {"validation": 10, "seed": 1, "stratify": "meta.area"},
                         "export": {"out": str(tmp_path / "out")}})
    chosen = pl.concat([result.bundle.splits["train"], result.bundle.splits["valid"]], how="vertical_relaxed")
    assert chosen.height == 40
    assert result.manifest["labels"]["balanced"] == {"common": 20, "rare": 20}  # 20 of the 20 rare rows
    assert result.manifest["counts"]["unused"] == 160


def test_dotted_answer_paths_and_csv_number_answers(tmp_path):
    rows = [{"q": "How many grams in a kilogram?", "out": {"gold": "1,000"}},
            {"q": "How many metres in a kilometre?", "out": {"gold": 1000}},
            {"q": "A question with no gold answer?", "out": {}}]
    path = write_jsonl(tmp_path / "raw.jsonl", rows)
    cfg = load_config({"source": {"path": str(path), "text": "q", "answer": "out.gold"}, "answer": {"kind": "number"},
                       "export": {"out": "o"}}, base_dir=tmp_path)
    loaded = load_records(cfg.source, cfg.kind)
    frame, _ = cfg.kind.prepare(loaded.frame)
    assert frame["answer"].to_list() == ["1000", "1000"]
    assert loaded.findings.select("line", "rule", "field").rows() == [(3, "missing_field", "out.gold")]
    csv = tmp_path / "raw.csv"
    csv.write_text('question,gold\n"How many grams, then?","1,000"\nWhat is half?,1/2\nWhat is this?,many\n',
                   encoding="utf-8")
    cfg = load_config({"source": {"path": str(csv), "text": "question", "answer": "gold"}, "answer": {"kind": "number"},
                       "export": {"out": "o"}}, base_dir=tmp_path)
    frame, found = cfg.kind.prepare(load_records(cfg.source, cfg.kind).frame)
    assert frame["answer"].to_list() == ["1000", "0.5", None]
    assert found.select("line", "rule", "field").rows() == [(4, "unparseable_answer", "gold")]


def test_category_fields_that_cannot_be_categories_are_config_errors(tmp_path):
    rows = [{"q": f"Question number {i} here?", "a": f"answer {i}", "meta": {"x": i}} for i in range(20)]
    path = str(write_jsonl(tmp_path / "raw.jsonl", rows))
    with pytest.raises(ConfigError, match="'text' is a core column"):
        load_config({"source": {"path": path, "text": "q", "answer": "a"}, "split": {"validation": 2, "stratify": "text"},
                     "export": {"out": "o"}}, base_dir=tmp_path)
    with pytest.raises(ConfigError, match="category field 'meta' holds objects"):
        curate.run({"source": {"path": path, "text": "q", "answer": "a"}, "rules": [],
                    "split": {"validation": 2, "stratify": "meta"}, "export": {"out": str(tmp_path / "out")}})


def test_allow_empty_still_rejects_rows_whose_labels_are_all_unknown(tmp_path):
    (tmp_path / "vocab.csv").write_text("id,name\n1,one\n2,two\n", encoding="utf-8")
    path = write_jsonl(tmp_path / "raw.jsonl", [{"t": "first text", "y": ["1"]}, {"t": "second text", "y": []},
                                                {"t": "third text", "y": ["9"]}, {"t": "fourth text"}])
    cfg = load_config({"source": {"path": str(path), "text": "t", "labels": "y"},
                       "labels": {"vocabulary": "vocab.csv", "allow_empty": True}, "export": {"out": "o"}},
                      base_dir=tmp_path)
    loaded = load_records(cfg.source, cfg.kind)
    frame, found = cfg.kind.prepare(loaded.frame)
    assert loaded.findings.is_empty()
    assert frame.sort("line")["label_names"].to_list() == [["one"], [], [], []]
    assert sorted(found.select("line", "rule").rows()) == [(3, "no_labels"), (3, "unknown_label")]
