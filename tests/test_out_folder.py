"""Issue 13, the output folder: never replaces an input (D2), checked before any work (D15), locked
(D16), exactly one run's files (D11), swapped in whole (D12, with tests/test_atomic_export.py)."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from curate.errors import ConfigError
from curate.io import outdir
from curate.io.outdir import OutFolder, OutLock


def curate(*args: str, cwd: Path | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=180, **kw)


def one_line(done: subprocess.CompletedProcess, code: int = 2) -> str:
    assert done.returncode == code, (done.returncode, done.stderr)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    return lines[0]


def make_rows(path: Path, n: int = 40, width: int = 8) -> None:
    words = " ".join(["word"] * width)
    path.write_text("".join(json.dumps({"id": f"r{i}", "text": f"document {i} about {i % 4} {words}",
                                        "labels": [f"t{i % 4}"]}) + "\n" for i in range(n)))


def pipeline(folder: Path, source: str = "raw.jsonl", out: str = "out", extra: str = "") -> Path:
    path = folder / "p.yaml"
    path.write_text(f"source: {{path: {source}, id: id}}\nrules: []\nsplit: {{validation: 8, seed: 1}}\n"
                    f"export: {{out: {out}}}\n{extra}")
    return path


def digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def listed_exactly(out: Path) -> None:
    """The folder holds the manifest and exactly the files it lists (plus the dry-run cache)."""
    manifest = json.loads((out / "manifest.json").read_text())
    present = {p.name for p in out.iterdir()} - {"manifest.json", *outdir.KEEP}
    assert present == set(manifest["files"]), present ^ set(manifest["files"])
    for name, sha in manifest["files"].items():
        if (out / name).is_file():
            assert hashlib.sha256((out / name).read_bytes()).hexdigest() == sha, name


# D2: a write never replaces the source


def test_out_folder_holding_the_source_is_refused_and_the_source_untouched(tmp_path):
    make_rows(tmp_path / "train.jsonl")
    before = (tmp_path / "train.jsonl").read_bytes()
    line = one_line(curate("run", str(pipeline(tmp_path, source="train.jsonl", out="."))))
    assert f"holds {tmp_path / 'train.jsonl'}, which this run reads" in line
    assert (tmp_path / "train.jsonl").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml", "train.jsonl"]


def test_source_anywhere_inside_the_out_folder_or_a_vocabulary_in_it_is_refused(tmp_path):
    (tmp_path / "out" / "data").mkdir(parents=True)
    make_rows(tmp_path / "out" / "data" / "valid.jsonl")
    line = one_line(curate("run", str(pipeline(tmp_path, source="out/data/valid.jsonl"))))
    assert "which this run reads" in line
    make_rows(tmp_path / "raw.jsonl")
    (tmp_path / "v").mkdir()
    vocab = json.dumps([{"id": f"t{i}", "name": f"n{i}"} for i in range(4)])
    (tmp_path / "v" / "grader.json").write_text(vocab)
    done = curate("run", str(pipeline(tmp_path, out="v", extra="labels: {vocabulary: v/grader.json}\n")))
    assert "v/grader.json" in one_line(done) and (tmp_path / "v" / "grader.json").read_text() == vocab


def test_a_folder_with_files_no_run_wrote_is_refused(tmp_path):
    make_rows(tmp_path / "raw.jsonl")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.md").write_text("mine")
    line = one_line(curate("run", str(pipeline(tmp_path))))
    assert "holds files no curate run wrote (notes.md)" in line
    assert (tmp_path / "out" / "notes.md").read_text() == "mine"


# D15: the out path is checked before any work; OS errors are one line


def test_out_path_that_is_a_file_is_refused_before_any_work(tmp_path):
    make_rows(tmp_path / "raw.jsonl")
    (tmp_path / "afile").write_text("keep")
    done = curate("run", str(pipeline(tmp_path, out="afile")))  # not quiet: no progress line may come first
    assert one_line(done).endswith(f"export.out {tmp_path / 'afile'}: is a file, not a folder")
    assert (tmp_path / "afile").read_text() == "keep"
    done = curate("run", str(pipeline(tmp_path, out="/dev/null")))
    assert "is a file, not a folder" in one_line(done)


def test_out_under_proc_is_one_line(tmp_path):
    make_rows(tmp_path / "raw.jsonl")
    line = one_line(curate("run", str(pipeline(tmp_path, out="/proc/self/curate-out"))))
    assert "export.out /proc/self/curate-out" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_folder_is_refused(tmp_path):
    make_rows(tmp_path / "raw.jsonl")
    (tmp_path / "out").mkdir()
    (tmp_path / "out").chmod(0o555)
    try:
        assert "not writable" in one_line(curate("run", str(pipeline(tmp_path))))
    finally:
        (tmp_path / "out").chmod(0o755)


def _small_file_limit() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (60_000, 60_000))


def test_a_full_disk_is_one_line_and_keeps_the_previous_outputs(tmp_path):
    make_rows(tmp_path / "raw.jsonl", 40)
    p = pipeline(tmp_path)
    assert curate("run", str(p), "-q").returncode == 0
    before = digest(tmp_path / "out")
    make_rows(tmp_path / "raw.jsonl", 400, width=40)  # train.jsonl now exceeds the file size limit
    done = curate("run", str(p), "-q", preexec_fn=_small_file_limit)
    line = one_line(done)
    assert "cannot write the outputs" in line and "the previous outputs are unchanged" in line, line
    assert digest(tmp_path / "out") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "p.yaml", "raw.jsonl"]  # no staging, no lock


# D16: one run at a time per folder; a dead run's lock never blocks


def test_a_second_run_into_a_locked_folder_fails_fast_naming_the_lock(tmp_path):
    make_rows(tmp_path / "raw.jsonl")
    p = pipeline(tmp_path)
    lock = OutLock(tmp_path / "out").acquire()
    try:
        line = one_line(curate("run", str(p)))
        assert f"being written by another curate run (pid {os.getpid()})" in line
        assert str(tmp_path / ".out.curate-lock") in line
        assert not (tmp_path / "out").exists()
    finally:
        lock.release()
    assert curate("run", str(p), "-q").returncode == 0
    assert not (tmp_path / ".out.curate-lock").exists()


def test_the_lock_of_a_killed_process_is_recovered(tmp_path):
    make_rows(tmp_path / "raw.jsonl")
    code = ("import sys, time\nfrom curate.io.outdir import OutLock\n"
            f"OutLock({str(tmp_path / 'out')!r}).acquire()\nprint('locked', flush=True)\ntime.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert "being written by another curate run" in one_line(curate("run", str(pipeline(tmp_path))))
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (tmp_path / ".out.curate-lock").exists()  # left behind by the killed holder
    done = curate("run", str(pipeline(tmp_path)), "-q")
    assert done.returncode == 0, done.stderr
    listed_exactly(tmp_path / "out")


def test_the_lock_is_reentrant_within_a_process(tmp_path):
    first = OutLock(tmp_path / "out").acquire()
    second = OutLock(tmp_path / "out").acquire()
    second.release()
    assert (tmp_path / ".out.curate-lock").exists()
    first.release()
    assert not (tmp_path / ".out.curate-lock").exists()


# D11: the folder holds exactly one run's files


def test_outputs_an_earlier_run_wrote_are_gone_after_the_next(tmp_path):
    make_rows(tmp_path / "raw.jsonl", 60)
    p = pipeline(tmp_path)
    out = tmp_path / "out"
    done = curate("run", str(p), "-q", "--set", "export.grader=exact_match", "--set", "split.production=5")
    assert done.returncode == 0, done.stderr
    assert "valid_production.jsonl" in {x.name for x in out.iterdir()}
    assert "string_check" in (out / "grader.json").read_text()
    (out / "dryrun.json").write_text("{}")  # a dry run of the old data
    (out / ".dryrun-cache").mkdir()
    (out / ".dryrun-cache" / "responses.jsonl").write_text('{"key": "k", "response": {}}\n')
    assert curate("run", str(p), "-q").returncode == 0
    names = {x.name for x in out.iterdir()}
    assert not names & {"valid_production.jsonl", "dryrun.json"}
    assert "string_check" not in (out / "grader.json").read_text()
    assert (out / ".dryrun-cache" / "responses.jsonl").read_text().startswith('{"key": "k"')  # kept
    listed_exactly(out)
    assert curate("run", str(p), "-q", "--target", "verl").returncode == 0
    listed_exactly(out)
    assert not {"train.jsonl", "valid.jsonl"} & {x.name for x in out.iterdir()}
    assert curate("run", str(p), "-q").returncode == 0
    listed_exactly(out)
    assert "train.parquet" not in {x.name for x in out.iterdir()}


def test_no_stale_grader_is_left_for_a_dry_run(tmp_path):
    make_rows(tmp_path / "raw.jsonl", 60)
    p = pipeline(tmp_path)
    assert curate("run", str(p), "-q", "--set", "export.grader=exact_match").returncode == 0
    assert curate("run", str(p), "-q", "--set", "export.grader=null").returncode == 0
    grader = json.loads((tmp_path / "out" / "grader.json").read_text())  # the kind's default, listed
    assert "string_check" not in json.dumps(grader)
    listed_exactly(tmp_path / "out")


# D12: the swap, and its fallback where the OS has no atomic exchange


def _folder_with(out: Path, files: dict[str, str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text)
    (out / "manifest.json").write_text(json.dumps({"files": dict.fromkeys(files, "x")}))


@pytest.mark.parametrize("atomic", [True, False])
def test_commit_swaps_the_whole_folder(tmp_path, monkeypatch, atomic):
    if not atomic:
        monkeypatch.setattr(outdir, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    _folder_with(out, {"train.jsonl": "old", "grader.json": "old"})
    with OutFolder(out) as folder:
        (folder.stage / "train.jsonl").write_text("new")
        (folder.stage / "manifest.json").write_text("{}")
        assert (out / "grader.json").read_text() == "old"  # nothing touched before the commit
        folder.commit()
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "train.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_kill_between_the_fallback_renames_is_repaired_by_the_next_run(tmp_path, monkeypatch):
    monkeypatch.setattr(outdir, "_exchange", lambda a, b: False)
    out = tmp_path / "out"
    _folder_with(out, {"train.jsonl": "old"})
    real_rename = os.rename
    calls = []

    def dying_rename(a, b):
        calls.append((a, b))
        if len(calls) == 2:
            raise KeyboardInterrupt  # the process dies after moving the old folder aside
        real_rename(a, b)

    monkeypatch.setattr(outdir.os, "rename", dying_rename)
    with pytest.raises(KeyboardInterrupt), OutFolder(out) as folder:
        (folder.stage / "train.jsonl").write_text("new")
        folder.commit()
    monkeypatch.setattr(outdir.os, "rename", real_rename)
    assert not out.exists()  # what a kill at that instant leaves; the old set is aside
    with OutFolder(out) as folder:
        assert (out / "train.jsonl").read_text() == "old"  # renamed back before anything else
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_an_error_before_the_commit_leaves_the_old_folder_and_no_staging(tmp_path):
    out = tmp_path / "out"
    _folder_with(out, {"train.jsonl": "old"})
    with pytest.raises(ConfigError), OutFolder(out) as folder:
        (folder.stage / "train.jsonl").write_text("new")
        raise ConfigError("stop")
    assert (out / "train.jsonl").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# D18: every row rejected: the ledger, rejected.jsonl and report are written and the reason named


def test_every_row_rejected_writes_the_account_and_names_a_vocabulary_cycle(tmp_path):
    (tmp_path / "raw.jsonl").write_text("".join(
        json.dumps({"id": f"r{i}", "text": f"document {i} with enough words to pass", "labels": [str(1 + i % 3)]}) + "\n"
        for i in range(40)))
    (tmp_path / "v.tsv").write_text("id\tname\tparent\n1\tone\t2\n2\ttwo\t3\n3\tthree\t1\n")
    p = pipeline(tmp_path, extra="labels: {vocabulary: v.tsv, parent: parent, level: top}\n")
    line = one_line(curate("run", str(p), "-q"))
    assert "every row rejected (40 of 40): 40 no_labels (vocabulary cycle 1 -> 2 -> 3 -> 1 under level: top" in line
    out = tmp_path / "out"
    listed_exactly(out)
    assert {"ledger.parquet", "rejected.jsonl", "findings.parquet", "report.html", "manifest.json"} == {x.name for x in out.iterdir()}
    assert len((out / "rejected.jsonl").read_text().splitlines()) == 40
    assert json.loads((out / "manifest.json").read_text())["counts"]["rejected"] == 40


def test_every_row_rejected_names_the_dominant_reason_with_an_example(tmp_path):
    (tmp_path / "raw.csv").write_text("id,text,labels\n" + "".join(
        f"r{i},document {i} with enough words to pass,a|b\n" for i in range(12)))
    line = one_line(curate("run", str(pipeline(tmp_path, source="raw.csv")), "-q"))
    assert line.startswith("error: every row rejected (12 of 12): 12 wrong_type (e.g. ") and "labels_sep" in line
    assert len((tmp_path / "out" / "rejected.jsonl").read_text().splitlines()) == 12


def test_dryrun_waits_for_no_one_and_refuses_a_folder_being_written(tmp_path):
    make_rows(tmp_path / "raw.jsonl")
    assert curate("run", str(pipeline(tmp_path)), "-q").returncode == 0
    lock = OutLock(tmp_path / "out").acquire()
    try:
        done = curate("dryrun", str(tmp_path / "out"), "--model", "m", "--base-url", "http://127.0.0.1:9/v1")
        assert done.returncode == 2 and "being written by another curate run" in done.stderr
    finally:
        lock.release()
