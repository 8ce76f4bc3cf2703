"""Reading the final answer out of a model output (stdlib only).

curate inlines this module into the python grader sources that import it (the line ends in
``# curate:inline``), so a built grader is one self-contained source, and the local runner and the
exported reward functions use the very same code.

Reasoning models write ``<think> ... </think>`` before their answer, and many models wrap the answer
in a fenced code block. ``final_answer`` keeps what comes after the last ``</think>`` (an output that
opens ``<think>`` and never closes it has no answer: ``""``), then the content of the last fenced
block when there is one (not inside a bare JSON object or list, whose strings may hold fences);
when it removed anything it also strips surrounding whitespace.

>>> final_answer("<think>It is 2 + 2.</think>\\n\\n4")
'4'
>>> final_answer('Answer:\\n```json\\n{"answer": "gout"}\\n```')
'{"answer": "gout"}'
>>> final_answer("<think>never finished")
''
>>> final_answer("  plain  ")
'  plain  '
"""

import json
import re

_THINK_END = "</think>"
_FENCE = re.compile(r"```[ \t]*(?:[A-Za-z0-9_+.#-]*[ \t]*\n)?(.*?)```", re.DOTALL)


def final_answer(text):
    """The answer part of ``text``: after the last ``</think>``, inside the last fenced block."""
    if not isinstance(text, str):
        return text
    out, changed = text, False
    end = out.rfind(_THINK_END)
    if end >= 0:
        out, changed = out[end + len(_THINK_END) :], True
    elif out.lstrip().startswith("<think>"):
        return ""
    bare = out.strip()
    is_json = bare[:1] in ("{", "[") and bare[-1:] in ("}", "]")  # fences inside JSON strings stay
    blocks = [] if is_json else _FENCE.findall(out)
    if blocks:
        out, changed = blocks[-1], True
    return out.strip() if changed else out


def read_answer(sample, answer_key, answer_from, extract):
    """The answer a python grader scores: ``output_json[answer_key]`` (answer_from "json"), the
    output text ("text"), or the JSON field when the output is a JSON object that has it, else the
    text ("auto"). ``extract`` reads the final answer first. None when there is no answer."""
    if not isinstance(sample, dict):
        return None
    text = sample.get("output_text")
    text = text if isinstance(text, str) else ""
    if extract:
        text = final_answer(text)
    if answer_from == "text" or answer_key is None:
        return text
    output = sample.get("output_json")
    if extract:
        try:
            output = json.loads(text)
        except (ValueError, RecursionError):
            output = None
    if isinstance(output, dict) and answer_key in output:
        return output[answer_key]
    return text if answer_from == "auto" else None
