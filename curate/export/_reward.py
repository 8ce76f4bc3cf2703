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
        if REFERENCE_IS_JSON and isinstance(item.get("reference_answer"), str):  # a JSON value held as text
            item["reference_answer"] = json.loads(item["reference_answer"])
        if prompts is not None:
            item["messages"] = prompts[i]
        items.append(item)
    return grade_texts([_text(c) for c in completions], items)


reward.__name__ = @NAME@
'''

_VERL = '''


def compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs):
    """verl custom reward (verl 0.9: ``reward.custom_reward_function.path=reward.py``, ``.name=compute_score``).
    ``ground_truth`` is the reference answer (JSON text unless it is a string); ``extra_info["item"]``
    the row's other fields."""
    item = json.loads(extra_info["item"]) if isinstance(extra_info, dict) and extra_info.get("item") else {}
    item["reference_answer"] = json.loads(ground_truth) if REFERENCE_IS_JSON else ground_truth
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

_GEMINI = '''


def _parts_text(content):
    """The text of a Gemini ``Content`` (``{"role", "parts": [{"text"}]}``), thought parts left out."""
    if isinstance(content, str):
        return content
    if not isinstance(content, dict):
        return ""
    parts = content.get("parts")
    if not isinstance(parts, list):
        return content.get("text") if isinstance(content.get("text"), str) else ""
    texts = [p.get("text") for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str) and not p.get("thought")]
    return "".join(texts)


def item_of(example):
    """The grader's item rebuilt from a dataset line: ``references`` (the reference answer under
    REFERENCE_KEY, the id and passthrough fields) and ``messages`` from systemInstruction + contents."""
    item = {}
    for key, value in (example.get("references") or {}).items():
        if key == REFERENCE_KEY:
            item["reference_answer"] = json.loads(value) if REFERENCE_IS_JSON else value
        elif key in JSON_FIELDS:
            item[key] = json.loads(value) if value != "" else None
        else:
            item[key] = value
    messages = []
    if example.get("systemInstruction"):
        messages.append({"role": "developer", "content": _parts_text(example["systemInstruction"])})
    for turn in example.get("contents") or []:
        role = turn.get("role") if isinstance(turn, dict) else "user"
        messages.append({"role": "assistant" if role == "model" else role, "content": _parts_text(turn)})
    item["messages"] = messages
    return item


def evaluate(example, response):
    """Gemini RL tuning reward: the score of the model's ``response`` (a Content dict, its parts or
    a plain string) for the dataset line ``example``, with the export's grader."""
    if isinstance(response, list):
        response = {"parts": response}
    return grade_texts([_parts_text(response)], [item_of(example)])[0]
'''


# constants each flavour's code reads, unless the target passes its own
_DEFAULTS: dict[str, dict[str, Any]] = {
    "trl": {"REFERENCE_IS_JSON": False},  # columns hold the item's values
    "verl": {"REFERENCE_IS_JSON": True},  # ground_truth is JSON text
    "gemini": {"REFERENCE_KEY": "reference_answer", "REFERENCE_IS_JSON": True, "JSON_FIELDS": []},
}


def reward_module(
    grader: Mapping[str, Any],
    flavour: str,
    *,
    header: str,
    columns: Sequence[str] = (),
    constants: Mapping[str, Any] | None = None,
    extract_answer: bool = True,
) -> str:
    """Python source of a reward module (``flavour``: ``trl``, ``verl``, ``bedrock`` or ``gemini``);
    ``constants`` become module-level assignments (``NAME = repr(value)``) before the flavour's code.
    ``extract_answer``: template and model graders read the final answer (after ``</think>``,
    inside a fenced block), as :class:`~curate.graders.LocalGrader` does; python graders get the
    completion as it is (curate's python presets read the final answer themselves)."""
    body = {"trl": _TRL, "verl": _VERL, "bedrock": _BEDROCK, "gemini": _GEMINI}[flavour]
    grader_json = json.dumps(grader, ensure_ascii=False, sort_keys=True)
    constants = {**_DEFAULTS.get(flavour, {}), **(constants or {})}
    assigned = "".join(f"{name} = {value!r}\n" for name, value in constants.items())
    text = f'"""{header}\n"""\n' + _RUNTIME + ("\n" + assigned if assigned else "") + body
    text = text.replace("@EXTRACT@", repr(bool(extract_answer)))
    text = text.replace("@COLUMNS@", repr(list(columns))).replace(
        "@NAME@", repr(str(grader.get("name", "reward")))
    )
    return text.replace("@GRADER@", repr(grader_json))
