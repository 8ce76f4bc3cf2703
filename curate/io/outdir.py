"""The output folder of a run: checked before any work, locked, built aside and swapped in whole.

A run never writes into ``export.out`` file by file. It builds every output in a sibling staging
folder (``.OUT.curate-stage-XXXXXXXX`` next to ``OUT``) and swaps the two folders in one atomic
``renameat2(RENAME_EXCHANGE)`` (Linux; ``renamex_np(RENAME_SWAP)`` on macOS). A kill at any
instant leaves the previous folder or the new one, never a mix, and the folder holds exactly one
run's files: outputs of earlier runs that this run does not write (another target's files, a
stale ``grader.json`` or ``valid_production.jsonl``, ``dryrun.json``) are gone with the old folder.
Things that belong to the folder rather than to a run (:data:`KEEP`: the dry run's response cache)
are carried over. Where no atomic exchange exists, the old folder is renamed aside and the new one
renamed in; a kill between the two renames is repaired by the next run, which renames it back.

Before any work, :meth:`OutFolder.__enter__` checks that the folder can be written and would not
replace what the run reads (the source, the vocabulary, rule packs, ...) or files no curate run
wrote, then takes the folder's lock (``.OUT.curate-lock`` next to ``OUT``, an ``flock``: a second
run into the same folder fails at once with one line naming the lock; the kernel releases the lock
of a process that died, so a stale lock never blocks).

>>> import tempfile
>>> out = Path(tempfile.mkdtemp()) / "out"
>>> with OutFolder(out) as folder:
...     _ = (folder.stage / "train.jsonl").write_text("{}\\n")
...     folder.commit()
>>> sorted(p.name for p in out.iterdir())
['train.jsonl']
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from curate.errors import ConfigError, CurateError, ExportError

KEEP = (".dryrun-cache",)  # belongs to the folder, not to one run: carried into the new folder
REPORTS = ("manifest.json", "dryrun.json", "dryrun.html")  # written into the folder by a run or dry run
CORE_OUTPUTS = ("train.jsonl", "valid.jsonl", "valid_production.jsonl", "rejected.jsonl", "ledger.parquet",
                "findings.parquet", "report.html", "response_format.json", "grader.json")
_LEGACY_TEMP = ".curate-tmp-"  # temporaries of earlier versions, written inside the folder


class OutFolder:
    """The output folder of one run (see the module docstring): ``with OutFolder(out) as f:``, write
    into ``f.stage``, then ``f.commit()``. Leaving the block unlocks and removes what is left."""

    def __init__(self, out: str | Path, *, protect: Iterable[str | Path] = (), where: str = "export.out") -> None:
        self.requested = Path(out)
        self.out = Path(os.path.realpath(out))  # a symlinked folder is replaced where it really is
        self.protect = [Path(os.path.realpath(p)) for p in protect]
        self.where = where
        self.stage = Path()
        self._lock: OutLock | None = None
        self._committed = False

    # -- entering: checks, lock, staging folder -------------------------------------------------

    def __enter__(self) -> OutFolder:
        self.check()
        self._lock = OutLock(self.out).acquire()
        try:
            self._recover()
            self.check_contents()
            try:
                self.stage = Path(tempfile.mkdtemp(prefix=f".{self.out.name}.curate-stage-", dir=self.out.parent))
            except OSError as exc:
                raise ConfigError(f"{self.where} {self.requested}: cannot write in {self.out.parent} "
                                  f"({_reason(exc)})") from None
        except BaseException:
            self._lock.release()
            raise
        return self

    def check(self) -> None:
        """Everything that can be known before the lock: the path's kind, writability, the inputs."""
        out, name = self.out, f"{self.where} {self.requested}"
        if out == out.parent or not out.name:
            raise ConfigError(f"{name}: the root of a file system cannot be an output folder")
        for path in self.protect:
            if path == out or _inside(path, out):
                raise ConfigError(f"{name}: the folder holds {path}, which this run reads; a run replaces its "
                                  f"output folder whole: choose another folder")
            if _inside(out, path):
                raise ConfigError(f"{name}: the folder is inside {path}, which this run reads; choose another folder")
        if out.exists() and not out.is_dir():
            raise ConfigError(f"{name}: is a file, not a folder")
        if out.exists() and not os.access(out, os.W_OK | os.X_OK):
            raise ConfigError(f"{name}: the folder is not writable")
        parent = out.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{name}: cannot create {parent} ({_reason(exc)})") from None
        if not os.access(parent, os.W_OK | os.X_OK):
            raise ConfigError(f"{name}: cannot write in {parent} (permission denied or read-only); the outputs are "
                              f"built next to the folder and swapped in")

    def check_contents(self) -> None:
        """Refuse a folder holding files no curate run wrote: they would be lost in the swap."""
        if not self.out.is_dir():
            return
        known = set(KEEP) | set(REPORTS) | set(CORE_OUTPUTS) | _manifest_files(self.out / "manifest.json")
        foreign = sorted(p.name for p in self.out.iterdir()
                         if p.name not in known and not p.name.startswith(_LEGACY_TEMP))
        if foreign:
            shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
            raise ConfigError(f"{self.where} {self.requested}: the folder holds files no curate run wrote ({shown}); "
                              f"a run replaces the folder whole: move them or choose another folder")

    # -- committing: carry over, swap, remove the old folder ------------------------------------

    def commit(self) -> None:
        """Swap the fully written staging folder in as ``out`` (atomically where the OS can)."""
        stage, out = self.stage, self.out
        if out.is_dir():
            for name in KEEP:
                if (out / name).exists() and not (stage / name).exists():
                    _link_tree(out / name, stage / name)
        _fsync_dir(stage)
        if out.exists() and _exchange(stage, out):
            pass  # the old folder is now at the staging path
        else:
            aside = self._aside_path()
            if out.exists():
                os.rename(out, aside)
            os.rename(stage, out)
            if aside.exists():
                os.rename(aside, stage)
        _fsync_dir(out.parent)
        self._committed = True
        shutil.rmtree(stage, ignore_errors=True)

    def _aside_path(self) -> Path:
        return self.out.parent / f".{self.out.name}.curate-old"

    def _recover(self) -> None:
        """Repair what a killed run left: the old folder renamed aside, staging folders, temporaries."""
        aside = self._aside_path()
        if aside.is_dir() and not self.out.exists():
            os.rename(aside, self.out)  # killed between the two renames of the fallback swap
        pattern = re.compile(rf"\.{re.escape(self.out.name)}\.curate-(stage-[A-Za-z0-9_]{{8}}|old)")
        for leftover in self.out.parent.iterdir():
            if pattern.fullmatch(leftover.name):
                shutil.rmtree(leftover, ignore_errors=True)
        if self.out.is_dir():
            for leftover in self.out.glob(_LEGACY_TEMP + "*"):
                shutil.rmtree(leftover, ignore_errors=True) if leftover.is_dir() else leftover.unlink(missing_ok=True)

    # -- leaving ---------------------------------------------------------------------------------

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if self.stage != Path() and self.stage.exists() and not self._committed:
                shutil.rmtree(self.stage, ignore_errors=True)
        finally:
            if self._lock is not None:
                self._lock.release()
        if exc is not None and not self._committed and _is_write_error(exc, self.stage):
            raise ExportError(f"cannot write the outputs for {self.requested} ({_reason(exc)}); "
                              f"the previous outputs are unchanged") from None


