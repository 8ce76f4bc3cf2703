"""The ``openai-evals`` target: the same data as an OpenAI eval, for a baseline with the training grader.

Files: ``eval_items_<split>.jsonl`` with one ``{"item": {...}}`` per line (``id``, the user message as
``text_input``, ``reference_answer``, passthrough fields), and ``eval.json`` holding the create-eval
request (custom data source with the item schema, the grader as testing criteria with a pass
threshold) and a create-run template (the one shared prompt template, the response format as
``text.format``). An eval shares one prompt template, so every row must share the messages before
the final user message. ``multi`` graders exist only for RFT: their sub-graders become separate
testing criteria (reported as a warning).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from curate.export._chat import (
    COMMON_PARAMS,
    dataset_finding,
    dumps,
    frame_schema,
    reserved_findings,
    warn,
    write_response_format,
)
from curate.export.base import ExportBundle
from curate.export.openai_rft import OpenAIRFT, write_jsonl
from curate.frame import ERROR, concat_findings, findings_for
from curate.options import Param

PARAMS = (
    *COMMON_PARAMS,
    Param("name", str, "curate eval"),
    Param("model", str, "o4-mini-2025-04-16"),
    Param("pass_threshold", (int, float), 0.8, low=0, high=1),
    Param("input_key", str, "text_input"),
)
NO_THRESHOLD = ("string_check", "label_model")  # binary graders: no pass_threshold field


def item_frame(frame: pl.DataFrame, input_key: str) -> pl.DataFrame:
    """The eval items of one split: id, the final user message, the reference and passthrough."""
    rest = [c for c in frame.columns if c not in ("messages", "id", "reference_answer")]
    return frame.select(
        pl.col("id"),
        pl.col("messages").list.last().struct.field("content").alias(input_key),
        pl.col("reference_answer"),
        *rest,
    )


def item_schema(bundle: ExportBundle, frames: Any) -> dict[str, Any]:
    """The eval's item schema: the columns' types, except a reference written as a spliced JSON value
    (a kind whose reference is any JSON value, held as JSON text in the bundle), which takes any value."""
    schema = frame_schema(frames)
    spliced = getattr(getattr(bundle, "kind", None), "splice_reference", False)
    if spliced and schema["properties"].get("reference_answer", {}).get("type") in ("string", ["string", "null"]):
        schema["properties"]["reference_answer"] = {}
    return schema


def testing_criteria(grader: dict[str, Any] | None, threshold: float) -> list[dict[str, Any]]:
    """The grader as eval testing criteria (a multi grader's sub-graders, one each)."""
    if grader is None:
        return []
    graders = list(grader["graders"].values()) if grader["type"] == "multi" else [grader]
    return [g if g["type"] in NO_THRESHOLD else {**g, "pass_threshold": threshold} for g in graders]


class OpenAIEvals(OpenAIRFT):
    """Eval items and an eval definition for baselines with the training grader."""

    name = "openai-evals"
    data_files = ("eval_items_train.jsonl", "eval_items_valid.jsonl", "eval_items_valid_production.jsonl")
    rows_are_rft = False

    def rft_view(self, rows: pl.DataFrame, reading: Any) -> pl.Expr:
        """An eval item ``{"item": {id, text_input, reference..., ...}}``: the input is the user message."""
        from curate.check.view_exprs import eval_view

        return eval_view(rows)

    def rft_row(self, row: dict[str, Any], reading: Any) -> dict[str, Any]:
        from curate.check.views import eval_item

        return eval_item(row)
    option_params = PARAMS
    allowed_roles = ("system", "developer", "user", "assistant")
    limits: dict[str, int] = {}

    def notice(self) -> str:
        return (f"{self.name}: OpenAI Evals was shut down on 2026-11-30 (read-only since 2026-10-31), so these "
                "files can no longer run there. For a baseline with the training grader, use `curate dryrun` "
                "(any OpenAI-compatible endpoint); OpenAI points evals users to Promptfoo.")

    def _opts(self, bundle: ExportBundle) -> dict[str, Any]:
        return self.check_options(bundle.options)

    def write(self, bundle: ExportBundle, folder: Path) -> list[str]:
        opts = self._opts(bundle)
        key = opts["input_key"]
        names, items = [], {}
        for split in bundle.splits:
            items[split] = item_frame(bundle.items(split), key)
            name = f"eval_items_{split}.jsonl"
            write_jsonl(items[split], folder / name, bundle.spliced(split), wrap="item", engine=bundle.engine)
            names.append(name)
        first = next(iter(bundle.splits.values()))
        shared = first["messages"].to_list()[0][:-1] if first.height else []
        template = [*shared, {"role": "user", "content": f"{{{{ item.{key} }}}}"}]
        schema = (bundle.response_format or {}).get("json_schema", {})
        text_format = {
            "type": "json_schema",
            **{k: schema[k] for k in ("name", "strict", "schema") if k in schema},
        } if bundle.response_format is not None else {"type": "text"}
        definition = {
            "eval": {
                "name": opts["name"],
                "data_source_config": {
                    "type": "custom",
                    "item_schema": item_schema(bundle, items.values()),
                    "include_sample_schema": True,
                },
                "testing_criteria": testing_criteria(bundle.grader, float(opts["pass_threshold"])),
            },
            "run": {
                "name": f"{opts['name']} baseline",
                "data_source": {
                    "type": "responses",
                    "model": opts["model"],
                    "input_messages": {"type": "template", "template": template},
                    "sampling_params": {"text": {"format": text_format}},
                    "source": {"type": "file_id", "id": "<file id of eval_items_valid.jsonl>"},
                },
            },
        }
        (folder / "eval.json").write_text(dumps(definition), encoding="utf-8")
        return [*names, "eval.json", *write_response_format(bundle, folder)]

    def lint(self, bundle: ExportBundle) -> pl.DataFrame:
        opts = self._opts(bundle)
        parts = [
            super().lint(bundle),
            reserved_findings(self.name, bundle, (opts["input_key"], "sample")),
        ]
        reference = None
        for frame in bundle.splits.values():
            prefixes = [m[:-1] for m in frame["messages"].to_list()]
            if reference is None and prefixes:
                reference = prefixes[0]
            bad = [i + 1 for i, p in enumerate(prefixes) if p != reference]
            rows = frame.with_row_index("line", offset=1).with_columns(
                pl.col("line").cast(pl.Int64)
            )
            parts.append(
                findings_for(
                    rows.filter(pl.col("line").is_in(bad)),
                    rule="target_prompt_not_shared",
                    severity=ERROR,
                    field="messages[:-1]",
                    message=f"{self.name}: an eval uses one prompt template, but this row's messages before "
                    "the last differ from the first row's",
                )  # fmt: skip
            )
        if bundle.grader is not None:
            if bundle.grader["type"] == "multi":
                parts.append(
                    warn(
                        "target_multi_grader_split",
                        f"{self.name}: evals have no multi grader; its sub-graders "
                        f"({', '.join(bundle.grader['graders'])}) become separate testing criteria and the "
                        f"formula {bundle.grader['calculate_output']!r} is not applied",
                    )
                )
            from curate.graders import lint_templates

            for split in bundle.splits:
                found = lint_templates(
                    bundle.grader, item_frame(bundle.items(split), opts["input_key"]),
                    has_response_format=bundle.response_format is not None,
                )
                parts.append(
                    found.with_columns(
                        pl.concat_str(pl.lit(f"{self.name} eval_items_{split}.jsonl: "), "message")
                    )
                )
        if not bundle.splits:
            parts.append(dataset_finding("target_no_rows", f"{self.name}: nothing to export"))
        return concat_findings(parts)
