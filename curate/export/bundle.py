"""Turn curated record frames into the :class:`ExportBundle` every target writes from."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from curate.errors import ConfigError
from curate.export.base import REFERENCE_JSON, ExportBundle
from curate.export.messages import message_lists
from curate.export.templates import render_column, render_once
from curate.frame import ANSWER, ANSWER_NORM, ID, LABEL_NAMES, LABELS, LINE, sorted_lists  # noqa: F401  (re-exported)
from curate.kinds.base import Kind
from curate.kinds.base import response_format as chat_format

RESERVED_KEYS = ("messages", "tools", "reference_answer", "id", REFERENCE_JSON)


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
    kind: Kind | None = None,
    response_format: bool = True,
) -> ExportBundle:
    """Render prompts and reference answers for each split (frames in the record-frame shape).

    ``kind`` (default ``labels``) types the reference; ``response_format=False`` exports no
    response format (plain-text answers)."""
    if kind is None:
        from curate.kinds import get_kind

        kind = get_kind("labels")
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
        context = frame.drop(LINE, LABELS, LABEL_NAMES, ANSWER, ANSWER_NORM, strict=False)  # never the answer
        content = render_column(user, context, {"label_names": names})
        turns = ([("developer", dev_text)] if dev_text else []) + [("user", content)]
        reference, reference_json = kind.references(frame)
        out[split] = frame.select(
            pl.lit(message_lists(turns, frame.height)).alias("messages"),
            pl.lit(reference).alias("reference_answer"),
            pl.col(ID),
            *[pl.col(p) for p in passthrough],
            pl.lit(reference_json).alias(REFERENCE_JSON),
        )
    schema = kind.response_schema(answer_key, tuple(names)) if response_format else None
    return ExportBundle(
        splits=out,
        label_names=tuple(names),
        response_format=chat_format(schema, answer_key),
        kind=kind,
        answer_key=answer_key,
        grader=grader,
        developer_prompt=dev_text,
        user_template=user,
        passthrough=tuple(passthrough),
        options=dict(options or {}),
    )


