"""A persistent pool of grader worker processes with per-call time limits.

Workers start once (``forkserver`` where available, else ``spawn``), compile each source once, and
take batches of ``(sample, item)`` pairs. A call that overruns ``timeout`` gets its worker killed
and replaced; that call scores 0 with an ``unresponsive_reward`` error and the rest of the batch is
resent to the new worker. A worker that dies (e.g. ``os._exit``) is handled the same way.

>>> with WorkerPool(workers=1, timeout=5) as pool:
...     pool.run("def grade(sample, item):\\n    return item['x']\\n", [({}, {"x": 1}), ({}, {"x": "a"})])
[(1.0, None), (0.0, "python_grader_runtime_error: grade() returned 'a' (str), not a number")]
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from multiprocessing.connection import wait
from typing import Any

from curate.graders import _worker

Result = tuple[float, "str | None"]
MAX_CHUNK = 256
_POLL = 0.05


def _worker_program() -> str:
    """The worker's code: ``_worker.py`` run with ``exec`` in the child, so a worker imports only the
    standard library (not the curate package and its polars import) and starts in milliseconds."""
    with open(_worker.__file__, encoding="utf-8") as handle:
        return handle.read() + "\nmain(CONN, STATUS, MEMORY_MB)\n"


_PROGRAM: str | None = None


def source_key(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _context() -> Any:
    methods = mp.get_all_start_methods()
    return mp.get_context("forkserver" if "forkserver" in methods else "spawn")


_START_LOCK = threading.Lock()


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start workers without re-importing the caller's ``__main__`` (our target lives in curate):
    scripts that create a LocalGrader without an ``if __name__ == "__main__"`` guard then work."""
    main = sys.modules.get("__main__")
    saved = {
        a: main.__dict__[a]
        for a in ("__file__", "__spec__")
        if main is not None and a in main.__dict__
    }
    with _START_LOCK:
        try:
            for attr in saved:
                setattr(main, attr, None)
            yield
        finally:
            for attr, value in saved.items():
                setattr(main, attr, value)


class _Worker:
    def __init__(self, ctx: Any, memory_mb: int) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.status = ctx.Array("d", [_worker.IDLE, 0.0], lock=False)
        global _PROGRAM
        if _PROGRAM is None:
            _PROGRAM = _worker_program()
        scope = {
            "__name__": "curate_grader_worker",
            "CONN": child,
            "STATUS": self.status,
            "MEMORY_MB": memory_mb,
        }
        self.process = ctx.Process(
            target=exec, args=(_PROGRAM, scope), daemon=True, name="curate-grader"
        )
        with _main_module_hidden():
            self.process.start()
        child.close()
        self.known: set[str] = set()

    def submit(self, key: str, source: str, pairs: Sequence[tuple[Any, Any]]) -> None:
        self.conn.send(("grade", key, None if key in self.known else source, list(pairs)))
        self.known.add(key)

    def overdue(self, timeout: float) -> bool:
        index, started = self.status[0], self.status[1]
        return index != _worker.IDLE and time.monotonic() - started > timeout

    def stop(self, *, force: bool = False) -> None:
        if not force and self.process.is_alive():
            try:
                self.conn.send(("stop",))
            except (OSError, ValueError):
                pass
            self.process.join(timeout=1.0)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=5.0)
        self.conn.close()


class WorkerPool:
    """``workers`` reusable processes running python graders with a time and memory limit."""

    def __init__(self, workers: int = 2, *, timeout: float = 120.0, memory_mb: int = 2048) -> None:
        self.size = max(1, int(workers))
        self.timeout = float(timeout)
        self.memory_mb = int(memory_mb)
        self._ctx = _context()
        self._workers: list[_Worker] = []
        self._broken: dict[
            str, str
        ] = {}  # source key -> error, for sources that hang or crash on load

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker (idempotent)."""
        workers, self._workers = self._workers, []
        for worker in workers:
            worker.stop()

    def _start(self) -> None:
        while len(self._workers) < self.size:
            self._workers.append(_Worker(self._ctx, self.memory_mb))

    def _replace(self, worker: _Worker) -> None:
        worker.stop(force=True)
        self._workers[self._workers.index(worker)] = _Worker(self._ctx, self.memory_mb)

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
        self._start()
        busy: dict[_Worker, tuple[int, Sequence[Any]]] = {}
        while queue or busy:
            for worker in list(self._workers):
                if worker not in busy and queue:
                    start, chunk = queue.popleft()
                    try:
                        worker.submit(key, source, chunk)
                    except (OSError, ValueError):  # died while idle: replace it, retry the chunk
                        queue.appendleft((start, chunk))
                        self._replace(worker)
                        continue
                    busy[worker] = (start, chunk)
            ready = wait([w.conn for w in busy], timeout=_POLL)
            for worker in list(busy):
                failure = None
                if worker.conn in ready:
                    try:
                        answer = worker.conn.recv()
                    except (EOFError, OSError):
                        worker.process.join(timeout=5.0)
                        code = worker.process.exitcode
                        failure = (
                            f"python_grader_server_error: the grader process exited (code {code})"
                        )
                    else:
                        start, chunk = busy.pop(worker)
                        results[start : start + len(chunk)] = answer
                        continue
                elif worker.overdue(self.timeout):
                    failure = f"unresponsive_reward: grade() ran longer than the {self.timeout:g} s limit; its worker was stopped"
                if failure is None:
                    continue
                index = int(worker.status[0])
                start, chunk = busy.pop(worker)
                self._replace(worker)
                if index == _worker.COMPILING:
                    self._broken[key] = failure.replace("grade()", "loading the source")
                    results = [r if r is not None else (0.0, self._broken[key]) for r in results]
                    queue.clear()
                    continue
                index = max(index, 0)
                results[start + index] = (0.0, failure)
                if index + 1 < len(chunk):
                    queue.appendleft((start + index + 1, chunk[index + 1 :]))
                if index > 0:  # finished but unsent before the failure: grade them again
                    queue.appendleft((start, chunk[:index]))
        return results  # type: ignore[return-value]
