"""The ``curate`` command line: a thin shell over the Python API.

Each command lives in its own module with a ``register(app)`` function. The typer app is built on
first use (``from curate.cli import app``), because typer, click and the pydantic it coerces
parameters with take a quarter of a second to import: ``curate check FILE...`` (the pre-commit
hook) with plain arguments goes straight to :func:`curate.check.main`, the code path the typer
command calls too, and skips them. Anything else (``--help``, unknown options, no files) goes
through typer, so help and usage errors stay typer's.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import typer

    app: typer.Typer

__all__ = ["COMMAND_MODULES", "app", "build_app", "main"]

COMMAND_MODULES = ("run", "check", "grade", "dryrun", "inspect", "explain")
CHECK_FLAGS = ("--near", "--no-warnings", "--quiet")
VALUE_FLAGS = ("--rules", "--target")


def build_app() -> typer.Typer:
    """The typer app with every command module's commands registered."""
    import typer

    app = typer.Typer(
        name="curate",
        help="Curate raw records into datasets that are safe to spend a reinforcement fine-tuning run on.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,  # plain help that wraps at any width (rich crops cells with "…")
        context_settings={"max_content_width": 120},
    )
    for name in COMMAND_MODULES:
        module_name = f"curate.cli.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a command still being built in parallel
            if exc.name == module_name:
                continue
            raise
        module.register(app)
    return app


def __getattr__(name: str) -> Any:
    if name == "app":
        built = build_app()
        globals()["app"] = built
        return built
    raise AttributeError(f"module 'curate.cli' has no attribute {name!r}")


def plain_check(argv: Sequence[str]) -> bool:
    """True for ``check FILE... [--rules PACK] [--target NAME] [--near] [--no-warnings] [--quiet]``: arguments that
    :func:`curate.check.main` parses exactly as the typer command does.

    >>> plain_check(["check", "train.jsonl", "--rules", "strict", "--near"])
    True
    >>> plain_check(["check", "--help"]), plain_check(["check"]), plain_check(["run", "x.yaml"])
    (False, False, False)
    """
    if len(argv) < 2 or argv[0] != "check":
        return False
    files, i = 0, 1
    while i < len(argv):
        arg = argv[i]
        if arg in VALUE_FLAGS:
            if i + 1 == len(argv) or argv[i + 1].startswith("-"):
                return False
            i += 2
            continue
        if any(arg.startswith(f + "=") and len(arg) > len(f) + 1 for f in VALUE_FLAGS):
            pass
        elif arg in CHECK_FLAGS:
            pass
        elif arg.startswith("-"):
            return False
        else:
            files += 1
        i += 1
    return files > 0


def main() -> None:
    """Entry point of the ``curate`` console script; every command runs under one guard
    (:mod:`curate.cli.guard`): one line and an exit code for any exception, never a traceback."""
    try:
        _main(sys.argv[1:])
    except BrokenPipeError:
        # the reader went away (``curate check ... | head``): stop quietly, as Unix tools do;
        # stdout goes to /dev/null so the interpreter's final flush cannot raise again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)


def _main(argv: list[str]) -> None:
    from curate.cli.guard import guarded

    if plain_check(argv):
        from curate.check import main as check_main

        code = guarded(lambda: check_main(argv[1:]))
        # the process ends here: keep the interpreter's final garbage collections from walking
        # every object polars created (about 0.05 s of a hook run)
        gc.freeze()
        sys.exit(code)
    sys.exit(guarded(lambda: (globals().get("app") or __getattr__("app"))()))
