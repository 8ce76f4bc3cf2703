"""string_check operations and every text_similarity metric, against the libraries' own numbers."""

from __future__ import annotations

import json
import math
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from curate.errors import ConfigError, MissingDependency
from curate.graders import LocalGrader
from curate.graders.similarity import LOCAL_METRICS, ROUGE, WORDNET_HELP, metric_scorer

CASES = [
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("the cat sat on the mat", "a cat was sitting on the mat"),
    ("acute gouty arthritis of the knee", "gout"),
    ("Toxoplasma encephalitis", "toxoplasma encephalitis"),
    ("decreased ADAMTS13 activity", "adamts13 deficiency, decreased activity in serum"),
    ("", "gout"),
    ("gout", ""),
    ("hypokalemia", "hypomagnesemia"),
]


def _grader(metric: str) -> dict:
    return {"type": "text_similarity", "name": "sim", "evaluation_metric": metric,
            "input": "{{sample.output_text}}", "reference": "{{item.reference_answer}}"}  # fmt: skip


def _library_value(metric: str, got: str, want: str, wordnet: object | None = None) -> float:
    """What the reference library itself returns for (input, reference)."""
    if metric == "fuzzy_match":
        from rapidfuzz import fuzz

        return fuzz.ratio(got, want) / 100.0
    if metric == "bleu":
        import sacrebleu

        return sacrebleu.sentence_bleu(got, [want]).score / 100.0
    if metric == "gleu":
        from nltk.translate.gleu_score import sentence_gleu

        return sentence_gleu([want.split()], got.split())
    if metric == "meteor":
        from nltk.translate.meteor_score import meteor_score

        return meteor_score([want.split()], got.split(), wordnet=wordnet)
    from rouge_score import rouge_scorer

    key = ROUGE[metric]
    return rouge_scorer.RougeScorer([key]).score(want, got)[key].fmeasure


def _wordnet_installed() -> bool:
    try:
        metric_scorer("meteor")
    except ConfigError:
        return False
    return True


class TinyWordNet:
    """A two-synset stand-in for NLTK's WordNet reader (the real data is a download)."""

    class _Lemma:
        def __init__(self, name: str) -> None:
            self._name = name

        def name(self) -> str:
            return self._name

    class _Synset:
        def __init__(self, names: list[str]) -> None:
            self._names = names

        def lemmas(self) -> list[TinyWordNet._Lemma]:
            return [TinyWordNet._Lemma(n) for n in self._names]

    SYNONYMS = (["sitting", "sit", "sat"], ["mat", "rug"])

    def synsets(self, word: str) -> list[_Synset]:
        return [self._Synset(group) for group in self.SYNONYMS if word in group]


@pytest.mark.parametrize("metric", [m for m in LOCAL_METRICS if m != "meteor"])
def test_every_metric_matches_its_library_through_the_local_grader(metric):
    with LocalGrader(_grader(metric), workers=0) as grader:
        results = grader.grade_many([(got, {"reference_answer": want}) for got, want in CASES])
    for (got, want), result in zip(CASES, results, strict=True):
        assert result.errors == []
        assert result.score == pytest.approx(
            min(1.0, _library_value(metric, got, want)), abs=1e-12
        ), (got, want)
    # hand-checkable values: identical text scores 1, an empty answer 0
    assert results[0].score == pytest.approx(1.0)
    assert results[5].score == 0.0


def test_hand_computed_values():
    assert metric_scorer("fuzzy_match")("kitten", "sitting") == pytest.approx(2 * 4 / 13)
    assert metric_scorer("rouge_1")("a b c d", "a b x y") == pytest.approx(0.5)  # P = R = 2/4
    assert metric_scorer("rouge_2")("a b c d", "a b x y") == pytest.approx(1 / 3)  # 1 of 3 bigrams
    assert metric_scorer("rouge_l")("a x b y c", "a b c") == pytest.approx(
        2 * 0.6 * 1 / 1.6
    )  # LCS 3
    assert metric_scorer("bleu")("one two three four five", "six seven eight nine ten") == 0.0
    # GLEU = min(precision, recall) over 1..4-grams: 4 of 10 shared with the 5-word reference
    assert metric_scorer("gleu")("a b c d e", "a b c d f") == pytest.approx(min(10 / 14, 10 / 14))


def test_meteor_matches_nltk_with_the_same_wordnet():
    scorer = metric_scorer("meteor", wordnet_reader=TinyWordNet())
    for got, want in CASES:
        assert scorer(got, want) == pytest.approx(
            _library_value("meteor", got, want, TinyWordNet())
        )
    # "sitting" and "mat"/"rug" match through the synonyms: better than without them
    plain = metric_scorer(
        "meteor", wordnet_reader=type("NoSyn", (), {"synsets": lambda s, w: []})()
    )
    assert scorer("a cat was sitting on the rug", "the cat sat on the mat") > plain(
        "a cat was sitting on the rug", "the cat sat on the mat"
    )


