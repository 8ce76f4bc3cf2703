"""Turn curated record frames into the :class:`ExportBundle` every target writes from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from curate.errors import ConfigError
from curate.export.base import ExportBundle
from curate.export.messages import message_lists
from curate.export.response_format import response_format
from curate.export.templates import render_column, render_once
from curate.frame import ID, LABEL_NAMES, LABELS, LINE, sorted_lists

RESERVED_KEYS = ("messages", "tools", "reference_answer", "id")


def build_bundle(
    splits: Mapping[str, pl.DataFrame],
    *,
    label_names: Sequence[str],
    developer: str,
    user: str,
    answer_key: str = "labels",
    passthrough: Sequence[str] = (),
    grader: dict[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> ExportBundle:
    """Render prompts and reference answers for each split (frames in the record-frame shape)."""
    clash = sorted(set(passthrough) & set(RESERVED_KEYS))
    if clash:
        raise ConfigError(f"export.passthrough: {clash[0]!r} is a reserved key of the exported rows")
    names = sorted(set(label_names))
    dev_text = render_once(developer, {"label_names": names}, "developer prompt") if developer else ""
    out = {}
    for split, frame in splits.items():
        missing = [p for p in passthrough if p not in frame.columns]
        if missing:
            raise ConfigError(
                f"export.passthrough: {missing[0]!r} is not a field of the records; map it in source.passthrough"
            )
        context = frame.drop(LINE, LABELS, LABEL_NAMES, strict=False)
        content = render_column(user, context, {"label_names": names})
        turns = ([("developer", dev_text)] if dev_text else []) + [("user", content)]
        out[split] = frame.select(
            pl.lit(message_lists(turns, frame.height)).alias("messages"),
            sorted_lists(frame[LABEL_NAMES]).alias("reference_answer"),
            pl.col(ID),
            *[pl.col(p) for p in passthrough],
        )
    return ExportBundle(
        splits=out,
        label_names=tuple(names),
        response_format=response_format(names, answer_key),
        answer_key=answer_key,
        grader=grader,
        developer_prompt=dev_text,
        user_template=user,
        passthrough=tuple(passthrough),
        options=dict(options or {}),
    )


