"""Rules on open answers, on hand-built frames with the frame contract's ``answer``/``answer_norm``."""

from __future__ import annotations

import polars as pl

from curate.kinds import get_kind
from curate.rules import RuleContext, evaluate_rules


def frame(texts: list[str], answers: list[str | None], kind: str) -> pl.DataFrame:
    """``answer``/``answer_norm`` as the kind reads them."""
    answer, norm, _ = get_kind(kind).canonical(pl.Series(answers, dtype=pl.String))
    n = len(texts)
    return pl.DataFrame({"line": range(1, n + 1), "id": [f"r{i}" for i in range(n)], "text": texts,
                         "label_names": [[]] * n, "answer": answer, "answer_norm": norm},
                        schema_overrides={"line": pl.Int64, "label_names": pl.List(pl.String)})


def run(f: pl.DataFrame, kind: str, packs) -> pl.DataFrame:
    return evaluate_rules(f, packs, context=RuleContext(kind=get_kind(kind))).findings


def rows(found: pl.DataFrame, rule: str) -> list[int]:
    return found.filter(pl.col("rule") == rule)["line"].to_list()


Q = "A 45-year-old man presents with fatigue, pallor and a low reticulocyte count. What is the diagnosis?"


def test_conflicts_on_changed_copies_reject_every_member_and_same_answers_keep_one():
    texts = [Q, "  " + Q.upper(), Q.replace(" ", "  "), Q, "Another question entirely about the kidneys?"]
    answers = ["Parvovirus B19 infection", "Iron deficiency", "parvovirus b19 infection.", "Parvovirus B19 infection", "IgA"]
    found = run(frame(texts, answers, "text"), "text", ["default"])
    assert rows(found, "answer_conflict") == [1, 2, 3, 4]
    assert set(found.filter(pl.col("rule") == "answer_conflict")["severity"]) == {"error"}
    # without the conflicting row, the copies are duplicates: the first is kept
    ok = run(frame([texts[i] for i in (0, 2, 3, 4)], [answers[i] for i in (0, 2, 3, 4)], "text"), "text", ["default"])
    assert not rows(ok, "answer_conflict")
    assert rows(ok, "duplicate") == [3] and rows(ok, "normalized_duplicate") == [2]
    # majority keeps the common answer
    majority = run(frame(texts, answers, "text"), "text", ["default", {"rule": "answer_conflict", "resolve": "majority"}])
    assert rows(majority, "answer_conflict") == [2]


def test_numbers_conflict_by_value():
    texts = ["What is the total amount due on the invoice?"] * 3 + ["How many items were shipped in total this month?"] * 2
    found = run(frame(texts, ["1,000", "1e3", "1000", "1000", "1001"], "number"), "number", ["default"])
    assert rows(found, "answer_conflict") == [4, 5]  # "1,000", "1e3" and "1000" are one answer


def test_answer_in_prompt_word_boundaries_short_answers_and_number_tokens():
    text = frame(
        ["Is this pneumonia or bronchitis? The answer is pneumonia.", "Diagnose: pneumonias are common.",
         "Answer yes or no: is it a fracture?", "A fracture of the radius was seen. Name it."],
        ["Pneumonia", "pneumonia", "yes", "Colles fracture"], "text")
    found = run(text, "text", [{"rule": "answer_in_prompt"}])
    assert rows(found, "answer_in_prompt") == [1, 3]  # whole words: "pneumonias" is not "pneumonia"
    assert rows(run(text, "text", [{"rule": "answer_in_prompt", "min_chars": 4}]), "answer_in_prompt") == [1]
    numbers = frame(["The invoice lists 1,250 euros. What is the total?", "Add 14 and 1250.", "Add 1250.5 to 3.",
                     "Is the part number 31250 or 125?", "What is 2+2? It is 4."], ["1250", "1250", "1250", "1250", "4"], "number")
    found = run(numbers, "number", [{"rule": "answer_in_prompt"}])
    # 1,250 reads as 1250; 1250.5 and 31250 are other numbers; "4" is too short to search
    assert rows(found, "answer_in_prompt") == [1, 2]


def test_yes_is_searched_at_three_characters():
    f = frame(["Answer yes or no: is it a fracture?"], ["yes"], "text")
    assert rows(run(f, "text", [{"rule": "answer_in_prompt"}]), "answer_in_prompt") == [1]
    assert rows(run(f, "text", [{"rule": "answer_in_prompt", "min_chars": 4}]), "answer_in_prompt") == []


def test_empty_overlong_and_unverifiable_answers():
    texts = [f"Question number {i} about a patient with symptoms." for i in range(30)]
    answers = [f"Diagnosis {i}" for i in range(28)] + ["", "This answer is a pasted paragraph. " * 20]
    found = run(frame(texts, answers, "text"), "text", ["default"])
    assert rows(found, "empty_answer") == [29] and rows(found, "overlong_answer") == [30]
    math = frame(["Compute one half.", "Simplify 2/4.", "Broken."], ["\\frac{1}{2}", "0.5", "\\frac{1}{"], "math")
    found = run(math, "math", ["default"])
    assert rows(found, "unverifiable_answer") == [3]
    assert not rows(found, "answer_conflict")  # \frac{1}{2} and 0.5 are one answer
    # the same rows read as text are never "unverifiable"
    assert not rows(run(math, "text", ["default"]), "unverifiable_answer")
