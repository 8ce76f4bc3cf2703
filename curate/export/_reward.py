"""Generate the reward-function modules shipped with the TRL, verl and Bedrock exports.

Each module embeds the export's grader JSON and scores model outputs with it: through
``curate.graders.LocalGrader`` (in-process) when curate is installed, else by running a ``python``
grader's source directly with the same ``sample`` object and the same "errors score 0" rule. Either
way the numbers equal the local runner's, the dry run's and the platform's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

_RUNTIME = '''
import json
import math
import numbers
import os

GRADER = json.loads(@GRADER@)
EXTRACT_ANSWER = @EXTRACT@  # string_check/text_similarity/model graders read the final answer

_runner = None


def make_sample(text):
    """The grader's ``sample``: the output text and, when it parses as JSON, ``output_json``."""
    text = "" if text is None else str(text)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    return {"output_text": text, "output_json": parsed, "output_tools": []}


def _standalone():
    if GRADER["type"] != "python":
        raise RuntimeError(
            f"the {GRADER['type']} grader {GRADER['name']!r} needs curate to run: pip install curate"
        )
    namespace = {"__name__": "grader"}
    exec(compile(GRADER["source"], "<grader>", "exec"), namespace)
    grade = namespace["grade"]

    def run(texts, items):
        scores = []
        for text, item in zip(texts, items):
            try:
                value = grade(make_sample(text), item)
            except Exception:
                value = 0.0
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
            scores.append(float(value) if ok else 0.0)
        return scores

    return run


def _make_runner():
    if os.environ.get("CURATE_REWARD_STANDALONE") != "1":
        try:
            from curate.graders import LocalGrader
        except ImportError:
            LocalGrader = None
        if LocalGrader is not None:
            local = LocalGrader(GRADER, workers=0, extract_answer=EXTRACT_ANSWER)
            return lambda texts, items: [r.score for r in local.grade_many(list(zip(texts, items)))]
    return _standalone()


def grade_texts(texts, items):
    """Scores of model output ``texts`` against grader ``items`` (dicts shaped like exported rows)."""
    global _runner
    if _runner is None:
        _runner = _make_runner()
    return _runner(list(texts), list(items))
'''

_TRL = '''

ITEM_COLUMNS = @COLUMNS@


def _text(completion):
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):  # conversational: the assistant turn(s)
        parts = [m.get("content") or "" for m in completion if isinstance(m, dict) and m.get("role") == "assistant"]
        return parts[-1] if parts else ""
    return ""


def reward(prompts=None, completions=None, **kwargs):
    """TRL reward function: ``GRPOTrainer(..., reward_funcs=[reward])``. Dataset columns arrive as
    keyword lists; each completion is scored against its row, with ``messages`` set to its prompt."""
    items = []
    for i in range(len(completions)):
        item = {key: kwargs[key][i] for key in ITEM_COLUMNS if key in kwargs}
        if prompts is not None:
            item["messages"] = prompts[i]
        items.append(item)
    return grade_texts([_text(c) for c in completions], items)


reward.__name__ = @NAME@
'''

_VERL = '''


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    """verl custom reward: ``custom_reward_function.path=reward.py`` and ``.name=compute_score``.
    ``ground_truth`` is the JSON reference answer; ``extra_info["item"]`` the row's other fields."""
    item = json.loads(extra_info["item"]) if isinstance(extra_info, dict) and extra_info.get("item") else {}
    item["reference_answer"] = json.loads(ground_truth)
    return grade_texts([solution_str], [item])[0]
'''

_BEDROCK = '''


def _score_one(sample):
    messages = list(sample.get("messages") or [])
    text = ""
    if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "assistant":
        text = messages.pop().get("content") or ""
    item = dict(sample)
    item["messages"] = messages
    return grade_texts([text], [item])[0]


def lambda_handler(event, context):
    """Bedrock (Nova) RFT reward Lambda: each sample is a training row plus the model's answer as a
    final assistant message; returns one reward per sample, keyed by the sample's ``id``."""
    samples = event if isinstance(event, list) else (event.get("samples") or [event])
    out = []
    for sample in samples:
        score = _score_one(sample)
        out.append({
            "id": sample.get("id"),
            "aggregate_reward_score": score,
            "metrics_list": [{"name": GRADER["name"], "value": score, "type": "Reward"}],
        })
    return out
'''


def reward_module(
    grader: Mapping[str, Any],
    flavour: str,
    *,
    header: str,
    columns: Sequence[str] = (),
    extract_answer: bool = True,
) -> str:
    """Python source of a reward module (``flavour``: ``trl``, ``verl`` or ``bedrock``).
    ``extract_answer``: template and model graders read the final answer (after ``</think>``,
    inside a fenced block), as :class:`~curate.graders.LocalGrader` does; python graders get the
    completion as it is (curate's python presets read the final answer themselves)."""
    body = {"trl": _TRL, "verl": _VERL, "bedrock": _BEDROCK}[flavour]
    grader_json = json.dumps(grader, ensure_ascii=False, sort_keys=True)
    text = f'"""{header}\n"""\n' + _RUNTIME + body
    text = text.replace("@EXTRACT@", repr(bool(extract_answer)))
    text = text.replace("@COLUMNS@", repr(list(columns))).replace(
        "@NAME@", repr(str(grader.get("name", "reward")))
    )
    return text.replace("@GRADER@", repr(grader_json))
