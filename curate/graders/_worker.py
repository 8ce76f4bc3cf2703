"""What runs inside a grader worker process (stdlib only, so workers start fast).

The pool starts ``python -I`` with a minimal environment and sends it this file and
``_sandbox.py`` to run. The worker isolates itself (``_sandbox``), then forks the **grading
process**, which compiles each python grader source once (cached by its hash) and calls
``grade(sample, item)`` for every pair of a batch. Before each call it writes the pair's index to
shared memory so the parent can tell which call overran the time limit. After each call it kills
any process the grader left behind and empties its temp folder.

The first process stays as a **supervisor**: when the grading process dies, or the parent closes
the connection (a timeout, ``close()``, or curate itself exiting), it kills the grading process
and everything it started, then exits with the grading process's status.

Messages are length-prefixed frames on a Unix socket: pickles from the parent, JSON from the
worker (the parent never unpickles what grader code could have written).
"""

from __future__ import annotations

import json
import math
import numbers
import os
import reprlib
import select
import shutil
import signal
import socket
import struct
import sys
import traceback
from typing import Any

GRADER_FILENAME = "<grader>"
COMPILING = -2.0
IDLE = -1.0
MAX_ERROR = 2000  # characters kept of an error message
_HEADER = struct.Struct("!Q")


def compile_source(source: str) -> Any:
    """The ``grade`` function defined by ``source``; raises whatever the source raises."""
    namespace: dict[str, Any] = {"__name__": "grader"}
    exec(compile(source, GRADER_FILENAME, "exec"), namespace)  # noqa: S102 - the user's own grader
    grade = namespace.get("grade")
    if not callable(grade):
        raise TypeError("the source defines no callable grade(sample, item)")
    return grade


def _safe_str(value: Any, shown: Any = str) -> str:
    try:
        return str(shown(value))
    except BaseException:  # noqa: BLE001 - a hostile __str__/__repr__
        return f"<unprintable {type(value).__name__}>"


def describe_exception(exc: BaseException) -> str:
    """``Type: message (grader line N)`` for an exception raised by grader code."""
    line = ""
    try:
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename == GRADER_FILENAME:
                line = f" (grader line {frame.lineno})"
                break
    except BaseException:  # noqa: BLE001
        pass
    return f"{type(exc).__name__}: {_safe_str(exc)}{line}"[:MAX_ERROR]


def as_score(value: Any) -> tuple[float, str | None]:
    """``(score, None)`` for a finite real number, else ``(0.0, error)`` as the platform does."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        score = float(value)
        if math.isfinite(score):
            return score, None
        return 0.0, f"python_grader_runtime_error: grade() returned {score}, not a finite number"
    shown = _safe_str(value, reprlib.repr)
    return (
        0.0,
        f"python_grader_runtime_error: grade() returned {shown} ({type(value).__name__}), not a number",
    )


def call_grade(grade: Any, sample: Any, item: Any) -> tuple[float, str | None]:
    """Call ``grade`` once; exceptions and non-numbers (even ones whose ``__float__`` raises)
    become ``(0.0, error)``."""
    try:
        return as_score(grade(sample, item))
    except BaseException as exc:  # noqa: BLE001 - SystemExit and friends from user code too
        return 0.0, f"python_grader_runtime_error: {describe_exception(exc)}"


# -- framing ---------------------------------------------------------------------------------------
def send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket) -> bytes:
    (n,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    return _recv_exact(sock, n)


# -- the worker process ----------------------------------------------------------------------------
def main(config: dict[str, Any], sandbox: Any) -> None:
    """Isolate, fork the grading process, supervise it (see the module docstring)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when workers stop
    try:  # grader print()s go to stderr, never into the caller's stdout (e.g. `curate grade` JSON)
        sys.stdout.flush()
        os.dup2(2, 1)
    except (OSError, ValueError, AttributeError):
        pass
    import mmap

    conn = socket.socket(fileno=config["conn_fd"])
    status_map = mmap.mmap(config["status_fd"], 24)
    status = memoryview(status_map).cast("d")
    off = set(config["off"])
    report: dict[str, str] = {}
    flags = 0
    if "namespaces" in off:
        report["namespaces"] = "turned off"
    else:
        flags, note = sandbox.enter_namespaces()
        names = [n for bit, n in ((sandbox.CLONE_NEWUSER, "user"), (sandbox.CLONE_NEWNET, "network"),
                                  (sandbox.CLONE_NEWPID, "pid")) if flags & bit]
        report["namespaces"] = ", ".join(names) if names else f"unavailable: {note}"
    pid_ns = bool(flags & sandbox.CLONE_NEWPID)
    report["network_namespace"] = "on" if flags & sandbox.CLONE_NEWNET else "off"
    report["pid_namespace"] = "on" if pid_ns else "off"
    report["subreaper"] = "on" if sandbox.set_subreaper() else "off"
    sys.stdout.flush()
    sys.stderr.flush()
    child = os.fork()
    if child == 0:
        code = 0
        try:
            _grading_process(config, sandbox, conn, status, report, pid_ns)
        except BaseException:  # noqa: BLE001 - a bug here: say it on stderr
            traceback.print_exc()
            code = 70
        finally:
            _flush()
            os._exit(code)
    _supervise(conn, child, pid_ns, sandbox)


