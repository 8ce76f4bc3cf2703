"""The grader sandbox (issue 13: D3, D8, D9, D23, D24): hostile python graders run in real worker
processes and must see no secret, reach no network, read no user file, write nothing outside their
temp folder and leave no process behind. A check is skipped only when this kernel lacks the
protection it needs (the workers' own report says so)."""

from __future__ import annotations

import ast
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from curate.graders import LocalGrader
from curate.graders.pool import WorkerPool, worker_environment
from curate.graders.protections import describe, summarize

REPO = Path(__file__).resolve().parents[1]
SECRET = "sk-TEST-SECRET-0123456789"


def python(source: str) -> dict:
    return {"type": "python", "name": "g", "source": source}


def run_one(source: str, item: dict | None = None, **options) -> tuple[float, str | None]:
    with WorkerPool(workers=1, timeout=options.pop("timeout", 20), **options) as pool:
        return pool.run(source, [({}, item or {})])[0]


@pytest.fixture(scope="module")
def protections() -> dict[str, str]:
    with WorkerPool(workers=1) as pool:
        return pool.start()


def need(protections: dict[str, str], concern: str, word: str) -> None:
    state = summarize(protections)[concern]
    if word not in state:
        pytest.skip(f"this kernel cannot contain it: {concern} {state} ({protections})")


