"""``curate check`` on hostile files (issue 13: D5, D21, D22): findings on the line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

from curate.check import FORMAT_RULES, check_files, main


def row(i: int, **extra) -> str:
    return json.dumps({"id": f"r{i}", "messages": [{"role": "user", "content": f"Classify document number {i} of the set."}],
                       "reference_answer": ["trade"], **extra})


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def rules_by_line(path: Path) -> dict[int, set[str]]:
    out: dict[int, set[str]] = {}
    for line, rule in check_files([path]).findings.select("line", "rule").rows():
        out.setdefault(line, set()).add(rule)
    return out


def test_nan_and_infinity_are_malformed(tmp_path, capsys):  # D22
    lines = [row(i) for i in range(1, 6)]
    lines[1] = row(2)[:-1] + ', "score": NaN}'
    lines[3] = row(4)[:-1] + ', "s": [Infinity]}'
    path = write(tmp_path / "x_train.jsonl", lines)
    found = rules_by_line(path)
    assert found.get(2) == {"malformed_json"} and found.get(4) == {"malformed_json"}
    assert 1 not in found and 3 not in found
    assert main([str(path)]) == 1
    assert "NaN" in capsys.readouterr().out


def test_deep_nesting_is_a_finding_not_a_recursion_error(tmp_path, capsys):  # D5
    lines = [row(i) for i in range(1, 4)]
    lines[1] = row(2)[:-1] + ', "n": ' + "[" * 3000 + "]" * 3000 + "}"
    path = write(tmp_path / "x_train.jsonl", lines)
    assert rules_by_line(path).get(2) == {"malformed_json"}
    assert main([str(path)]) == 1
    assert "deeper than" in capsys.readouterr().out


def test_repeated_keys_read_as_the_loader_reads_them_and_are_flagged(tmp_path):  # D21
    dup = row(2).replace('"messages"', '"messages": [], "messages"', 1)  # first value: an empty list
    assert json.loads(dup)["messages"]  # Python's json keeps the last (non-empty) value
    role = row(3).replace('"role": "user"', '"role": "system", "role": "user"')
    path = write(tmp_path / "x_train.jsonl", [row(1), dup, role, row(4)])
    result = check_files([path])
    assert rules_by_line(path) == {2: {"duplicate_key"}, 3: {"duplicate_key"}}
    assert "'messages' appears twice" in result.findings.filter(result.findings["line"] == 2)["message"].item()
    assert result.rows[str(path)] == 2 and "duplicate_key" in FORMAT_RULES
    # a repeat inside a value the check never reads is left alone (the fast path cannot see it)
    inner = row(5, meta={"a": 1}).replace('"a": 1', '"a": 1, "a": 2')
    plain = row(1, meta={"a": 0})
    assert rules_by_line(write(tmp_path / "y_train.jsonl", [plain, inner])) == {}


def test_a_bom_is_not_part_of_line_one(tmp_path):  # D14, as the loader reads it
    path = tmp_path / "x_train.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join([row(1), row(2)]).encode() + b"\n")
    assert rules_by_line(path) == {}
    assert check_files([path]).rows[str(path)] == 2
