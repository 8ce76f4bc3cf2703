"""Fuzz ``curate run`` end to end with hostile sources and hostile configs (issue 13).

Runs go through the CLI entry point in-process (``curate.cli.main``), as a user's would: the only
way out is an exit code (0 done, 1 a gate said no, 2 an input or config error with one line on
stderr), never an exception. A run that finishes accounts for every row of the source exactly once
in its ledger, and a rerun writes byte-identical files. A few runs go through a real subprocess to
check stderr carries no traceback. Derandomized and bounded for CI.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest
import yaml
from fuzz_sources import Source, any_source, csv_sources, jsonl_sources
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from curate.frame import DISPOSITIONS

FUZZ = settings(deadline=None, derandomize=True, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example])


def cli(argv: list[str]) -> tuple[int, str]:
    """``curate ARGV`` in this process: (exit code, stderr)."""
    from curate.cli import main

    err = io.StringIO()
    old = sys.argv
    sys.argv = ["curate", *argv]
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    finally:
        sys.argv = old
    return code, err.getvalue()


def write_pipeline(folder: Path, source: Source, **sections) -> Path:
    (folder / source.name).write_bytes(source.data)
    config = {"source": {"path": source.name, **source.mapping}, "export": {"out": "out"},
              "split": {"validation": 2}, **sections}
    path = folder / "pipeline.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def assert_one_line_error(code: int, err: str) -> None:
    assert code in (0, 1, 2), f"exit {code}: {err}"
    assert "Traceback" not in err, err
    if code == 2:
        assert len([line for line in err.splitlines() if line.strip()]) >= 1


@settings(FUZZ, max_examples=30)
@given(any_source(good_rows=6))
def test_run_accounts_for_every_row_and_reruns_identically(source):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pipeline = write_pipeline(folder, source)
        code, err = cli(["run", str(pipeline), "--quiet"])
        assert_one_line_error(code, err)
        if code != 0:
            assert "error" in err.lower() or "no-go" in err.lower(), err
            return
        ledger = pl.read_parquet(folder / "out" / "ledger.parquet")
        assert ledger.height == source.rows, "the ledger does not hold one row per source row"
        assert ledger["line"].is_unique().all()
        assert set(ledger["disposition"].unique()) <= set(DISPOSITIONS)
        first = outputs(folder / "out")
        code, err = cli(["run", str(pipeline), "--quiet"])
        assert code == 0, err
        assert outputs(folder / "out") == first, "a rerun wrote different bytes"


# hostile values for every section and option: wrong types, unknown keys, odd delimiters, seeds
_ODD = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12), st.floats(allow_nan=True),
                 st.text(max_size=8), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=4), st.integers(), max_size=2))
_OPTIONS = {
    "source": ("id", "text", "labels", "format", "labels_sep", "delimiter", "passthrough", "split", "answer"),
    "split": ("validation", "seed", "method", "stratify", "production"),
    "balance": ("per_label", "seed", "by", "max"),
    "labels": ("vocabulary", "level", "single", "allow_empty", "delimiter"),
    "export": ("target", "grader", "answer_key", "response_format", "developer", "user", "passthrough"),
    "rules": (),
    "report": ("title",),
    "dryrun": ("model", "base_url", "api_key_env"),
}


@st.composite
def hostile_configs(draw) -> tuple[str, object, object]:
    section = draw(st.sampled_from(sorted(_OPTIONS)))
    keys = _OPTIONS[section]
    if not keys or draw(st.integers(0, 5)) == 0:
        return section, None, draw(_ODD)  # the whole section of a wrong type
    key = draw(st.sampled_from((*keys, "no_such_option")))
    special = {"delimiter": st.sampled_from(("||", "", "\n", '"', "\t", ";")),
               "seed": st.sampled_from((-1, -(2**63), 2**64, 1.5, "7")),
               "labels_sep": st.sampled_from(("", "|", "\n", None))}
    value = draw(special.get(key, _ODD))
    return section, key, value


@settings(FUZZ, max_examples=40)
@given(jsonl_sources(good_rows=6) | csv_sources(good_rows=6), hostile_configs())
def test_hostile_configs_exit_with_one_line(source, config):
    section, key, value = config
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        pipeline = write_pipeline(folder, source)
        data = yaml.safe_load(pipeline.read_text())
        if key is None:
            data[section] = value
        else:
            current = data.get(section)
            data[section] = {**(current if isinstance(current, dict) else {}), key: value}
        pipeline.write_text(yaml.safe_dump(data))
        code, err = cli(["run", str(pipeline), "--quiet"])
        assert_one_line_error(code, err)


SUBPROCESS_CASES = {
    "nan.jsonl": b'{"id": "a", "text": "a text long enough to pass the rules", "labels": ["x"], "s": NaN}\n',
    "deep.jsonl": b'{"id": "a", "text": "t", "labels": ["x"], "n": ' + b"[" * 3000 + b"]" * 3000 + b"}\n",
    "empty.jsonl": b"",
    "stray.csv": b'id,text,labels\na,"stray quote,x\nb,fine text,y\n',
    "bom.csv": b"\xef\xbb\xbfid,text,labels\na,some text,x\n",
    "bad.csv": b"id,text,labels\na,caf\xe9,x\n",
}


@pytest.mark.parametrize("name", sorted(SUBPROCESS_CASES))
def test_no_traceback_on_stderr_of_a_real_process(tmp_path, name):
    source = Source(name, SUBPROCESS_CASES[name], None, {"id": "id", **({"labels_sep": "|"} if name.endswith("csv") else {})})
    pipeline = write_pipeline(tmp_path, source)
    proc = subprocess.run([sys.executable, "-m", "curate", "run", str(pipeline)], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode in (0, 2), proc.stderr