def session_processes(session: int) -> list[int]:
    """Processes whose session id is ``session`` (each worker is a session leader)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_bytes()
            except OSError:
                continue
            fields = stat[stat.rfind(b")") + 2 :].split()
            if int(fields[3]) == session and fields[0] != b"Z":
                found.append(int(name))
    return found


linux_only = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")


# -- D3: no secret reaches grader code -------------------------------------------------------------
def test_graders_see_only_the_allow_listed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    score, error = run_one("import os\ndef grade(s, i):\n    raise ValueError(sorted(os.environ.items()))\n")
    assert SECRET not in error
    prefix, suffix = "python_grader_runtime_error: ValueError: ", " (grader line 3)"
    assert error.startswith(prefix) and error.endswith(suffix)
    seen = dict(ast.literal_eval(error[len(prefix) : -len(suffix)]))
    assert set(seen) == set(worker_environment("T")) == {"PATH", "HOME", "TMPDIR", "TMP", "TEMP", "LANG", "LC_ALL"}
    assert seen["HOME"] == seen["TMPDIR"] != os.environ.get("HOME")


@linux_only
def test_graders_cannot_read_the_callers_environment_through_proc(
    monkeypatch: pytest.MonkeyPatch, protections: dict[str, str]
) -> None:
    need(protections, "files", "landlock")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    source = (f"def grade(s, i):\n    return float({SECRET!r} in open('/proc/{os.getpid()}/environ').read())\n")
    score, error = run_one(source)
    assert score == 0.0 and "Error" in error


def test_dryrun_self_test_runs_graders_without_the_api_key(tmp_path: Path) -> None:
    """The finding's reproduction: a grader writing OPENAI_API_KEY to k.txt during the self-test."""
    import shutil

    from test_dryrun import FIXTURE

    out = tmp_path / "out"
    shutil.copytree(FIXTURE, out)
    grader = tmp_path / "g.json"
    grader.write_text(json.dumps(python(
        "import os\n"
        "def grade(s, i):\n"
        "    key = os.environ.get('OPENAI_API_KEY', '')\n"
        "    try:\n"
        "        open('k.txt', 'w').write(key)\n"
        f"        open({str(tmp_path / 'k2.txt')!r}, 'w').write(key)\n"
        "    except OSError:\n"
        "        pass\n"
        "    return 1.0 if key else 0.0\n")))
    env = {k: v for k, v in os.environ.items()}
    env.update(OPENAI_API_KEY=SECRET, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "curate", "dryrun", str(out), "--grader", str(grader), "--model", "m",
         "--base-url", "http://127.0.0.1:9/v1", "--samples", "1"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert "Traceback" not in proc.stderr
    assert "grader sandbox: environment scrubbed" in proc.stdout
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    report = json.loads((out / "dryrun.json").read_text())
    assert report["grader_sandbox"]["environment"].startswith("scrubbed")
    assert report["selftest"]["reference"]["failures"]  # the key was empty: the grader scored 0


# -- D8: files and network -------------------------------------------------------------------------
def test_reading_system_and_user_files_is_refused(tmp_path: Path, protections: dict[str, str]) -> None:
    need(protections, "files", "landlock")
    user_file = tmp_path / "notes.txt"
    user_file.write_text("private " * 10)
    for path in ("/etc/passwd", str(user_file), str(Path.home())):
        source = f"import os\ndef grade(s, i):\n    return float(len(os.listdir({path!r}) if os.path.isdir({path!r}) else open({path!r}).read()))\n"
        score, error = run_one(source)
        assert score == 0.0 and "PermissionError" in error, (path, error)


def test_writes_outside_the_temp_folder_are_refused_and_the_folder_is_emptied(
    tmp_path: Path, protections: dict[str, str]
) -> None:
    need(protections, "files", "landlock")
    target = tmp_path / "pwned.txt"
    source = (
        "import os, tempfile\n"
        "def grade(s, i):\n"
        "    if i['k'] == 'outside':\n"
        f"        open({str(target)!r}, 'w').write('x')\n"
        "        return 1.0\n"
        "    if i['k'] == 'inside':\n"
        "        open('here.txt', 'w').write('x')\n"
        "        open(os.path.join(tempfile.gettempdir(), 'there.txt'), 'w').write('x')\n"
        "        return 0.5\n"
        "    return float(os.path.exists('here.txt')) + 0.25\n"
    )
    with WorkerPool(workers=1, timeout=20) as pool:
        results = pool.run(source, [({}, {"k": "outside"})])
        results += pool.run(source, [({}, {"k": "inside"})])
        results += pool.run(source, [({}, {"k": "look"})])
    assert results[0][0] == 0.0 and "PermissionError" in results[0][1]
    assert not target.exists()
    assert results[1] == (0.5, None)  # its own temp folder is writable ...
    assert results[2] == (0.25, None)  # ... and emptied between calls


def test_no_connection_reaches_a_local_listener(protections: dict[str, str]) -> None:
    need(protections, "network", "off")
    received: list[bytes] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.2)
        port = server.getsockname()[1]
        stop = threading.Event()

        def accept() -> None:
            while not stop.is_set():
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                with conn:
                    received.append(conn.recv(1000))

        thread = threading.Thread(target=accept)
        thread.start()
        source = (
            "import socket\n"
            "def grade(s, i):\n"
            f"    c = socket.create_connection(('127.0.0.1', {port}), timeout=5)\n"
            "    c.sendall(repr(i).encode())\n"
            "    return 0.77\n"
        )
        score, error = run_one(source, {"secret": "item data"})
        udp = run_one(f"import socket\ndef grade(s, i):\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', {port}))\n    return 0.5\n")
        stop.set()
        thread.join()
    assert score == 0.0 and error.startswith("python_grader_runtime_error: "), error
    assert udp[0] == 0.0
    assert received == []


# -- D9: no process outlives a call, a timeout or curate -------------------------------------------
FORK_AND_SPIN = (
    "import os, time\n"
    "def grade(s, i):\n"
    "    try:\n"
    "        pid = os.fork()\n"
    "    except OSError:\n"
    "        pid = None\n"
    "    if pid == 0:\n"
    "        os.setsid()\n"  # leave the worker's process group and session
    "        t = time.time()\n"
    "        while time.time() - t < 25:\n"
    "            pass\n"
    "        os._exit(0)\n"
    "    if i.get('hang'):\n"
    "        while True:\n"
    "            pass\n"
    "    return 0.0 if pid is None else 0.4\n"
)


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return state[state.rfind(b")") + 2 :].split()[0] != b"Z"


