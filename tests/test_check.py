"""``curate check`` on real exported files: format rules, row rules, overlap, Parquet, CLI parity."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from curate.check import FORMAT_RULES, check_files, format_findings, main

DATA = Path(__file__).parent / "data" / "rules_eurlex_sample.jsonl"
DEVELOPER = "Classify the EUR-Lex act into its EuroVoc level-1 domains. Answer with JSON."
# real rows whose text is mis-decoded in the source data (UTF-8 read as Latin-2): not clean
KNOWN_BAD = {"31983D0173", "31986R0882"}  # "SĂ¨vres", "Castile-LĂŠon"


def real_rows() -> list[dict]:
    return [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines()]


def export_row(r: dict) -> dict:
    return {
        "id": r["celex_id"],
        "messages": [{"role": "developer", "content": DEVELOPER}, {"role": "user", "content": r["text"]}],
        "reference_answer": sorted(r["level_1_en"]),
    }


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture()
def export(tmp_path):
    rows = [export_row(r) for r in real_rows() if r["celex_id"] not in KNOWN_BAD]
    train = write_jsonl(tmp_path / "train.jsonl", rows[:150])
    valid = write_jsonl(tmp_path / "valid.jsonl", rows[150:190])
    return train, valid, rows


def test_clean_real_export_passes(export, capsys):
    train, valid, _ = export
    assert main([str(train), str(valid), "--no-warnings"]) == 0
    assert capsys.readouterr().out == ""


def test_the_real_mis_decoded_row_is_caught(tmp_path, capsys):
    rows = [export_row(r) for r in real_rows()[:30]]
    path = write_jsonl(tmp_path / "train.jsonl", rows)
    assert main([str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{path}:26: mojibake: text looks mis-decoded (UTF-8 read as cp1252/latin-1, or U+FFFD replacement characters)"]


def test_each_format_defect_is_reported_with_path_line_rule(export, capsys):
    train, _, rows = export
    good = rows[0]
    r = rows  # each defect on a different real row, so only the planted defect can fire
    broken = [
        good,
        '{"messages": [',  # 2 malformed
        json.dumps([1, 2]),  # 3 not an object
        {"id": "n1", "reference_answer": ["trade"]},  # 4 no messages (and inconsistent keys)
        {**r[5], "messages": [{"role": "system", "content": "Be brief."}, r[5]["messages"][1]]},  # 5
        {**r[6], "messages": r[6]["messages"] + [{"role": "assistant", "content": "trade"}]},  # 6
        {**r[7], "extra": 1},  # 7 inconsistent keys
        {**r[8], "reference_answer": []},  # 8 no labels
        {**r[9], "messages": [{"role": "user"}]},  # 9 bad message
    ]
    path = write_jsonl(train.parent / "train_defects.jsonl", broken)
    with path.open("ab") as fh:
        fh.write(b'{"id": "\xff"}\n')  # 10 invalid utf-8
    assert main([str(path)]) == 1
    out = capsys.readouterr().out
    for line, rule in [(2, "malformed_json"), (3, "not_an_object"), (4, "missing_messages"), (4, "inconsistent_keys"),
                       (5, "disallowed_role"), (6, "last_message_not_user"), (7, "inconsistent_keys"),
                       (8, "no_labels"), (9, "bad_message"), (10, "invalid_utf8")]:
        assert f"{path}:{line}: {rule}: " in out, (line, rule, out)
    assert "use 'developer'" in out and "extra extra" in out
    assert f"{path}:1:" not in out  # the good row stays clean


def test_findings_table_and_rules_catalogue(export):
    train, _, rows = export
    path = write_jsonl(train.parent / "x_train.jsonl", [rows[0], rows[0]])
    result = check_files([path])
    assert result.findings.columns == ["path", "line", "id", "rule", "severity", "field", "value", "message", "partner"]
    assert result.findings["partner"].to_list() == [1]  # the duplicate points at its first copy
    assert result.findings.select("line", "rule").rows() == [(2, "duplicate")]
    assert result.errors == 1 and result.rows == {str(path): 2}
    assert all(sev in ("error", "warn") for sev, _ in FORMAT_RULES.values())


def test_train_valid_overlap_exact_and_near(export, capsys):
    train, _, rows = export
    leaked = dict(rows[3])
    leaked["messages"] = [leaked["messages"][0], {"role": "user", "content": "  " + rows[3]["messages"][1]["content"].upper()}]
    words = rows[7]["messages"][1]["content"].split(" ")
    words[10] += "s"
    near = {**rows[7], "messages": [rows[7]["messages"][0], {"role": "user", "content": " ".join(words)}]}
    valid = write_jsonl(train.parent / "valid.jsonl", [rows[160], leaked, near])
    assert main([str(train), str(valid)]) == 1
    out = capsys.readouterr().out
    assert f"{valid}:2: train_valid_overlap: same input as train.jsonl:4 (after normalisation)" in out
    assert f"{valid}:3:" not in out
    assert main([str(train), str(valid), "--near"]) == 1
    out = capsys.readouterr().out
    assert f"{valid}:3: train_valid_overlap: near-duplicate (Jaccard" in out and "of train.jsonl:8" in out
    # without a validation file there is nothing to compare
    assert "train_valid_overlap" not in "\n".join(format_findings(check_files([train]).findings))


def test_parquet_gives_the_same_findings(export, tmp_path):
    train, _, rows = export
    bad = [rows[0], {**rows[1], "messages": [{"role": "system", "content": "x"}, rows[1]["messages"][1]]}, rows[0]]
    jsonl = write_jsonl(tmp_path / "a_train.jsonl", bad)
    parquet = tmp_path / "a_train.parquet"
    pl.DataFrame(bad).write_parquet(parquet)
    a = check_files([jsonl]).findings.drop("path")
    b = check_files([parquet]).findings.drop("path")
    assert a.equals(b) and a.height >= 2


def test_file_level_limits(tmp_path, capsys):
    row = {"messages": [{"role": "user", "content": "Regulation on the import of apples, number {}"}], "reference_answer": ["trade"]}
    rows = [{**row, "messages": [{"role": "user", "content": row["messages"][0]["content"].format(i)}]} for i in range(1001)]
    valid = write_jsonl(tmp_path / "valid.jsonl", rows)
    empty = tmp_path / "train.jsonl"
    empty.write_text("")
    assert main([str(valid), str(empty)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"{valid}: too_many_rows: 1001 rows; valid files accept at most 1,000" in out
    assert f"{empty}: empty_file: file has no rows" in out


def test_response_format_next_to_the_file_checks_answers(export):
    train, _, rows = export
    (train.parent / "response_format.json").write_text(json.dumps({"type": "json_schema", "json_schema": {
        "name": "d", "strict": True, "schema": {"type": "object", "properties": {"labels": {
            "type": "array", "items": {"type": "string", "enum": ["trade", "finance"]}}}}}}))
    found = check_files([train]).findings
    flagged = found.filter(pl.col("rule") == "answer_schema")
    expected = {i for i, row in enumerate(rows[:150], 1) if set(row["reference_answer"]) - {"trade", "finance"}}
    assert set(flagged["line"]) == expected and 0 < len(expected) < 150
    first = flagged.row(0, named=True)
    outside = sorted(set(rows[first["line"] - 1]["reference_answer"]) - {"trade", "finance"})
    assert first["value"].startswith(outside[0])


def test_cli_command_and_module_share_one_path(export):
    from typer.testing import CliRunner

    from curate.cli import app

    train, _, rows = export
    path = write_jsonl(train.parent / "cli_train.jsonl", [rows[0], rows[0], {"messages": []}])
    result = CliRunner().invoke(app, ["check", str(path)])
    assert result.exit_code == 1
    module = subprocess.run([sys.executable, "-m", "curate.check", str(path)], capture_output=True, text=True)
    assert module.returncode == 1
    assert module.stdout == result.output
    assert f"{path}:2: duplicate: same text and labels as line 1" in module.stdout
    bad_pack = subprocess.run([sys.executable, "-m", "curate.check", str(path), "--rules", "nope"], capture_output=True, text=True)
    assert bad_pack.returncode == 2 and "unknown rule pack 'nope'" in bad_pack.stderr


def test_chunked_reading_matches_reading_the_whole_file(tmp_path):
    from curate.check.read import _read_jsonl, iter_export

    pieces = ['{"a": 1}', "", "   ", "[1]", "{bad", '{"b": "x"}', '{"c": [1, 2]}']
    for tail in ("", "\n", "\n\n"):
        data = "\n".join(pieces * 3) + tail
        path = tmp_path / "x.jsonl"
        path.write_text(data)
        whole = _read_jsonl(data.encode())
        for size in (1, 2, 5, 7, 30, 10**6):
            assert [row for chunk in iter_export(path, size) for row in chunk] == whole, (tail, size)


def test_findings_do_not_depend_on_the_chunk_size(export, monkeypatch):
    import curate.check.read as read

    train, valid, rows = export
    mixed = [rows[0], rows[0], '{"messages": [', {**rows[2], "reference_answer": []}, *rows[3:150]]
    path = write_jsonl(train.parent / "chunks_train.jsonl", mixed)
    default = check_files([path, valid]).findings
    monkeypatch.setattr(read, "CHUNK_BYTES", 700)
    small = check_files([path, valid]).findings
    assert small.equals(default) and default.height >= 3


def test_console_script_runs_check_without_typer(export):
    train, _, rows = export
    path = write_jsonl(train.parent / "fast_train.jsonl", [rows[0], rows[0]])
    code = (
        "import sys\n"
        f"sys.argv = ['curate', 'check', {str(path)!r}, '--rules', 'default', '--no-warnings']\n"
        "from curate.cli import main\n"
        "try:\n    main()\n"
        "except SystemExit as exc:\n    print('typer loaded:', 'typer' in sys.modules, 'exit:', exc.code)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.splitlines() == [f"{path}:2: duplicate: same text and labels as line 1", "typer loaded: False exit: 1"]
    # anything else (help, usage errors) still goes through typer
    from curate.cli import plain_check

    assert plain_check(["check", str(path), "--near", "--quiet", "--rules=strict"])
    assert not any(plain_check(a) for a in (["check"], ["check", "--help"], ["check", "x", "--rules"], ["check", "x", "-v"], ["run", "x"]))


def test_lone_surrogate_escape_is_a_finding_not_a_crash(export, tmp_path, capsys):
    _, _, rows = export
    lone = json.dumps(rows[1]).replace('"content": "', '"content": "\\ud800 ', 1)  # ensure_ascii keeps the escape
    pair = json.dumps({**rows[2], "id": "emoji"}).replace('"content": "', '"content": "\\ud83d\\ude00 ', 1)
    path = write_jsonl(tmp_path / "train.jsonl", [rows[0], lone, pair, *rows[3:20]])
    assert main([str(path), "--no-warnings"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{path}:2: invalid_utf8: line holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), "
                   "which is not valid Unicode"]
