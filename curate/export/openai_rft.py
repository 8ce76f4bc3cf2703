"""The ``openai-rft`` target: reinforcement fine-tuning JSONL (train and validation files).

Each line: ``messages`` (developer prompt, then the user message: it must end on ``user``), the
``reference_answer``, the ``id`` and passthrough fields; graders read them as ``{{item.key}}``.
Also writes ``response_format.json`` for the job's ``method.reinforcement.response_format``.
Row limits (50,000 train, 1,000 validation) are errors unless ``export.options.enforce_row_limits``
is false (for same-shape platforms with other limits).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

import polars as pl

from curate._threads import ordered_map
from curate.export._reference import reference_findings
from curate.export.base import SPLIT_FILES, ExportBundle, ExportTarget
from curate.frame import ERROR, WARN, concat_findings, findings_for
from curate.manifest import remember_sha256
from curate.options import Param

OPTIONS = (Param("enforce_row_limits", bool, True),)
ALLOWED_ROLES = ("developer", "user", "assistant", "tool")
LIMITS = {"train": 50_000, "valid": 1_000, "valid_production": 1_000}


WRITE_ROWS = 4_096  # rows turned into JSON lines at a time (a few slices at once, one per core: 16,384 cost +156 MB at 1M rows)


def write_jsonl(frame: pl.DataFrame, path: Path, reference_json: pl.Series | None = None,
                wrap: str | None = None, engine: Any = None) -> None:
    """One compact JSON object per line, keys in column order, UTF-8.

    ``reference_json`` (JSON literals, one per row) is spliced verbatim as the value of
    ``reference_answer``, so numbers and JSON objects keep their type; ``wrap`` nests each row
    under that key (``{"item": {...}}``). ``engine`` (:class:`curate.engine.Engine`): where the
    lines are serialised (the Ray engine: per block on its workers, by this function); None: here.
    """
    if engine is not None:
        engine.write_jsonl(frame, path, reference_json, wrap)
        return

    def encoded(start: int) -> bytes:
        if reference_json is None:
            part = frame.slice(start, WRITE_ROWS)
            buffer = io.BytesIO()
            (part.select(pl.struct(pl.all()).alias(wrap)) if wrap else part).write_ndjson(buffer)
            return buffer.getvalue()
        lines = json_lines(frame.slice(start, WRITE_ROWS), reference_json.slice(start, WRITE_ROWS))
        if wrap:
            lines = pl.concat_str(pl.lit(f'{{"{wrap}":'), lines, pl.lit("}"))
        return pl.select(lines.str.join("\n")).item().encode("utf-8") + b"\n"

    # a slice of rows at a time (no whole-file string in memory), encoded on all cores, in order;
    # hashed as it goes out (the manifest's checksum then needs no second read)
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        for _, data in ordered_map(encoded, range(0, frame.height, WRITE_ROWS)):
            fh.write(data)
            digest.update(data)
    remember_sha256(path, digest.hexdigest())


def json_lines(frame: pl.DataFrame, reference_json: pl.Series) -> pl.Expr:
    """Each row as a JSON object text with ``reference_json`` spliced as ``reference_answer``."""
    names = frame.columns
    at = names.index("reference_answer")
    before, after = names[:at], names[at + 1:]
    parts: list[pl.Expr] = []
    if before:
        parts += [pl.lit(frame.select(pl.struct(before).struct.json_encode()).to_series()).str.head(-1), pl.lit(",")]
    else:
        parts.append(pl.lit("{"))
    parts += [pl.lit('"reference_answer":'), pl.lit(reference_json)]
    if after:
        parts += [pl.lit(","), pl.lit(frame.select(pl.struct(after).struct.json_encode()).to_series()).str.slice(1)]
    else:
        parts.append(pl.lit("}"))
    return pl.concat_str(parts)


class OpenAIRFT(ExportTarget):
    """Train/validation JSONL for OpenAI (and same-shape) reinforcement fine-tuning jobs."""

    name = "openai-rft"
    allowed_roles: tuple[str, ...] = ALLOWED_ROLES
    limits: dict[str, int] = LIMITS
    option_params = OPTIONS
    reference_as_text = False  # True when the format holds the reference as a string

    def write(self, bundle: ExportBundle, folder: Path) -> list[str]:
        written = []
        for split in bundle.splits:
            write_jsonl(bundle.items(split), folder / SPLIT_FILES[split], bundle.spliced(split), engine=bundle.engine)
            written.append(SPLIT_FILES[split])
        if bundle.response_format is None:
            return written
        (folder / "response_format.json").write_text(
            json.dumps(bundle.response_format, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        return [*written, "response_format.json"]

    def notice(self) -> str:
        if self.name != OpenAIRFT.name:  # same-shape subclasses are other platforms
            return ""
        from curate.export.base import ExportTarget, target_names

        same = [f"{n} ({ExportTarget.registry[n].same_file})" for n in target_names() if ExportTarget.registry[n].same_file]
        others = [n for n in target_names() if n != self.name and not ExportTarget.registry[n].same_file
                  and n != "openai-evals"]
        return (f"{self.name}: OpenAI takes no new fine-tuning jobs from 2027-01-06 (self-serve fine-tuning is "
                f"closing; inactive organisations are blocked already). These files also fit {'; '.join(same)}; "
                "Fireworks RFT reads the same messages. The same curated data exports for "
                f"{', '.join(others)}: set export.target.")

    def lint(self, bundle: ExportBundle) -> pl.DataFrame:
        parts = [self.notice_findings(), reference_findings(self.name, bundle, as_text=self.reference_as_text)]
        for split, frame in bundle.splits.items():
            rows = frame.with_row_index("line", offset=1).with_columns(pl.col("line").cast(pl.Int64))
            roles = pl.col("messages").list.eval(pl.element().struct.field("role"))
            last = pl.col("messages").list.last().struct.field("role")
            bad_role = rows.filter(roles.list.eval(~pl.element().is_in(self.allowed_roles)).list.any())
            parts.append(findings_for(bad_role, rule="target_role", severity=ERROR, field="messages",
                                      message=f"{self.name}: roles must be one of {', '.join(self.allowed_roles)}"))
            bad_last = rows.filter(last.fill_null("") != "user")
            parts.append(findings_for(bad_last, rule="target_last_message_role", severity=ERROR,
                                      field="messages[-1].role", value=last,
                                      message=f"{self.name}: the last message must come from the user"))
            limit = self.limits.get(split)
            if limit is not None and frame.height > limit:
                over = rows.slice(limit, 1)
                severity = ERROR if bundle.options.get("enforce_row_limits", True) else WARN
                parts.append(findings_for(over, rule="target_row_limit", severity=severity, field=None,
                                          message=f"{self.name}: {SPLIT_FILES[split]} has {frame.height} rows; "
                                                  f"the limit is {limit}"))
        return concat_findings(parts)
