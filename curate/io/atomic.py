"""Atomic file writes: a temporary file in the target folder, fsync, then rename into place.

A run killed at any moment leaves either the previous file or the new one, never half a file.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_bytes_atomic(folder / "a.txt", b"hello")
>>> (folder / "a.txt").read_bytes()
b'hello'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

TEMP_PREFIX = ".curate-tmp-"
_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; on success it is fsynced and renamed over it."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=target.suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        fsync_file(tmp)
        os.chmod(tmp, _default_mode())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(target: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``target`` atomically."""
    write_bytes_atomic(target, text.encode("utf-8"))


@contextlib.contextmanager
def flushing(folder: Path, every: float = 0.1) -> Iterator[None]:
    """While the body writes files into ``folder``, flush them to disk every ``every`` seconds.

    Disk write-back then overlaps the writing, and the fsync before each rename has little left to
    do. Flushing never changes what a file holds; errors here are left to that final fsync.
    """
    import threading

    done = threading.Event()

    def flush_all() -> None:
        while not done.wait(every):
            for root, _dirs, names in os.walk(folder):
                for name in names:
                    try:
                        fd = os.open(os.path.join(root, name), os.O_RDONLY)
                    except OSError:
                        continue
                    try:
                        _datasync(fd)
                    except OSError:
                        pass
                    finally:
                        os.close(fd)

    worker = threading.Thread(target=flush_all, name="curate-flush", daemon=True)
    worker.start()
    try:
        yield
    finally:
        done.set()
        worker.join()


def _default_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give (mkstemp makes files private)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def fsync_file(path: Path) -> None:
    """Flush ``path``'s data to disk (a second call on a flushed file is nearly free)."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