def _supervise(conn: socket.socket, child: int, pid_ns: bool, sandbox: Any) -> None:
    """Wait until the grading process ends or the parent hangs up; leave no process behind."""
    poller = select.poll()
    hangup = select.POLLHUP | getattr(select, "POLLRDHUP", 0)
    poller.register(conn.fileno(), hangup)
    pidfd = -1
    try:
        pidfd = os.pidfd_open(child)
        poller.register(pidfd, select.POLLIN)
    except (AttributeError, OSError):
        pass
    status = None
    while status is None:
        events = poller.poll(None if pidfd >= 0 else 200)
        pid, status_word = os.waitpid(child, os.WNOHANG)
        if pid:
            status = status_word
            break
        if any(fd == conn.fileno() and mask & (hangup | select.POLLERR | select.POLLNVAL)
               for fd, mask in events):
            try:
                os.kill(child, signal.SIGKILL)
            except OSError:
                pass
            _, status = os.waitpid(child, 0)
    if not pid_ns:  # in a PID namespace the kernel killed everything with the grading process
        sandbox.kill_descendants()
    if os.WIFSIGNALED(status):  # die the same way, so the parent reports the same code
        sig = os.WTERMSIG(status)
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL and SIGSTOP keep their default anyway
            pass
        os.kill(os.getpid(), sig)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def _grading_process(config: dict[str, Any], sandbox: Any, conn: socket.socket, status: Any,
                     report: dict[str, str], pid_ns: bool) -> None:
    import pickle

    sandbox.die_with_parent()
    try:
        host_pid = int(os.readlink("/proc/self"))
    except (OSError, ValueError):
        host_pid = os.getpid()
    off = set(config["off"])
    tmp = config["tmp"]
    problem = sandbox.apply_rlimits(config["memory_mb"])
    report["rlimits"] = "on" if not problem else f"unavailable: {problem}"
    if "landlock" in off:
        report["landlock"] = "turned off"
    else:
        abi, problem = sandbox.apply_landlock(config["read_paths"], [tmp])
        report["landlock"] = f"ABI {abi}" if not problem else f"unavailable: {problem}"
    if "seccomp" in off:
        report["seccomp"] = "turned off"
    else:
        problem = sandbox.apply_seccomp()
        report["seccomp"] = "on" if not problem else f"unavailable: {problem}"
    forks = report["seccomp"] != "on"  # the filter refuses new processes
    send_frame(conn, json.dumps({"hello": report, "pid": host_pid}).encode())
    cache: dict[str, Any] = {}
    while True:
        try:
            message = pickle.loads(recv_frame(conn))
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        _, key, source, pairs = message
        retire = False
        if key not in cache:
            status[0] = COMPILING
            try:
                cache[key] = compile_source(source)
            except BaseException as exc:  # noqa: BLE001
                cache[key] = (
                    f"python_grader_runtime_error: the source failed to load: {describe_exception(exc)}"
                )
            retire = forks and _kill_children(sandbox, pid_ns)
        grade = cache[key]
        if isinstance(grade, str):
            results = [(0.0, grade)] * len(pairs)
        elif forks:  # processes can be started: none may outlive its call
            results = []
            append = results.append
            for index, (sample, item) in enumerate(pairs):
                status[0] = index
                append(call_grade(grade, sample, item))
                retire = _kill_children(sandbox, pid_ns) or retire
        else:
            results = []
            append = results.append
            for index, (sample, item) in enumerate(pairs):
                status[0] = index
                append(call_grade(grade, sample, item))
        _empty_folder(tmp)
        _flush()
        status[0] = IDLE
        try:
            send_frame(conn, json.dumps({"results": results, "retire": retire}).encode())
        except (OSError, ValueError):
            return
        if retire:
            return


def _flush() -> None:
    """Write out what grader code printed (stdout goes to stderr)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - grader code may have replaced the stream
            pass


def _kill_children(sandbox: Any, pid_ns: bool) -> bool:
    """Kill every process the grader started; True when some could not be killed from here (the
    supervisor does it once this process exits)."""
    if not sandbox.has_children():
        return False
    if pid_ns:
        sandbox.kill_namespace()
        return False
    sandbox.kill_descendants()
    return sandbox.has_children()


def _empty_folder(tmp: str) -> None:
    """Remove what grader calls wrote to the temp folder and make it the working folder again."""
    try:
        os.chdir(tmp)
        with os.scandir(tmp) as entries:
            leftovers = [entry.path for entry in entries]
    except OSError:
        return
    for path in leftovers:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except OSError:
                pass
