"""``curate check``'s fast paths give exactly the findings of the exact ones.

Clean lines are decoded by polars (:mod:`curate.check.fast`), every other line by Python's
``json``; long texts are normalised only where their ends repeat (:mod:`curate.check.norm`).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import polars as pl
import pytest

import curate.check
import curate.check.file
from curate.check import check_files
from curate.check.fast import clean_rows, layout, split_lines
from curate.check.norm import ENDS_CHARS, norm_ends, with_ends
from curate.rules.text import MOJIBAKE_PATTERN
from curate.rules.workspace import normalised_text

DATA = Path(__file__).parent / "data" / "rules_eurlex_sample.jsonl"


def texts() -> list[str]:
    """The real EUR-Lex texts, but for the two that are mis-decoded in the source data."""
    found = [json.loads(line)["text"] for line in DATA.read_text(encoding="utf-8").splitlines()]
    return [t for t in found if not re.search(MOJIBAKE_PATTERN, t)]


def row(i: int, text: str, **extra) -> dict:
    return {"id": f"act-{i}", "messages": [{"role": "developer", "content": "Classify the act."},
                                           {"role": "user", "content": text}],
            "reference_answer": ["trade", "law"] if i % 3 else ["energy"], **extra}


def tricky_lines() -> list[str | bytes]:
    """Clean lines with every tricky line the exact path must decide in between."""
    t = [x[:2000] for x in texts()]
    good = [json.dumps(row(i, t[i % len(t)])) for i in range(120)]
    odd: list[str | bytes] = [
        json.dumps(row(1, t[1]), separators=(",", ":")),  # compact, as polars writes
        json.dumps(row(2, t[2] + " caf\u00e9 \u2014 \u00a0done"), ensure_ascii=True),  # \\u escapes
        json.dumps(row(3, "Emoji \U0001F600 in an act about the import of apples")),  # raw 4-byte UTF-8
        json.dumps(row(4, "Emoji \U0001F600 in an act about the import of apples"), ensure_ascii=True),  # surrogate pair
        json.dumps(row(5, t[5])).replace("/", "\\/"),
        json.dumps({**row(6, t[6]), "id": 6}),
        json.dumps({**row(7, t[7]), "id": None}),
        json.dumps({**row(8, t[8]), "id": 1.5}),
        json.dumps({**row(9, t[9]), "id": True}),
        json.dumps({**row(10, t[10]), "id": 12345678901234567890123}),
        json.dumps({**row(11, t[11]), "id": -0.0}),
        json.dumps(row(12, t[12])) + "\r",  # CRLF
        "  " + json.dumps(row(13, t[13])) + " \t",
        "", "   ", "\x0c",
        "\ufeff" + json.dumps(row(14, t[14])),  # BOM
        json.dumps(row(15, t[15])).encode("utf-8")[:-40] + b"\xff\xfe" + json.dumps(row(15, t[15])).encode("utf-8")[-40:],
        json.dumps(row(16, t[16]))[:-10],  # truncated
        json.dumps(row(17, t[17])) + " x",  # trailing garbage
        json.dumps({**row(18, t[18]), "score": float("nan")}),
        json.dumps({**row(19, t[19]), "score": float("inf")}),
        json.dumps(row(20, t[20])).replace('{"id": "act-20"', '{"id": "act-20", "id": "other"'),  # duplicate key
        json.dumps({"messages": row(21, t[21])["messages"], "id": "act-21", "reference_answer": ["trade"]}),  # key order
        json.dumps({**row(22, t[22]), "messages": [{"role": "user", "content": t[22], "name": "x"}]}),
        json.dumps({**row(23, t[23]), "messages": [{"role": "user", "content": [{"type": "text", "text": t[23]}]}]}),
        json.dumps({**row(24, t[24]), "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": t[24]}]}),
        json.dumps({**row(25, t[25]), "messages": [{"role": "User", "content": t[25]}]}),
        json.dumps({**row(26, t[26]), "messages": [{"role": "user", "content": t[26]}, {"role": "assistant", "content": "trade"}]}),
        json.dumps({**row(27, t[27]), "messages": []}),
        json.dumps({**row(28, t[28]), "messages": "hello"}),
        json.dumps({**row(29, t[29]), "messages": [{"content": t[29], "role": "user"}]}),  # content first
        json.dumps({**row(30, t[30]), "messages": [{"role": "user", "content": 17}]}),
        json.dumps({**row(31, t[31]), "reference_answer": []}),
        json.dumps({**row(32, t[32]), "reference_answer": {"labels": ["trade"]}}),
        json.dumps({**row(33, t[33]), "reference_answer": ["trade", 3]}),
        json.dumps({**row(34, t[34]), "reference_answer": ["tr\x1fade", "\x1e"]}),
        json.dumps({**row(35, t[35]), "reference_answer": ["\x1e"]}),
        json.dumps({**row(36, t[36]), "extra": {"a": [1, {"b": 2}]}}),  # nested deeper than the grammar
        json.dumps({**row(37, t[37]), "extra": 1}),
        json.dumps(row(38, t[38])).replace("Classify", "Class\tify"),  # raw tab inside a string
        json.dumps(row(39, "Escaped NUL \u0000 and DEL \x7f and C1 \x85 in an act about apples")),
        json.dumps(row(40, "   ")),
        json.dumps(row(41, t[0])),  # duplicate text of line 1
        json.dumps(row(42, t[1].upper())),  # normalised duplicate
        json.dumps([1, 2]),
        "null",
        json.dumps(row(43, "Article " * 3000)),  # max_chars (strict), unusual_length (default)
    ]
    rng = random.Random(4)
    lines: list[str | bytes] = list(good)
    for line in odd:
        lines.insert(rng.randrange(5, len(lines)), line)
    return lines


def write(path: Path, lines: list[str | bytes]) -> Path:
    path.write_bytes(b"\n".join(x if isinstance(x, bytes) else x.encode("utf-8") for x in lines) + b"\n")
    return path


@pytest.fixture()
def exact_only(monkeypatch):
    """Every line through Python's json: no clean layout, so the fast path is off."""
    def use():
        monkeypatch.setattr(curate.check.file, "layout", lambda rows, ref_key: None)
    return use