class OutLock:
    """An exclusive, non-blocking lock on an output folder: ``.OUT.curate-lock`` beside it.

    ``flock`` where the OS has it (released by the kernel when its process dies); elsewhere a file
    created exclusively that holds the owner's pid, taken over when that process is gone. Locks
    are re-entrant within a process, so a dry run inside a run's hook does not lock itself out.
    """

    _held: dict[Path, tuple[OutLock, int]] = {}

    def __init__(self, out: Path) -> None:
        self.out = Path(os.path.realpath(out))
        self.path = self.out.parent / f".{self.out.name}.curate-lock"
        self._fd: int | None = None

    def acquire(self) -> OutLock:
        held = OutLock._held.get(self.path)
        if held is not None:
            OutLock._held[self.path] = (held[0], held[1] + 1)
            return held[0]
        try:
            self._fd = _flock(self.path) if _HAVE_FLOCK else _pidfile(self.path)
        except BlockingIOError:
            owner = _owner(self.path)
            raise ExportError(f"{self.out} is being written by another curate run{owner}; it holds the lock "
                              f"{self.path}: wait for it to finish") from None
        except OSError as exc:
            raise ExportError(f"cannot take the lock {self.path} ({_reason(exc)})") from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())
        OutLock._held[self.path] = (self, 1)
        return self

    def release(self) -> None:
        owner, count = OutLock._held.get(self.path, (None, 0))
        if owner is None:
            return
        if count > 1:
            OutLock._held[self.path] = (owner, count - 1)
            return
        del OutLock._held[self.path]
        fd, owner._fd = owner._fd, None
        if fd is not None:
            try:
                os.unlink(self.path)  # while still locked: a waiter re-checks the inode (see _flock)
            except OSError:
                pass
            os.close(fd)

    def __enter__(self) -> OutLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


