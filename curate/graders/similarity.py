"""``text_similarity`` metrics, computed locally by the libraries the platform names.

OpenAI documents each metric by its library only (fuzzy_match "using rapidfuzz", BLEU, Google BLEU,
METEOR, "ROUGE as defined by the rouge python library"); it publishes no tokenisation or
smoothing settings. curate uses each library's defaults, listed in docs/graders.md:

- ``fuzzy_match``: normalised Indel similarity, the number ``rapidfuzz.fuzz.ratio(a, b) / 100``
  gives (computed here in plain Python, so it needs no extra).
- ``bleu``: ``sacrebleu.sentence_bleu(input, [reference]).score / 100`` (13a tokeniser, exp smoothing).
- ``gleu``: ``nltk.translate.gleu_score.sentence_gleu([reference.split()], input.split())``.
- ``meteor``: ``nltk.translate.meteor_score.meteor_score([reference.split()], input.split())``;
  it needs NLTK's WordNet data, which no PyPI package ships (see :func:`wordnet`).
- ``rouge_1`` .. ``rouge_5``, ``rouge_l``: ``rouge_score.rouge_scorer.RougeScorer([rougeN])``
  F-measure of (reference, input).
- ``cosine`` (evals only on the platform): cosine similarity of embeddings from an
  OpenAI-compatible ``/embeddings`` endpoint (:mod:`curate.graders.embeddings`).

>>> fuzzy_ratio("kitten", "sitting")
0.6153846153846154
>>> fuzzy_ratio("", "")
1.0
>>> metric_scorer("fuzzy_match")("abc", "abc")
1.0
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from curate._deps import optional_import
from curate.errors import ConfigError, MissingDependency

ROUGE = {f"rouge_{n}": f"rouge{n}" for n in range(1, 6)} | {"rouge_l": "rougeL"}
LOCAL_METRICS = ("fuzzy_match", "bleu", "gleu", "meteor", *ROUGE)
EXTRA = "similarity"
WORDNET_HELP = (
    "the meteor metric needs NLTK's WordNet data, which no PyPI package ships: run "
    "`python -m nltk.downloader wordnet` once (or set NLTK_DATA to a folder holding corpora/wordnet)"
)


def lcs_length(a: str, b: str) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (Hyyrö's bit-vector algorithm)."""
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return 0
    masks: dict[str, int] = {}
    for i, ch in enumerate(b):
        masks[ch] = masks.get(ch, 0) | (1 << i)
    full = (1 << len(b)) - 1
    v = full
    for ch in a:
        u = v & masks.get(ch, 0)
        v = ((v + u) | (v - u)) & full
    return len(b) - v.bit_count()


def fuzzy_ratio(a: str, b: str) -> float:
    """Similarity in [0, 1]; 1.0 for two empty strings."""
    total = len(a) + len(b)
    if total == 0:
        return 1.0
    return 2 * lcs_length(a, b) / total


def _need(module: str, metric: str):  # noqa: ANN202 - a module
    return optional_import(module, EXTRA, f"the text_similarity metric {metric!r}")


@cache
def wordnet():  # noqa: ANN201 - nltk's WordNet corpus reader
    """NLTK's WordNet reader, loaded once; raises ConfigError with the one command that fixes it."""
    _need("nltk", "meteor")
    from nltk.corpus import wordnet as reader

    try:
        reader.synsets("test")  # loads the corpus, or raises LookupError naming the downloader
    except (LookupError, OSError):
        raise ConfigError(WORDNET_HELP) from None
    return reader


def _bleu() -> Callable[[str, str], float]:
    sacrebleu = _need("sacrebleu", "bleu")
    # sacrebleu scores identical strings 100.00000000000004: clipped to 1
    return lambda got, want: min(1.0, sacrebleu.sentence_bleu(got, [want]).score / 100.0)


def _gleu() -> Callable[[str, str], float]:
    _need("nltk", "gleu")
    from nltk.translate.gleu_score import sentence_gleu

    return lambda got, want: float(sentence_gleu([want.split()], got.split()))


def _meteor(reader: object | None = None) -> Callable[[str, str], float]:
    _need("nltk", "meteor")
    from nltk.translate.meteor_score import meteor_score

    reader = reader if reader is not None else wordnet()
    return lambda got, want: float(meteor_score([want.split()], got.split(), wordnet=reader))


def _rouge(metric: str) -> Callable[[str, str], float]:
    rouge_scorer = _need("rouge_score.rouge_scorer", metric)
    key = ROUGE[metric]
    scorer = rouge_scorer.RougeScorer([key])
    return lambda got, want: float(scorer.score(want, got)[key].fmeasure)


def metric_scorer(
    metric: str, *, wordnet_reader: object | None = None
) -> Callable[[str, str], float]:
    """``score(input, reference) -> float`` for a local metric; loads its library now, so a missing
    extra (``MissingDependency``) or WordNet (``ConfigError``) fails before any grading."""
    if metric == "fuzzy_match":
        return fuzzy_ratio
    if metric == "bleu":
        return _bleu()
    if metric == "gleu":
        return _gleu()
    if metric == "meteor":
        return _meteor(wordnet_reader)
    if metric in ROUGE:
        return _rouge(metric)
    raise ConfigError(f"text_similarity metric {metric!r} has no local implementation")


def check_metric(metric: str, key: str) -> None:
    """Raise a one-line ConfigError when ``metric`` cannot run here (missing extra or data)."""
    try:
        metric_scorer(metric)
    except MissingDependency as exc:
        raise ConfigError(f"grader {key!r}: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"grader {key!r}: {exc}") from None