@pytest.mark.parametrize("packs", [["default"], ["strict"]])
def test_fast_path_gives_the_exact_paths_findings(tmp_path, exact_only, packs):
    train = write(tmp_path / "train.jsonl", tricky_lines())
    valid = write(tmp_path / "valid.jsonl", tricky_lines()[::7])
    fast = check_files([train, valid], packs=packs)
    exact_only()
    exact = check_files([train, valid], packs=packs)
    assert fast.findings.equals(exact.findings) and fast.rows == exact.rows
    rules = set(fast.findings["rule"])
    assert {"malformed_json", "invalid_utf8", "not_an_object", "disallowed_role", "bad_message", "missing_messages",
            "last_message_not_user", "inconsistent_keys", "no_labels", "duplicate", "normalized_duplicate",
            "train_valid_overlap", "max_chars" if packs == ["strict"] else "unusual_length"} <= rules


def test_most_lines_of_a_clean_export_take_the_fast_path():
    lines = tricky_lines()
    lay = layout([json.loads(x) for x in lines[:5]], "reference_answer")
    text, _ = split_lines(b"\n".join(x if isinstance(x, bytes) else x.encode() for x in lines))
    part = clean_rows(text, 1, lay)
    assert part.rows == sum(1 for x in lines if x.strip()) and part.frame.height >= 130

    def line_of(marker: str) -> int:
        return next(i for i, x in enumerate(lines, 1) if isinstance(x, str) and marker in x)

    # what the exact path decides: a surrogate pair, ids that are not strings or small ints, a
    # duplicate key, NaN, a BOM, another key order, message objects with other keys or content
    for marker in ("\\ud83d", '"id": 1.5', '"id": true', '"id": 12345678901234567890123', '"id": "other"', "NaN",
                   "\ufeff", '{"messages"', '"name": "x"', '"type": "text"', '"role": "system"', "Class\tify"):
        assert line_of(marker) in part.slow, marker
    # and what the fast path decodes like Python: escapes, compact separators, CRLF, null ids
    for marker in ("\\u00e9", '"id":"act-1"', "\\/", '"id": null', '"id": 6,', '[{"content"'):
        assert line_of(marker) not in part.slow, marker
    crlf = next(i for i, x in enumerate(lines, 1) if isinstance(x, str) and x.endswith("\r"))
    assert crlf not in part.slow


