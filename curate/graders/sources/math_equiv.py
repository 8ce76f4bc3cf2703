"""Mathematical equivalence of the answer and ``item[REFERENCE_KEY]`` through math-verify.

Both sides are parsed by ``math_verify.parse`` (LaTeX, ``\\boxed{}``, plain expressions; a bare
answer is read as LaTeX math) and compared by ``math_verify.verify``: ``\\frac{1}{2}``, ``0.5`` and
``1/2`` are one answer. Scores 1.0 or 0.0; an unparseable answer scores 0.0, never raises.
math-verify is not in OpenAI's python grader sandbox: this grader runs locally, in the TRL and verl
reward functions and wherever ``pip install 'curate[math]'`` (or ``math-verify``) is done.
"""

import threading

from math_verify import parse, verify

from curate.graders.sources._answer import read_answer  # curate:inline

ANSWER_KEY = "answer"
REFERENCE_KEY = "reference_answer"
ANSWER_FROM = "auto"
EXTRACT_ANSWER = True


def _parse(text, timeout):
    if not text.strip():
        return []
    if "$" in text or "\\boxed" in text or "\\(" in text or "\\[" in text:
        return parse(text, parsing_timeout=timeout)
    return parse("$" + text + "$", parsing_timeout=timeout) or parse(text, parsing_timeout=timeout)


def grade(sample, item):
    """1.0 when the answer is mathematically equal to the reference, else 0.0."""
    answer = read_answer(sample, ANSWER_KEY, ANSWER_FROM, EXTRACT_ANSWER)
    reference = item.get(REFERENCE_KEY) if isinstance(item, dict) else None
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        answer = str(answer)
    if isinstance(reference, (int, float)) and not isinstance(reference, bool):
        reference = str(reference)
    if not isinstance(answer, str) or not isinstance(reference, str):
        return 0.0
    # math-verify's time limits use SIGALRM, which only the main thread may set
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    gold, target = _parse(reference, timeout), _parse(answer, timeout)
    if not gold or not target:
        return 0.0
    return 1.0 if verify(gold, target, timeout_seconds=timeout) else 0.0
