"""Exceptions raised by curate.

Bad *rows* never raise: they become findings and land in the rejected ledger. Exceptions are for
misuse and for problems that make a run impossible before any work starts::

    CurateError
    ├── ConfigError        a pipeline file, rule pack or grader that cannot be used as written
    ├── SourceError        an input file that is missing, unreadable or in an unknown format
    ├── VocabularyError    a label vocabulary file that cannot be used
    ├── ExportError        an export that would break its target's contract
    ├── SelectionError     the pool cannot be balanced or split as asked (empty, too small)
    ├── LedgerError        the row accounting does not add up (a bug: never ignored)
    ├── GateFailed         a pre-training check said no-go (outputs are written; exit code 1)
    ├── EngineError        the distributed engine failed (Ray could not start, a worker was lost)
    └── MissingDependency  an optional extra is not installed; the message has the pip command
"""

from __future__ import annotations


class CurateError(Exception):
    """Base class of every error curate raises on purpose."""


class ConfigError(CurateError):
    """A configuration file or argument cannot be used as written."""


class SourceError(CurateError):
    """An input file is missing, unreadable, or not in a format curate reads."""


class VocabularyError(CurateError):
    """A label vocabulary cannot be used."""


class ExportError(CurateError):
    """An export would break its target's contract."""


class SelectionError(CurateError):
    """The pool cannot be selected from or split as asked (empty, too small, ...)."""


class LedgerError(CurateError):
    """Every input row must end in exactly one place; this one did not."""


class GateFailed(CurateError):
    """A check that gates training (e.g. the dry run) said no-go. Outputs are kept."""


class EngineError(CurateError):
    """The engine running the row stages failed (Ray could not start, lost a worker or a node)."""


class MissingDependency(CurateError, ImportError):
    """An optional dependency is missing.

    >>> str(MissingDependency("datasets", "hf"))
    "reading a Hugging Face dataset needs the 'datasets' package: pip install 'curate[hf]'"
    """

    def __init__(self, package: str, extra: str, purpose: str | None = None) -> None:
        purposes = {
            "hf": "reading a Hugging Face dataset",
            "skml": "the scikit-multilearn split method",
            "gx": "the great-expectations integration",
            "similarity": "text similarity grading",
            "math": "the math_equivalence grader",
            "ray": "the Ray engine",
        }
        what = purpose or purposes.get(extra, f"this feature ({extra})")
        super().__init__(f"{what} needs the {package!r} package: pip install 'curate[{extra}]'")
        self.package = package
        self.extra = extra