def spinners(folders: list[str], worker_pids: set[int] = frozenset()) -> list[int]:
    """Live processes running in one of these worker temp folders (a worker, its grading process or
    what a grader started), other than ``worker_pids``. The folder tells them from the workers of
    other test runs on the machine."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in worker_pids:
            try:
                cwd = os.readlink(f"/proc/{name}/cwd")
            except OSError:
                continue
            if any(cwd.startswith(folder) for folder in folders) and alive(int(name)):
                found.append(int(name))
    return found


@linux_only
@pytest.mark.parametrize("off", [(), ("seccomp",), ("seccomp", "namespaces"), ("seccomp", "namespaces", "landlock")])
def test_a_forked_child_is_dead_when_the_call_returns(off: tuple[str, ...]) -> None:
    with WorkerPool(workers=1, timeout=20, sandbox_off=off) as pool:
        protections = pool.start()
        folders = [w.tmp for w in pool._workers]
        workers = {w.process.pid for w in pool._workers} | {w.pid for w in pool._workers}
        assert workers <= set(spinners(folders))
        score, error = pool.run(FORK_AND_SPIN, [({}, {})])[0]
        left = spinners(folders, workers)
        if "seccomp" not in off and protections["seccomp"] == "on":
            assert (score, error) == (0.0, None)  # the fork itself was refused
        else:
            assert score == 0.4
        assert left == []
        assert pool.run("def grade(s, i):\n    return 1.0\n", [({}, {})]) == [(1.0, None)]
    assert spinners(folders) == []


@linux_only
@pytest.mark.parametrize("off", [(), ("seccomp",), ("seccomp", "namespaces")])
def test_a_forked_child_is_dead_after_a_timeout(off: tuple[str, ...]) -> None:
    with WorkerPool(workers=1, timeout=1.0, sandbox_off=off) as pool:
        pool.start()
        folders = [w.tmp for w in pool._workers]
        score, error = pool.run(FORK_AND_SPIN, [({}, {"hang": True})])[0]
        assert error.startswith("unresponsive_reward")
        assert spinners(folders) == []


@linux_only
def test_no_grader_process_outlives_a_killed_curate(tmp_path: Path) -> None:
    script = tmp_path / "host.py"
    script.write_text(
        "import sys\n"
        "from curate.graders.pool import WorkerPool\n"
        f"source = {FORK_AND_SPIN!r}\n"
        "pool = WorkerPool(workers=1, timeout=60, sandbox_off=('seccomp',))\n"
        "pool.start()\n"
        "print(pool._workers[0].process.pid, pool._workers[0].tmp, flush=True)\n"
        "pool.run(source, [({}, {'hang': True})])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    host = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    pid, folder = host.stdout.readline().split()
    worker = int(pid)
    deadline = time.monotonic() + 30
    while len(spinners([folder])) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)  # the worker, its grading process and the grader's child
    assert len(spinners([folder])) == 3 and alive(worker)
    host.send_signal(signal.SIGKILL)
    host.wait(10)
    deadline = time.monotonic() + 10
    while (alive(worker) or spinners([folder])) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(worker) and spinners([folder]) == []


# -- D23, D24: scores --------------------------------------------------------------------------
def test_out_of_range_scores_are_flagged() -> None:
    source = "def grade(s, i):\n    return i['v']\n"
    with LocalGrader(python(source), workers=1) as grader:
        results = grader.grade_many([("", {"v": v}) for v in (-5, 1e308, 1.5, 0.5, float("nan"), float("inf"))])
    low, huge, above, fine, nan, inf = results
    for r in (low, huge, above):
        assert r.warnings and "score_out_of_range" in r.warnings[0] and not r.errors
    assert "-5 is outside the grader's range [0, 1]" in low.warnings[0]
    assert fine.warnings == [] and fine.errors == []
    for r in (nan, inf):
        assert r.score == 0.0 and "not a finite number" in r.errors[0]


def test_the_dryrun_self_test_fails_a_grader_scoring_out_of_range() -> None:
    from curate.dryrun.outdir import AnswerFormat
    from curate.dryrun.selftest import self_test

    source = "def grade(s, i):\n    return 2.0 if s['output_json'] == {'labels': ['x', 'y']} else 0.5\n"
    with LocalGrader(python(source), workers=1) as grader:
        result = self_test(grader, [{"id": "a", "reference_answer": ["x", "y"]}], AnswerFormat(labels=("x", "y", "z")))
    assert not result["passed"]
    assert any("outside the grader's range [0, 1] (e.g. 2)" in p for p in result["problems"]), result["problems"]


def test_curate_grade_prints_the_sandbox_and_range_warnings(tmp_path: Path) -> None:
    grader = tmp_path / "g.json"
    grader.write_text(json.dumps(python("def grade(s, i):\n    return -5\n")))
    item = tmp_path / "item.json"
    item.write_text("{}")
    proc = subprocess.run([sys.executable, "-m", "curate", "grade", "-g", str(grader), "-i", str(item), "-t", "x"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert answer["score"] == -5.0 and "score_out_of_range" in answer["warnings"][0]
    assert "grader sandbox: environment scrubbed" in proc.stderr and "network " in proc.stderr


def test_a_float_whose_float_raises_is_a_runtime_error_and_the_worker_survives() -> None:
    source = ("class F(float):\n    def __float__(self):\n        raise RuntimeError('no float')\n"
              "    def __repr__(self):\n        raise RuntimeError('no repr')\n"
              "def grade(s, i):\n    return F(0.5) if i['bad'] else 1.0\n")
    with WorkerPool(workers=1, timeout=20) as pool:
        pool.start()
        first = pool._workers[0].process.pid
        results = pool.run(source, [({}, {"bad": True}), ({}, {"bad": False})])
        assert pool._workers[0].process.pid == first
    assert results[0] == (0.0, "python_grader_runtime_error: RuntimeError: no float (grader line 3)")
    assert results[1] == (1.0, None)


# -- the worker may be hostile: its answers are data, never code -----------------------------------
def test_a_grader_forging_the_workers_answer_cannot_run_code_in_curate(tmp_path: Path) -> None:
    marker = tmp_path / "ran-in-curate"
    source = (
        "import gc, os, pickle, socket, struct\n"
        "class Boom:\n"
        "    def __reduce__(self):\n"
        f"        return (open, ({str(marker)!r}, 'w'))\n"
        "def grade(s, i):\n"
        "    for o in gc.get_objects():\n"
        "        if isinstance(o, socket.socket) and o.family == socket.AF_UNIX:\n"
        "            payload = pickle.dumps(Boom())\n"
        "            o.sendall(struct.pack('!Q', len(payload)) + payload)\n"
        "    return 1.0\n"
    )
    score, error = run_one(source)
    assert not marker.exists()
    assert score == 0.0 and error == "python_grader_server_error: the grader process sent a malformed answer"


def test_protections_are_reported(protections: dict[str, str]) -> None:
    for layer in ("namespaces", "landlock", "seccomp", "rlimits"):
        assert layer in protections
    line = describe(protections)
    assert line.startswith("grader sandbox: environment scrubbed")
    with LocalGrader(python("def grade(s, i):\n    return 1.0\n"), workers=0) as grader:
        assert "none" in describe(grader.protections)
    with LocalGrader({"type": "string_check", "name": "s", "operation": "eq", "input": "a",
                      "reference": "a"}) as grader:
        assert grader.protections is None


def test_with_every_layer_off_the_report_says_so_and_the_attacks_work(tmp_path: Path) -> None:
    """The other tests can fail: without the layers, the same graders read and write freely."""
    off = ("namespaces", "landlock", "seccomp")
    with WorkerPool(workers=1, timeout=20, sandbox_off=off) as pool:
        state = summarize(pool.start())
        target = tmp_path / "written.txt"
        results = pool.run(
            "import os\n"
            "def grade(s, i):\n"
            f"    open({str(target)!r}, 'w').write('x')\n"
            "    if os.fork() == 0:\n"
            "        os._exit(0)\n"
            "    return float(len(open('/etc/passwd').read()) > 0) / 2\n",
            [({}, {})],
        )
    assert state["network"].startswith("OPEN") and state["files"].startswith("NOT confined")
    assert state["processes"].startswith("killed after each call")
    assert results == [(0.5, None)] and target.exists()
