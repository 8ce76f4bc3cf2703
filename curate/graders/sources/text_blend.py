"""The OpenAI cookbook's blend for short free-text answers (the medical RFT example):
``FUZZY_WEIGHT * fuzzy + EXACT_WEIGHT * exact``, 0.85 and 0.15 by default.

fuzzy is ``rapidfuzz.fuzz.token_set_ratio(answer, reference, processor=utils.default_process) / 100``
(case, punctuation and word order ignored; rapidfuzz is in the platform's python grader sandbox);
exact is 1.0 when the answer equals the reference string exactly. The answer is read by
``read_answer`` (ANSWER_FROM: "json", "text" or "auto"; EXTRACT_ANSWER reads the final answer after
``</think>`` and inside a fenced code block first). Malformed samples score 0.0, never raise.
"""

from rapidfuzz import fuzz, utils

from curate.graders.sources._answer import read_answer  # curate:inline

ANSWER_KEY = "answer"
REFERENCE_KEY = "reference_answer"
ANSWER_FROM = "auto"
EXTRACT_ANSWER = True
FUZZY_WEIGHT = 0.85
EXACT_WEIGHT = 0.15


def grade(sample, item):
    """Blend of token-set fuzzy similarity and exact equality, in [0, FUZZY_WEIGHT + EXACT_WEIGHT]."""
    answer = read_answer(sample, ANSWER_KEY, ANSWER_FROM, EXTRACT_ANSWER)
    reference = item.get(REFERENCE_KEY) if isinstance(item, dict) else None
    if not isinstance(answer, str) or not isinstance(reference, str):
        return 0.0
    fuzzy = fuzz.token_set_ratio(answer, reference, processor=utils.default_process) / 100.0
    exact = 1.0 if answer == reference else 0.0
    return FUZZY_WEIGHT * fuzzy + EXACT_WEIGHT * exact
