"""The ``azure-rft`` target: Azure AI Foundry reinforcement fine-tuning (o4-mini).

Same line format as OpenAI RFT (``messages`` ending on ``user``, ``reference_answer`` and other keys
for graders); the preview docs reject ``system`` messages, so roles are developer, user, assistant,
tool. Also writes ``azure_job.json``: the job request with the grader and response format filled in
(upload the files and replace the two file ids).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from curate.export._chat import COMMON_PARAMS, dumps
from curate.export.base import ExportBundle
from curate.export.openai_rft import OpenAIRFT
from curate.frame import concat_findings
from curate.options import Param

PARAMS = (
    *COMMON_PARAMS,
    Param("model", str, "o4-mini-2025-04-16"),
    Param("suffix", str, None, nullable=True),
)


class AzureRFT(OpenAIRFT):
    """Train/validation JSONL plus a job request for Azure AI Foundry RFT."""

    name = "azure-rft"
    option_params = PARAMS
    allowed_roles = ("developer", "user", "assistant", "tool")
    same_file = "the same train.jsonl and valid.jsonl; no system messages"

    def write(self, bundle: ExportBundle, folder: Path) -> list[str]:
        opts = self.check_options(bundle.options)
        names = super().write(bundle, folder)
        reinforcement = {"grader": bundle.grader, "response_format": bundle.response_format}
        job = {
            "model": opts["model"],
            "training_file": "<file id of train.jsonl>",
            "validation_file": "<file id of valid.jsonl>",
            **({"suffix": opts["suffix"]} if opts["suffix"] else {}),
            "method": {
                "type": "reinforcement",
                "reinforcement": {k: v for k, v in reinforcement.items() if v},
            },
        }
        (folder / "azure_job.json").write_text(dumps(job), encoding="utf-8")
        return [*names, "azure_job.json"]

    def lint(self, bundle: ExportBundle) -> pl.DataFrame:
        self.check_options(bundle.options)
        return concat_findings([super().lint(bundle)])
