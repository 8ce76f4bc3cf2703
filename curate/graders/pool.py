"""A persistent pool of sandboxed grader worker processes with per-call time limits.

Workers are ``python -I`` processes started with a minimal environment (an allow-list: no secret
of the caller's environment reaches grader code), in their own session and temp folder, and
isolate themselves with whatever the operating system offers (:mod:`curate.graders._sandbox`;
``protections`` says what is active). Each compiles a source once and takes batches of
``(sample, item)`` pairs. A call that overruns ``timeout`` gets its worker killed (with every
process it started) and replaced; that call scores 0 with an ``unresponsive_reward`` error and
the rest of the batch is resent to the new worker. A worker that dies (e.g. ``os._exit``) is
handled the same way.

>>> with WorkerPool(workers=1, timeout=5) as pool:
...     pool.run("def grade(sample, item):\\n    return item['x']\\n", [({}, {"x": 1}), ({}, {"x": "a"})])
[(1.0, None), (0.0, "python_grader_runtime_error: grade() returned 'a' (str), not a number")]
"""

from __future__ import annotations

import hashlib
import json
import math
import mmap
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Sequence
from multiprocessing.connection import wait
from typing import Any

from curate.graders import _sandbox, _worker

Result = tuple[float, "str | None"]
MAX_CHUNK = 256
MAX_FRAME = 256 << 20  # bytes of one answer from a worker
START_TIMEOUT = 60.0  # seconds for a worker to start and report its protections
_POLL = 0.05
SUBMITTED = -3.0  # status of a batch sent to a worker that has not started on it yet
SANDBOX_LAYERS = ("namespaces", "landlock", "seccomp")  # each can be turned off (tests, debugging)
_BOOT = (
    "import json,sys,types\n"
    "d=json.loads(sys.stdin.buffer.read())\n"
    "m={}\n"
    "for n in ('sandbox','worker'):\n"
    " x=m[n]=types.ModuleType('curate_grader_'+n);sys.modules[x.__name__]=x\n"
    " exec(compile(d[n],x.__name__,'exec'),x.__dict__)\n"
    "m['worker'].main(d['config'],m['sandbox'])\n"
)
_PROGRAM: dict[str, str] = {}


def _program() -> dict[str, str]:
    if not _PROGRAM:
        for name, module in (("sandbox", _sandbox), ("worker", _worker)):
            with open(module.__file__, encoding="utf-8") as handle:
                _PROGRAM[name] = handle.read()
    return _PROGRAM


