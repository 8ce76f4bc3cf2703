"""Task kinds: what a reference answer is and how every stage treats it.

One module per kind, registered here; stages ask the kind (see :class:`curate.kinds.base.Kind`)
instead of branching on its name.

=================  ==============================  ======================================
kind               reference_answer                comparison key (``answer_norm``)
=================  ==============================  ======================================
``labels``         sorted list of label names      (the set of names, ``label_names``)
``single_label``   one label name                  (``label_names``)
``text``           the string as given             NFKC, case-folded, punctuation and
                                                   extra spaces removed
``number``         the number                      its value ("1,000" = "1e3" = 1000)
``json``           the JSON value                  canonical JSON (sorted keys, compact)
``math``           the string as given             symbolic equivalence (math-verify)
=================  ==============================  ======================================

>>> get_kind("number").name, get_kind("labels").is_labels
('number', True)
>>> sorted(KINDS)
['json', 'labels', 'math', 'number', 'single_label', 'text']
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import curate.kinds.json
import curate.kinds.labels
import curate.kinds.math
import curate.kinds.number
import curate.kinds.single_label
import curate.kinds.text  # noqa: F401  (each module registers its kind)
from curate.errors import ConfigError
from curate.kinds.base import AnswerKind, Kind

KINDS: dict[str, type[Kind]] = Kind.registry
ANSWER_KINDS = tuple(sorted(name for name, cls in KINDS.items() if not cls.is_labels))

__all__ = ["ANSWER_KINDS", "KINDS", "AnswerKind", "Kind", "get_kind", "kind_from_config"]


def get_kind(name: str, options: Mapping[str, Any] | None = None, *, base_dir: Path | None = None,
             where: str = "") -> Kind:
    """The registered kind called ``name``, configured with ``options``."""
    cls = KINDS.get(name)
    if cls is None:
        raise ConfigError(f"{where}unknown task kind {name!r}; known kinds: {', '.join(sorted(KINDS))}")
    return cls(base_dir, where, **dict(options or {}))


def kind_from_config(answer: Mapping[str, Any] | None, labels: Mapping[str, Any] | None, *,
                     answer_field: str | None, base_dir: Path | None = None, where: str = "") -> Kind:
    """The kind a pipeline describes: ``source.answer`` (``answer_field``) with an ``answer:``
    section, or labels with an optional ``labels:`` section (``single: true`` gives ``single_label``)."""
    if answer_field is not None:
        if labels is not None:
            raise ConfigError(f"{where}labels: a 'labels' section belongs to a label task; this pipeline maps "
                              "source.answer (use the 'answer' section)")
        options = dict(answer or {})
        name = options.pop("kind", "text")
        if name not in ANSWER_KINDS:
            raise ConfigError(f"{where}answer: The 'kind' parameter of answer must be one of "
                              f"{', '.join(repr(k) for k in ANSWER_KINDS)}. Got {name!r} instead.")
        kind = get_kind(name, options, base_dir=base_dir, where=f"{where}answer: ")
        kind.field = answer_field  # findings name the user's field
        return kind
    if answer is not None:
        raise ConfigError(f"{where}answer: an 'answer' section needs source.answer (the reference answer "
                          "field); this pipeline maps source.labels")
    options = dict(labels or {})
    name = "single_label" if options.get("single") is True else "labels"
    return get_kind(name, options, base_dir=base_dir, where=f"{where}labels: ")
