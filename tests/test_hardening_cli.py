"""Issue 13, configuration and command-line findings: one line, the right exit code, no traceback.

Each test names the finding of ``hardening-findings.md`` it pins (D13, D17, D26, D27, D29, and the
top-level guard for genuine bugs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curate.cli.guard import EXIT_BUG, guarded

SECRET = "sk-TEST-SECRET-0123456789"


def curate(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=120)


def one_line_error(done: subprocess.CompletedProcess, code: int = 2) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    rows = [{"id": f"r{i}", "text": f"document number {i} about topic {i % 3} with enough words",
             "labels": [f"t{i % 3}"]} for i in range(30)]
    (tmp_path / "raw.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return tmp_path


def write_pipeline(folder: Path, extra: str = "", export: str = "out: out") -> Path:
    path = folder / "p.yaml"
    path.write_text(f"source: {{path: raw.jsonl, id: id}}\nrules: []\nsplit: {{validation: 6}}\n"
                    f"export: {{{export}}}\n{extra}")
    return path


# D13: the report section is checked; YAML alias expansion is bounded


def test_report_section_is_checked_and_used(project):
    write_pipeline(project, "report: {titel: x}\n")
    line = one_line_error(curate("run", str(project / "p.yaml"), "-q"))
    assert "unknown option 'titel' for report" in line and "p.yaml" in line
    write_pipeline(project, "report: {examples: many}\n")
    assert "'examples' parameter of report must be an int" in one_line_error(curate("run", str(project / "p.yaml")))
    write_pipeline(project, "report: [1, 2]\n")
    assert "'report' section must be a mapping" in one_line_error(curate("run", str(project / "p.yaml")))
    write_pipeline(project, "report: {title: Triage <set>, examples: 0}\n")
    done = curate("run", str(project / "p.yaml"), "-q")
    assert done.returncode == 0, done.stderr
    page = (project / "out" / "report.html").read_text()
    assert "<h1>Triage &lt;set&gt;</h1>" in page and "Examples of" not in page


def alias_bomb(levels: int) -> str:
    lines = ["report:", "  x0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, levels):
        refs = ", ".join([f"*a{i - 1}"] * 9)
        lines.append(f"  x{i}: &a{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_a_yaml_alias_bomb_is_refused_before_any_work(project):
    write_pipeline(project, alias_bomb(7))
    assert len((project / "p.yaml").read_text()) < 1000
    line = one_line_error(curate("run", str(project / "p.yaml")))  # the bomb is 4.8e6 values
    assert "expands to more than 100000 values" in line and "p.yaml" in line
    assert not (project / "out").exists()


def test_a_recursive_alias_is_refused(project):
    write_pipeline(project, "report: {title: &t [*t]}\n")
    assert "nested more than" in one_line_error(curate("run", str(project / "p.yaml")))


def test_aliases_within_limits_still_work(project):
    write_pipeline(project, "report: {title: &t my title}\nsplit: {validation: 6, seed: 3}\n")
    (project / "p.yaml").write_text((project / "p.yaml").read_text().replace("split: {validation: 6}\n", ""))
    done = curate("run", str(project / "p.yaml"), "-q")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((project / "out" / "manifest.json").read_text())
    assert manifest["config"]["report"] == {"title": "my title"} and manifest["config"]["split"]["seed"] == 3


def test_set_values_and_mappings_are_bounded_too(project):
    write_pipeline(project)
    nested = "[" * 200 + "]" * 200
    line = one_line_error(curate("run", str(project / "p.yaml"), "--set", f"report.x={nested}"))
    assert line.startswith("error: --set report.x: the configuration is nested more than 64 levels")
    from curate.config import load_config
    from curate.errors import ConfigError

    shared = [[["x"] * 100] * 100] * 100  # a million values, built from three small lists
    with pytest.raises(ConfigError, match="expands to more than 100000 values"):
        load_config({"source": {"path": "raw.jsonl"}, "export": {"out": "out"}, "report": {"x": shared}})


# D17: more configuration mistakes that used to give a traceback


def test_pipeline_yaml_with_invalid_utf8(project):
    (project / "p.yaml").write_bytes(b"source: {path: raw.jsonl}\nexport: {out: \xe9t\xe9}\n")
    line = one_line_error(curate("run", str(project / "p.yaml")))
    assert line == f"error: {project / 'p.yaml'}:2: the pipeline file is not valid UTF-8 (byte 0xe9 at offset 40)"


def test_template_file_with_invalid_utf8(project):
    (project / "dev.md").write_bytes(b"Pick labels \xff from {{ label_names }}\n")
    write_pipeline(project, export="out: out, developer: dev.md")
    line = one_line_error(curate("run", str(project / "p.yaml")))
    assert "dev.md:1: the template file is not valid UTF-8" in line


def test_pipeline_path_is_a_folder(project):
    line = one_line_error(curate("run", str(project)))
    assert line == f"error: {project}: is a folder, not a pipeline file"


@pytest.mark.parametrize("value", ["'||'", "''", "'\"'"])
def test_csv_delimiter_must_be_one_character(project, value):
    (project / "p.yaml").write_text(f"source: {{path: raw.jsonl, delimiter: {value}}}\nexport: {{out: out}}\n")
    assert "'delimiter' parameter of source must be one character" in one_line_error(curate("run", str(project / "p.yaml")))


def test_empty_labels_sep_is_refused(project):
    (project / "p.yaml").write_text("source: {path: raw.jsonl, labels_sep: ''}\nexport: {out: out}\n")
    assert "'labels_sep' parameter of source" in one_line_error(curate("run", str(project / "p.yaml")))


def test_negative_seed_is_a_config_error(project):
    write_pipeline(project)
    line = one_line_error(curate("run", str(project / "p.yaml"), "--set", "split.seed=-1"))
    assert "The 'seed' parameter of split must be an int in the range [0, inf). Got -1 instead." in line
    (project / "b.yaml").write_text("source: {path: raw.jsonl}\nbalance: {size: 10, seed: -3}\nexport: {out: out}\n")
    assert "'seed' parameter of balance" in one_line_error(curate("run", str(project / "b.yaml")))


# D27: a YAML syntax error is one line, file:line:col


def test_yaml_syntax_error_is_one_line_with_position(project):
    (project / "p.yaml").write_text("source: {path: raw.jsonl\nexport: [\n")
    line = one_line_error(curate("run", str(project / "p.yaml")))
    assert line == f"error: {project / 'p.yaml'}:2:7: not valid YAML: expected ',' or '}}', but got ':'"


def test_rule_pack_yaml_errors_are_one_line(project):
    (project / "pack.yaml").write_text("rules:\n  - {rule: max_chars, max: [\n")
    (project / "p.yaml").write_text("source: {path: raw.jsonl}\nrules: [pack.yaml]\nexport: {out: out}\n")
    line = one_line_error(curate("run", str(project / "p.yaml")))
    assert "pack.yaml:3:1: not valid YAML" in line


# D26: curate grade usage errors exit 2; curate check says what a non-file is


def test_grade_usage_and_config_errors_exit_2(project):
    (project / "item.json").write_text('{"reference_answer": ["a"]}')
    line = one_line_error(curate("grade", "--grader", str(project / "nope.json"), "--item",
                                 str(project / "item.json"), "--text", "x"))
    assert "nope.json: grader file does not exist" in line
    (project / "bad.json").write_text("{not json")
    assert "not valid JSON" in one_line_error(curate("grade", "-g", str(project / "bad.json"), "-i",
                                                     str(project / "item.json"), "-t", "x"))
    assert "is a folder" in one_line_error(curate("grade", "-g", str(project), "-i", str(project / "item.json"),
                                                  "-t", "x"))


@pytest.mark.parametrize("content, message", [
    (None, "{path}: {what} does not exist"),
    ("folder", "{path}: is a folder, not a {what}"),
    (b'{"a": "\xff"}', "{path}:1: the {what} is not valid UTF-8 (byte 0xff at offset 7)"),
    ('{\n  "type": "python",\n  "name" "x"\n}', "{path}:3: the {what} is not valid JSON: Expecting ':' delimiter"),
    ('{"type": "python", "weight": NaN}', "{path}: the {what} holds NaN, which is not valid JSON"),
    ("[" * 70 + "]" * 70, "{path}: the {what} nests deeper than 64 levels"),
])
def test_json_config_files_are_read_one_way(tmp_path, content, message):
    """The grader file (CLI and export.grader) and answer.schema share one reader: one line each."""
    from curate.errors import ConfigError
    from curate.graders import build_grader
    from curate.kinds import get_kind
    from curate.yaml_safe import read_json

    path = tmp_path / "g.json"
    if content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    for prefix, what, read in [
        ("", "grader file", lambda: read_json(path, "grader file")),
        ("export.grader: ", "grader file", lambda: build_grader({"path": "g.json"}, base_dir=tmp_path)),
        ("answer: schema: ", "JSON schema file",
         lambda: get_kind("json", {"schema": "g.json"}, base_dir=tmp_path, where="answer: ").schema),
    ]:
        with pytest.raises(ConfigError) as err:
            read()
        assert str(err.value).startswith(prefix + message.format(path=path, what=what)), str(err.value)
        assert "\n" not in str(err.value)
    if content is None:  # the command line says the same, exit 2
        (tmp_path / "item.json").write_text('{"reference_answer": ["a"]}')
        line = one_line_error(curate("grade", "-g", str(path), "-i", str(tmp_path / "item.json"), "-t", "x"))
        assert line == f"error: {path}: grader file does not exist"


def test_check_names_folders_and_devices(project):
    done = curate("check", str(project))
    assert done.returncode == 1 and f"{project}: not_a_file: is a folder, not a file" in done.stdout + done.stderr
    done = curate("check", "/dev/null")
    assert done.returncode == 1 and "/dev/null: not_a_file: is not a regular file" in done.stdout + done.stderr
    done = curate("check", str(project / "missing.jsonl"))
    assert done.returncode == 1 and "missing_file: file does not exist" in done.stdout + done.stderr


# D29: a key pasted into api_key_env is refused and written nowhere


def test_a_key_in_api_key_env_is_refused_and_never_written(project):
    write_pipeline(project, f"dryrun: {{model: m, base_url: 'http://127.0.0.1:9/v1', api_key_env: {SECRET}}}\n")
    line = one_line_error(curate("run", str(project / "p.yaml")))
    assert "'api_key_env' parameter of dryrun must be the name of an environment variable" in line
    assert SECRET not in line
    assert not (project / "out").exists()
    write_pipeline(project)
    assert curate("run", str(project / "p.yaml"), "-q").returncode == 0
    done = curate("dryrun", str(project / "out"), "--model", "m", "--api-key-env", SECRET,
                  "--base-url", "http://127.0.0.1:9/v1")
    assert done.returncode == 2 and SECRET not in done.stderr + done.stdout
    for path in (project / "out").rglob("*"):
        assert not path.is_file() or SECRET.encode() not in path.read_bytes(), path


# the top-level guard: a genuine bug is one line and a saved traceback, never a traceback on screen


def test_a_genuine_bug_prints_one_line_and_saves_the_traceback(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CURATE_CRASH_DIR", str(tmp_path / "crashes"))
    monkeypatch.setenv("MY_API_KEY", SECRET)

    def buggy() -> int:
        raise ZeroDivisionError(f"boom near {SECRET}")

    assert guarded(buggy) == EXIT_BUG
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("curate: internal error (ZeroDivisionError: boom near ***)")
    saved = Path(err.split("the traceback is in ")[1].split(";")[0])
    text = saved.read_text()
    assert "Traceback (most recent call last)" in text and "buggy" in text and SECRET not in text
    assert saved.stat().st_mode & 0o077 == 0


def test_every_subcommand_runs_under_the_guard(project, tmp_path):
    write_pipeline(project)
    code = ("import sys, curate.pipeline as p\n"
            "def broken(self): raise KeyError('unexpected')\n"
            "p.Pipeline.run = broken\n"
            f"sys.argv = ['curate', 'run', {str(project / 'p.yaml')!r}]\n"
            "from curate.cli import main\nmain()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "CURATE_CRASH_DIR": str(tmp_path / "c")})
    line = one_line_error(done, EXIT_BUG)
    assert "internal error (KeyError: 'unexpected')" in line and str(tmp_path / "c") in line


def test_os_errors_are_one_line_exit_2(tmp_path, capsys):
    def unreadable() -> int:
        open(tmp_path / "nope" / "x.txt")  # noqa: SIM115
        return 0

    assert guarded(unreadable) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope' / 'x.txt'}: No such file or directory\n"


# D17: template rendering is bounded: a clear error after bounded work, never a MemoryError


@pytest.mark.parametrize("body", [
    "{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{{ 'x' * 10000000000 }}",
    "{% set ns = namespace(s='abcdefgh') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
    "{{ label_names | join('y' * 100000) * 100 }}",
])
def test_runaway_developer_template_is_a_config_error(project, body):
    (project / "dev.md").write_text(body + "\n")
    write_pipeline(project, export="out: out, developer: dev.md")
    line = one_line_error(curate("run", str(project / "p.yaml"), "-q"))
    assert line.startswith("error: developer prompt: ") and "refused" in line
    assert not (project / "out").exists()


def test_runaway_user_template_is_a_config_error(project):
    write_pipeline(project, export="out: out, user: '{% for i in range(100000) %}{% for j in range(100) %}{{ text }}{% endfor %}{% endfor %}'")
    line = one_line_error(curate("run", str(project / "p.yaml"), "-q"))
    assert line.startswith("error: user template: ") and "refused" in line


def test_templates_with_loops_within_limits_render_as_before(project):
    dev = "Labels:{% for name in label_names %} {{ loop.index }}={{ name ~ '!' }}{% endfor %} {{ 'ab' * 2 }}"
    (project / "dev.md").write_text(dev)
    write_pipeline(project, export="out: out, developer: dev.md, user: '{% if id %}{{ id }}: {% endif %}{{ text }}'")
    done = curate("run", str(project / "p.yaml"), "-q")
    assert done.returncode == 0, done.stderr
    first = json.loads((project / "out" / "train.jsonl").read_text().splitlines()[0])
    assert first["messages"][0]["content"] == "Labels: 1=t0! 2=t1! 3=t2! abab"
    assert first["messages"][1]["content"].startswith(first["id"] + ": document number")
