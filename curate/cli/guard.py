"""The one top-level guard of every ``curate`` command: no traceback ever reaches the terminal.

=====================================  ==========================================================
raised                                 printed (one line on standard error) and exit code
=====================================  ==========================================================
``GateFailed``                         ``no-go: ...``, exit 1 (a gate said no)
any other ``CurateError``              ``error: ...``, exit 2 (input, configuration)
``OSError`` (disk full, permissions)   ``error: PATH: reason``, exit 2 (environment)
``MemoryError``                        ``error: out of memory ...``, exit 2
``KeyboardInterrupt``                  ``interrupted``, exit 130
anything else (a bug in curate)        ``internal error ...`` and the path of the saved
                                       traceback, exit :data:`EXIT_BUG` (70, EX_SOFTWARE)
=====================================  ==========================================================

The traceback file is written to ``$CURATE_CRASH_DIR`` (default: ``~/.cache/curate/crashes``, else
the temporary folder), readable by the user only, with the values of secret-looking environment
variables (``*KEY*``, ``*TOKEN*``, ``*SECRET*``, ``*PASSWORD*``) masked. This module imports nothing
heavy: the pre-commit hook path goes through it too.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

EXIT_GATE = 1
EXIT_ERROR = 2
EXIT_BUG = 70  # sysexits.h EX_SOFTWARE: an internal software error
EXIT_INTERRUPTED = 130
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW", re.IGNORECASE)


def guarded(body: Callable[[], int | None], prog: str = "curate") -> int:
    """Run ``body`` and turn every exception into one line and an exit code (see the module doc).

    ``SystemExit`` (typer's own exits, usage errors) passes through untouched.
    """
    from curate.errors import CurateError, GateFailed

    try:
        return int(body() or 0)
    except SystemExit:
        raise
    except GateFailed as exc:
        _say(f"no-go: {_one_line(exc)}")
        return EXIT_GATE
    except CurateError as exc:
        _say(f"error: {_one_line(exc)}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _say("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `curate grader build ... | head -1`
        _silence_stdout()
        return EXIT_GATE
    except OSError as exc:
        _say(f"error: {describe_os_error(exc)}")
        return EXIT_ERROR
    except MemoryError:
        _say("error: out of memory; try a smaller source or a machine with more memory")
        return EXIT_ERROR
    except BaseException as exc:  # a bug: keep the traceback, but in a file
        where = save_traceback(exc)
        what = f"{type(exc).__name__}: {_one_line(exc)}" if str(exc) else type(exc).__name__
        saved = f"the traceback is in {where}" if where else "the traceback could not be saved"
        _say(f"{prog}: internal error ({_mask(what)[:300]}); {saved}; please report it")
        return EXIT_BUG


def describe_os_error(exc: OSError) -> str:
    """``PATH: reason`` for an operating-system error (the path when the error names one)."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{' -> '.join(paths)}: {reason}" if paths else reason


def save_traceback(exc: BaseException) -> Path | None:
    """Write ``exc``'s traceback to a private file; its path, or None if nothing could be written."""
    import traceback

    text = _mask("".join(traceback.format_exception(exc)))
    header = _mask(f"curate {_version()}: {' '.join(sys.argv)}\npython {sys.version.split()[0]} {sys.platform}\n\n")
    name = f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    for folder in _crash_dirs():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as fh:
                fh.write(header + text)
            return path
        except OSError:
            continue
    return None


def _crash_dirs() -> list[Path]:
    import tempfile

    dirs = []
    if os.environ.get("CURATE_CRASH_DIR"):
        dirs.append(Path(os.environ["CURATE_CRASH_DIR"]))
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    dirs += [Path(cache) / "curate" / "crashes", Path(tempfile.gettempdir()) / "curate-crashes"]
    return dirs


def _mask(text: str) -> str:
    for name, value in os.environ.items():
        if len(value) >= 8 and _SECRET_NAME.search(name) and value in text:
            text = text.replace(value, "***")
    return text


def _one_line(exc: BaseException) -> str:
    return " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _say(message: str) -> None:
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _version() -> str:
    try:
        from curate._version import __version__

        return __version__
    except Exception:  # noqa: BLE001 - the crash report must not crash
        return "?"
