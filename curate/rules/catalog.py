"""Imports every built-in rule module so their classes register (see :class:`curate.rules.base.Rule`)."""

from curate.rules import answers, duplicates, ids, labels, length, stage, text  # noqa: F401