def worker_environment(tmp: str) -> dict[str, str]:
    """The whole environment of a worker: nothing is taken from the caller's."""
    return {"PATH": "/usr/bin:/bin", "HOME": tmp, "TMPDIR": tmp, "TMP": tmp, "TEMP": tmp,
            "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def source_key(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


class WorkerError(Exception):
    """A worker did not start, or broke the protocol."""


class _Worker:
    def __init__(self, memory_mb: int, off: frozenset[str]) -> None:
        self.tmp = tempfile.mkdtemp(prefix="curate-grader-")
        self.conn, child = socket.socketpair()
        status_file = tempfile.TemporaryFile()
        status_file.truncate(24)
        self.status_map = mmap.mmap(status_file.fileno(), 24)
        self.status = memoryview(self.status_map).cast("d")
        self.status[0] = _worker.IDLE
        read_paths = [p for p in _sandbox.python_read_paths() + list(_sandbox.SYSTEM_READ_PATHS)]
        config = {"conn_fd": child.fileno(), "status_fd": status_file.fileno(), "memory_mb": memory_mb,
                  "tmp": self.tmp, "read_paths": read_paths, "off": sorted(off)}
        payload = json.dumps({**_program(), "config": config}).encode()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, "curate-grader-worker"],
                stdin=subprocess.PIPE, env=worker_environment(self.tmp), cwd=self.tmp,
                start_new_session=True, pass_fds=(child.fileno(), status_file.fileno()),
            )
            self.process.stdin.write(payload)  # type: ignore[union-attr]
            self.process.stdin.close()  # type: ignore[union-attr]
        except (OSError, ValueError) as exc:  # ValueError: no pass_fds (not POSIX)
            self.conn.close()
            self.status.release()
            self.status_map.close()
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise WorkerError(f"cannot start a grader process ({exc})") from None
        finally:
            child.close()
            status_file.close()
        self.buffer = bytearray()
        self.known: set[str] = set()
        self.protections: dict[str, str] | None = None
        self.pid: int | None = None  # the grading process (in the caller's PID namespace)
        self.chunk_size = 0
        self.progress = (_worker.IDLE, 0.0)

    # -- protocol --------------------------------------------------------------------------------
    def frames(self) -> list[bytes]:
        """Complete frames received so far (call when the socket is readable); EOFError at the end."""
        try:
            data = self.conn.recv(1 << 20)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError as exc:
            raise EOFError from exc
        if not data:
            raise EOFError
        self.buffer += data
        out = []
        while len(self.buffer) >= 8:
            (n,) = _worker._HEADER.unpack_from(self.buffer)
            if n > MAX_FRAME:
                raise WorkerError("a message from the grader process is too large")
            if len(self.buffer) < 8 + n:
                break
            out.append(bytes(self.buffer[8 : 8 + n]))
            del self.buffer[: 8 + n]
        return out

    def hello(self, deadline: float) -> None:
        """Wait for the worker's report of its protections."""
        while self.protections is None:
            left = deadline - time.monotonic()
            if left <= 0 or not wait([self.conn], timeout=left):
                raise WorkerError("the grader process did not start in time")
            try:
                frames = self.frames()
            except EOFError:
                code = self.process.wait(5)
                raise WorkerError(f"the grader process exited while starting (code {code})") from None
            for frame in frames:
                message = json.loads(frame)
                self.protections = {str(k): str(v) for k, v in dict(message["hello"]).items()}
                self.pid = int(message["pid"])

    def submit(self, key: str, source: str, pairs: Sequence[tuple[Any, Any]], timeout: float) -> None:
        payload = pickle.dumps(("grade", key, None if key in self.known else source, list(pairs)),
                               protocol=pickle.HIGHEST_PROTOCOL)
        self.status[0] = SUBMITTED
        self.conn.settimeout(timeout)
        try:
            _worker.send_frame(self.conn, payload)
        finally:
            self.conn.setblocking(False)
        self.known.add(key)
        self.chunk_size = len(pairs)
        self.progress = (SUBMITTED, time.monotonic())

    def answer(self, frame: bytes) -> tuple[list[Result], bool]:
        """The results in a worker's answer, checked (grader code could have written it)."""
        try:
            message = json.loads(frame)
            results = [(float(s), None if e is None else str(e)[: _worker.MAX_ERROR])
                       for s, e in message["results"]]
            retire = bool(message.get("retire"))
        except (ValueError, TypeError, KeyError, AttributeError):
            raise WorkerError("the grader process sent a malformed answer") from None
        if len(results) != self.chunk_size or not all(math.isfinite(s) for s, _ in results):
            raise WorkerError("the grader process sent a malformed answer")
        return results, retire

    def overdue(self, timeout: float) -> bool:
        """True when the current call has run longer than ``timeout`` (by this process's clock;
        only forward progress through the batch restarts it)."""
        value, since = self.progress
        now = time.monotonic()
        current = self.status[0]
        if current >= 0 and current > value or (current == _worker.COMPILING and value == SUBMITTED):
            self.progress = (current, now)
            return False
        return now - since > timeout

    def position(self) -> int | None:
        """Index in the batch of the call running now: -1 while compiling the source, None when
        the worker had not started on the batch."""
        value = self.status[0]
        if value == SUBMITTED:
            return None
        if value == _worker.COMPILING:
            return -1
        if not math.isfinite(value):
            return 0
        return min(max(int(value), 0), max(self.chunk_size - 1, 0))

    def stop(self, *, force: bool = False) -> None:
        """Stop the worker and every process it started; remove its temp folder."""
        if not force and self.process.poll() is None:
            try:
                self.conn.settimeout(1.0)
                _worker.send_frame(self.conn, pickle.dumps(("stop",)))
                self.process.wait(1.0)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self.conn.close()  # the supervisor sees the hang-up: it kills the grading process tree
        try:  # (in milliseconds; the wait is long only so that a loaded machine cannot cut it short)
            self.process.wait(10.0)
        except subprocess.TimeoutExpired:
            pass
        try:  # whatever is left in the worker's session: kill it
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.process.wait(5.0)
        except subprocess.TimeoutExpired:
            pass
        self.status.release()
        self.status_map.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