def test_one_malformed_line_in_the_middle(tmp_path, exact_only, capsys):
    t = texts()
    lines = [json.dumps(row(i, t[i % len(t)] + f" Reference {i}.")) for i in range(400)]
    lines[200] = lines[200][:-30]
    path = write(tmp_path / "train.jsonl", lines)
    assert curate.check.main([str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith(f"{path}:201: malformed_json: line is not valid JSON: ")
    fast = check_files([path]).findings
    exact_only()
    assert fast.equals(check_files([path]).findings)


def test_a_chunk_polars_cannot_decode_goes_the_exact_way(tmp_path, monkeypatch):
    path = write(tmp_path / "train.jsonl", tricky_lines())
    expected = check_files([path]).findings

    def refuse(*args, **kwargs):
        raise pl.exceptions.ComputeError("refused")

    monkeypatch.setattr(curate.check.fast, "_clean_rows", refuse)
    assert check_files([path]).findings.equals(expected)


def test_ends_of_long_texts_normalise_like_the_whole_text():
    rng = random.Random(2)
    pool = list("abcXYZ019 .,;'-") + ["  ", "\n", "\t", "\u00a0", "\u3000", "ΣσςΑΩ", "ÀéßÿЖя", "\u0301", "ﬁ", "Ｆ", "…", "µ",
                                        "²", "İ", "\u1100\u1161", "\uac00\u11a8", "\x00", "\x85", "🍎"]
    samples = ["".join(rng.choice(pool) for _ in range(rng.choice([0, 10, 500, 767, 768, 769, 900, 2000])))
               for _ in range(3000)]
    for k in range(250, 262):  # a capital sigma right at a cut, and whitespace filling an end
        samples.append("A" * k + "Σ" + "." * 40 + "Β" * 900)
        samples.append("Β" * 900 + "Α'" + "Σ" + "Γ" * k)
        samples.append(" " * (k + 300) + "word " * 200)
    s = pl.Series(samples, dtype=pl.String)
    got = norm_ends(s)
    full = normalised_text(s)
    assert got["norm"].null_count() > 200  # long texts cut before an ASCII character
    assert (got["norm"].is_null() | (got["norm"] == full)).all()
    folded = full.str.replace_all("ς", "σ", literal=True)
    want = folded.str.slice(0, ENDS_CHARS) + "\n" + folded.str.slice(-ENDS_CHARS)
    assert with_ends(got["norm"], got["ends"]).equals(want.alias("ends"))


def test_normalised_duplicates_of_long_texts_need_only_their_ends(tmp_path, monkeypatch):
    long = [x for x in texts() if len(x) > 3000][:30]
    train, valid = [], []
    for i, t in enumerate(long):
        mid = len(t) // 2
        train.append(row(i, t))
        train.append(row(100 + i, [t[:mid] + "  " + t[mid:],  # whitespace in the middle: duplicate
                                   t[:mid] + t[mid:mid + 40].upper() + t[mid + 40:],  # case in the middle: duplicate
                                   t[:mid] + "ﬁ" + t[mid:],  # same ends, other text
                                   t[:mid] + "x" + t[mid:]][i % 4]))
        if i % 3 == 0:
            valid.append(row(200 + i, t[:mid] + "\u00a0" + t[mid:]))  # overlaps after normalisation
        if i % 3 == 1:
            valid.append(row(300 + i, t[:mid] + "fi" + t[mid:]))
    paths = [write(tmp_path / "train.jsonl", [json.dumps(r) for r in train]),
             write(tmp_path / "valid.jsonl", [json.dumps(r) for r in valid])]
    lazy = check_files(paths).findings
    monkeypatch.setattr(curate.check, "_groups_on_norm_only", lambda rules: False)
    assert lazy.equals(check_files(paths).findings)
    counts = lazy.group_by("rule").len()
    assert set(counts["rule"]) >= {"normalized_duplicate", "label_conflict", "train_valid_overlap"}
