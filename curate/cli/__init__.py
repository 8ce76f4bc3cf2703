"""The ``curate`` command line: a thin shell over the Python API.

Each command lives in its own module with a ``register(app)`` function.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="curate",
    help="Curate raw records into datasets that are safe to spend a reinforcement fine-tuning run on.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = ("run", "check", "grade", "dryrun")


def _register_commands() -> None:
    for name in COMMAND_MODULES:
        module_name = f"curate.cli.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a command still being built in parallel
            if exc.name == module_name:
                continue
            raise
        module.register(app)


_register_commands()


def main() -> None:
    """Entry point of the ``curate`` console script."""
    app()