class WorkerPool:
    """``workers`` reusable sandboxed processes running python graders with a time and memory limit."""

    def __init__(self, workers: int = 2, *, timeout: float = 120.0, memory_mb: int = 2048,
                 sandbox_off: Sequence[str] = ()) -> None:
        self.size = max(1, int(workers))
        self.timeout = float(timeout)
        self.memory_mb = int(memory_mb)
        unknown = set(sandbox_off) - set(SANDBOX_LAYERS)
        if unknown:
            raise ValueError(f"unknown sandbox layers {sorted(unknown)}; known: {SANDBOX_LAYERS}")
        self.sandbox_off = frozenset(sandbox_off)
        self._workers: list[_Worker] = []
        self._broken: dict[str, str] = {}  # source key -> error, for sources that hang or crash on load
        self.protections: dict[str, str] | None = None  # what the first worker reported

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker (idempotent)."""
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()

    def start(self) -> dict[str, str]:
        """Start the workers now (otherwise the first ``run`` does) and return their protections."""
        started = []
        while len(self._workers) < self.size:
            worker = _Worker(self.memory_mb, self.sandbox_off)
            self._workers.append(worker)
            started.append(worker)
        deadline = time.monotonic() + max(START_TIMEOUT, self.timeout)
        for worker in started:
            try:
                worker.hello(deadline)
            except WorkerError:
                self._workers.remove(worker)
                worker.stop(force=True)
                raise
            self.protections = self.protections or worker.protections
        return dict(self.protections or {})

    def _replace(self, worker: _Worker) -> None:
        worker.stop(force=True)
        self._workers.remove(worker)

    def run(self, source: str, pairs: Sequence[tuple[Any, Any]]) -> list[Result]:
        """``(score, error)`` for every pair, in order, grading batches on all workers at once."""
        key = source_key(source)
        n = len(pairs)
        results: list[Result | None] = [None] * n
        if key in self._broken:
            return [(0.0, self._broken[key])] * n
        if not n:
            return []
        size = max(1, min(MAX_CHUNK, -(-n // (self.size * 4))))
        queue = deque((start, pairs[start : start + size]) for start in range(0, n, size))
        busy: dict[_Worker, tuple[int, Sequence[Any]]] = {}
        resent: set[int] = set()
        while queue or busy:
            try:
                self.start()
            except WorkerError as exc:
                error = f"python_grader_server_error: {exc}"
                return [r if r is not None else (0.0, error) for r in results]
            for worker in list(self._workers):
                if worker not in busy and queue:
                    start, chunk = queue.popleft()
                    try:
                        worker.submit(key, source, chunk, self.timeout)
                    except OSError:  # died while idle (or stopped reading): replace it, retry the chunk
                        queue.appendleft((start, chunk))
                        self._replace(worker)
                        continue
                    busy[worker] = (start, chunk)
            ready = wait([w.conn for w in busy], timeout=_POLL) if busy else []
            for worker in list(busy):
                failure = None
                if worker.conn in ready:
                    try:
                        frames = worker.frames()
                        if not frames:
                            continue
                        answer, retire = worker.answer(frames[0])
                    except EOFError:
                        try:
                            code = worker.process.wait(5.0)
                        except subprocess.TimeoutExpired:
                            code = None
                        failure = f"python_grader_server_error: the grader process exited (code {code})"
                    except WorkerError as exc:
                        failure = f"python_grader_server_error: {exc}"
                    else:
                        start, chunk = busy.pop(worker)
                        results[start : start + len(chunk)] = answer
                        if retire:
                            self._replace(worker)
                        continue
                elif worker.overdue(self.timeout):
                    failure = f"unresponsive_reward: grade() ran longer than the {self.timeout:g} s limit; its worker was stopped"
                if failure is None:
                    continue
                index = worker.position()
                start, chunk = busy.pop(worker)
                self._replace(worker)
                if index is None and start not in resent:  # died before starting: send it again
                    resent.add(start)
                    queue.appendleft((start, chunk))
                    continue
                index = index or 0
                if index < 0:
                    self._broken[key] = failure.replace("grade()", "loading the source")
                    results = [r if r is not None else (0.0, self._broken[key]) for r in results]
                    queue.clear()
                    continue
                results[start + index] = (0.0, failure)
                if index + 1 < len(chunk):
                    queue.appendleft((start + index + 1, chunk[index + 1 :]))
                if index > 0:  # finished but unsent before the failure: grade them again
                    queue.appendleft((start, chunk[:index]))
        return results  # type: ignore[return-value]