def test_meteor_through_the_local_grader_or_a_clear_error():
    if not _wordnet_installed():
        with pytest.raises(ConfigError, match="nltk.downloader wordnet"):
            LocalGrader(_grader("meteor"), workers=0)
        assert "no PyPI package ships" in WORDNET_HELP
        pytest.skip("NLTK's WordNet data is not installed (python -m nltk.downloader wordnet): "
                    "meteor checked against nltk with a stand-in WordNet only")  # fmt: skip
    from nltk.corpus import wordnet

    with LocalGrader(_grader("meteor"), workers=0) as grader:
        for got, want in CASES:
            score = grader.grade(got, {"reference_answer": want}).score
            assert score == pytest.approx(_library_value("meteor", got, want, wordnet))


def test_a_missing_extra_names_the_pip_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # import sacrebleu now raises ImportError
    with pytest.raises(MissingDependency, match=r"pip install 'curate\[similarity\]'"):
        metric_scorer("bleu")
    with pytest.raises(ConfigError, match=r"grader 'sim': .*pip install 'curate\[similarity\]'"):
        LocalGrader(_grader("bleu"), workers=0)


@pytest.mark.parametrize(
    ("operation", "got", "want", "score"),
    [("eq", "Paris", "Paris", 1.0), ("eq", "paris", "Paris", 0.0), ("eq", "Paris ", "Paris", 0.0),
     ("ne", "paris", "Paris", 1.0), ("ne", "Paris", "Paris", 0.0),
     ("like", "It is Paris.", "Paris", 1.0), ("like", "It is PARIS.", "Paris", 0.0), ("like", "", "", 1.0),
     ("ilike", "It is PARIS.", "paris", 1.0), ("ilike", "It is Rome.", "paris", 0.0)],
)  # fmt: skip
def test_string_check_operations(operation, got, want, score):
    grader = {"type": "string_check", "name": "s", "operation": operation,
              "input": "{{sample.output_text}}", "reference": "{{item.reference_answer}}"}  # fmt: skip
    with LocalGrader(grader, workers=0, extract_answer=False) as runner:
        assert runner.grade(got, {"reference_answer": want}).score == score


# --- cosine through a real embeddings endpoint on 127.0.0.1 --------------------------------------


def _vector(text: str) -> list[float]:
    """The test server's deterministic embedding: letter counts a..z."""
    return [float(text.lower().count(chr(ord("a") + i))) for i in range(26)]


class _Embeddings(BaseHTTPRequestHandler):
    requests: list[dict] = []
    fail = False

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, **body})
        if type(self).fail:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "down"}}')
            return
        data = [{"object": "embedding", "index": i, "embedding": _vector(t)}
                for i, t in enumerate(body["input"])]  # fmt: skip
        payload = json.dumps({"object": "list", "data": data, "model": body["model"],
                              "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def embeddings_url() -> Iterator[str]:
    _Embeddings.requests, _Embeddings.fail = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Embeddings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (math.hypot(*a) * math.hypot(*b))


def test_cosine_embeds_each_distinct_text_once(embeddings_url):
    pairs = [("gout", "gout"), ("gouty arthritis", "gout"), ("zzz", "gout"), ("", "gout"), ("", "")]
    with LocalGrader(_grader("cosine"), workers=0, embeddings_base_url=embeddings_url,
                     embeddings_model="test-embed") as grader:  # fmt: skip
        results = grader.grade_many([(got, {"reference_answer": want}) for got, want in pairs])
    scores = [r.score for r in results]
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] == pytest.approx(_cosine(_vector("gouty arthritis"), _vector("gout")))
    assert scores[2] == 0.0  # no shared letters: orthogonal
    assert scores[3:] == [0.0, 1.0]  # one empty text 0, both empty 1; neither is sent
    assert [r.errors for r in results] == [[]] * 5
    (request,) = _Embeddings.requests
    assert request["path"] == "/v1/embeddings" and request["model"] == "test-embed"
    assert sorted(request["input"]) == ["gout", "gouty arthritis", "zzz"]


def test_cosine_endpoint_failure_scores_zero_with_the_flag(embeddings_url):
    _Embeddings.fail = True
    with LocalGrader(_grader("cosine"), workers=0, embeddings_base_url=embeddings_url) as grader:
        result = grader.grade("gout", {"reference_answer": "gout"})
    assert result.score == 0.0 and result.errors[0].startswith("sim: model_grader_server_error")