try:
    import fcntl

    _HAVE_FLOCK = True
except ImportError:  # Windows
    _HAVE_FLOCK = False


def _flock(path: Path) -> int:
    """An fd holding an exclusive flock on ``path``; BlockingIOError if another process holds it."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.path.exists(path) and os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd  # still the file at that path (not one unlinked by a releasing owner)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)


def _pidfile(path: Path) -> int:
    """Without flock: create ``path`` exclusively; take over the file of a process that is gone."""
    for _ in range(2):
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            pid = _pid_in(path)
            if pid is not None and _alive(pid):
                raise BlockingIOError(errno.EWOULDBLOCK, "locked") from None
            Path(path).unlink(missing_ok=True)  # a stale lock of a dead process
    raise BlockingIOError(errno.EWOULDBLOCK, "locked")


def _pid_in(path: Path) -> int | None:
    try:
        return int(Path(path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _owner(path: Path) -> str:
    pid = _pid_in(path)
    return f" (pid {pid})" if pid is not None else ""


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths; False where the OS or file system cannot."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        at_fdcwd, rename_exchange = -100, 2
        rc = libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        rc = libc.renamex_np(os.fsencode(a), os.fsencode(b), 0x2)  # RENAME_SWAP
    else:
        return False
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM):
        return False
    raise OSError(err, os.strerror(err), str(a), None, str(b))


def _link_tree(source: Path, target: Path) -> None:
    """Copy ``source`` into ``target`` as hard links (a real copy where links are not possible)."""
    try:
        shutil.copytree(source, target, copy_function=os.link)
    except OSError:
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _manifest_files(path: Path) -> set[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {str(name).split("/")[0] for name in data.get("files", {})}
    except (OSError, ValueError, AttributeError):
        return set()


def _inside(path: Path, folder: Path) -> bool:
    return path != folder and path.is_relative_to(folder)


_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS)


def _is_write_error(exc: BaseException, stage: Path) -> bool:
    """An error writing the outputs: the disk is full, or an OS error on a file being staged."""
    if isinstance(exc, CurateError):
        return False
    text = str(exc)  # polars reports I/O errors as "... (os error 28)", without errno or filename
    code = re.search(r"\(os error (\d+)\)", text)
    if code and int(code.group(1)) in _FULL:
        return True
    if isinstance(exc, OSError):
        names = [str(n) for n in (exc.filename, exc.filename2) if n is not None]
        return exc.errno in _FULL or any(n.startswith(str(stage)) for n in names) or str(stage) in text
    return type(exc).__module__.startswith("polars") and str(stage) in text


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split())[:200] or type(exc).__name__
