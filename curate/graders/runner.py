"""Run a grader locally with the platform's contract.

The sample is the model's output text; ``sample.output_json`` is that text parsed as JSON (None when
it is not JSON). ``string_check`` and ``text_similarity`` (every metric; cosine with an embeddings
endpoint) run in this process, on the final answer of the output (after ``</think>``);
``python`` graders run ``grade(sample, item)`` in reusable worker processes with a time limit per
call and a memory limit; ``multi`` combines sub-grader scores with its safe formula. An exception, a
timeout, NaN or a non-number scores 0 with the error recorded, as the platform does.

>>> grader = {"type": "string_check", "name": "exact", "operation": "eq",
...           "input": "{{sample.output_json.answer}}", "reference": "{{item.answer}}"}
>>> with LocalGrader(grader) as g:
...     g.grade('{"answer": "Paris"}', {"answer": "Paris"}).score
1.0
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from curate.errors import ConfigError
from curate.graders import _worker
from curate.graders.formula import FormulaError, parse_formula
from curate.graders.pool import WorkerPool
from curate.graders.similarity import LOCAL_METRICS, check_metric, metric_scorer
from curate.graders.sources._answer import final_answer
from curate.graders.templates import TemplateError, render
from curate.graders.validate import validate_grader
from curate.options import Param, parse_options

Result = tuple[float, "str | None"]
_EXTRAS = {"rapidfuzz": "similarity", "math_verify": "math", "nltk": "similarity"}
_EXTRA_IMPORTS = re.compile(rf"^(?:from|import) ({'|'.join(_EXTRAS)})\b", re.MULTILINE)
_PARAMS = (
    Param("workers", int, low=0),
    Param("timeout", (int, float), low=0.001),
    Param("memory_mb", int, low=64),
)


@dataclass(frozen=True)
class GradeResult:
    """One graded sample: the reward, each (sub-)grader's score by key, and the errors recorded."""

    score: float
    sub_scores: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a score outside the grader's range


def make_sample(output_text: str | None) -> dict[str, Any]:
    """The ``sample`` namespace for model output ``output_text``.

    >>> make_sample('{"labels": []}')["output_json"]
    {'labels': []}
    >>> make_sample("not json")["output_json"] is None
    True
    """
    text = "" if output_text is None else str(output_text)
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    return {"output_text": text, "output_json": parsed, "output_tools": []}


def _leaves(grader: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    if grader["type"] == "multi":
        return list(grader["graders"].items())
    return [(grader["name"], grader)]


def score_range(grader: Mapping[str, Any]) -> tuple[float, float]:
    """The scores ``grader`` may give: its ``range`` (score_model), else [0, 1].

    >>> score_range({"type": "score_model", "range": [1, 7]}), score_range({"type": "python"})
    ((1.0, 7.0), (0.0, 1.0))
    """
    low, high = grader.get("range") or (0.0, 1.0)
    return float(low), float(high)


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a module set to None in sys.modules, a broken package
        return False


def check_runnable(
    grader: Mapping[str, Any],
    *,
    model_base_url: str | None = None,
    embeddings_base_url: str | None = None,
) -> None:
    """Raise ConfigError when a (sub-)grader cannot run locally: model graders without an endpoint,
    cosine without an embeddings endpoint, a metric whose extra (or WordNet data) is missing."""
    for key, leaf in _leaves(grader):
        if leaf["type"] == "text_similarity" and leaf["evaluation_metric"] == "cosine":
            if not embeddings_base_url:
                raise ConfigError(
                    f"grader {key!r}: the cosine metric embeds texts; give an OpenAI-compatible "
                    "embeddings endpoint (embeddings_base_url=, curate grade --embeddings-base-url)"
                )
            continue
        if leaf["type"] == "text_similarity" and leaf["evaluation_metric"] in LOCAL_METRICS:
            check_metric(leaf["evaluation_metric"], key)
        if leaf["type"] == "python":
            for module in _EXTRA_IMPORTS.findall(leaf["source"]):
                if not _installed(module):
                    raise ConfigError(
                        f"grader {key!r} imports {module}, which is not installed: "
                        f"pip install 'curate[{_EXTRAS[module]}]'"
                    )
        kind = leaf["type"]
        if kind in ("score_model", "label_model") and not model_base_url:
            raise ConfigError(
                f"grader {key!r} is a {kind} grader: it asks a model ({leaf.get('model')}) to grade and "
                "cannot run offline; curate's local runner runs string_check, text_similarity "
                "(fuzzy_match), python and multi graders, and model graders only with model_base_url= "
                "(an OpenAI-compatible endpoint)"
            )
        if kind == "text_similarity" and leaf["evaluation_metric"] not in LOCAL_METRICS:
            raise ConfigError(
                f"grader {key!r}: evaluation_metric {leaf['evaluation_metric']!r} is not supported by "
                f"curate's local runner (supported: {', '.join(LOCAL_METRICS)}); it is valid on the platform"
            )


class LocalGrader:
    """Grade samples locally; a context manager (python graders keep worker processes alive).

    ``workers=0`` runs python graders in this process (no time or memory limit, no isolation): the
    fastest option when the source is trusted, e.g. inside a training loop's reward function.
    ``model_base_url`` (optional) lets ``score_model``/``label_model`` graders call an
    OpenAI-compatible endpoint; without it they are refused, as they cannot run offline.
    ``embeddings_base_url`` does the same for ``cosine`` text similarity.
    ``extract_answer`` (default on): string_check, text_similarity and model graders read the final
    answer of the output (after ``</think>``, inside the last fenced code block). python graders
    get the output as the platform gives it; curate's python presets extract it themselves.
    """

    def __init__(
        self,
        grader: Mapping[str, Any],
        *,
        workers: int = 2,
        timeout: float = 120.0,
        memory_mb: int = 2048,
        model_base_url: str | None = None,
        model_api_key: str | None = None,
        embeddings_base_url: str | None = None,
        embeddings_api_key: str | None = None,
        embeddings_model: str | None = None,
        extract_answer: bool = True,
    ) -> None:
        parse_options(
            "LocalGrader", {"workers": workers, "timeout": timeout, "memory_mb": memory_mb}, _PARAMS
        )
        validate_grader(grader, local=True)
        check_runnable(
            grader, model_base_url=model_base_url, embeddings_base_url=embeddings_base_url
        )
        self.extract_answer = bool(extract_answer)
        self.grader = json.loads(json.dumps(grader))
        self.workers = workers
        self._leaves = _leaves(self.grader)
        self._formula = (
            parse_formula(self.grader["calculate_output"], set(self.grader["graders"]))
            if self.grader["type"] == "multi"
            else None
        )
        has_python = any(leaf["type"] == "python" for _, leaf in self._leaves)
        self._pool = (
            WorkerPool(workers, timeout=timeout, memory_mb=memory_mb)
            if has_python and workers > 0
            else None
        )
        self._inprocess: dict[str, Any] = {}
        self._models: dict[str, Any] = {}
        self._similarity: dict[str, Any] = {}
        for key, leaf in self._leaves:
            if leaf["type"] == "text_similarity" and leaf["evaluation_metric"] == "cosine":
                from curate.graders.embeddings import Embedder

                self._similarity[key] = Embedder(
                    str(embeddings_base_url),
                    api_key=embeddings_api_key,
                    model=embeddings_model,
                    timeout=timeout,
                ).score
            elif leaf["type"] == "text_similarity":
                scorer = metric_scorer(leaf["evaluation_metric"])
                self._similarity[key] = lambda pairs, f=scorer: [(f(a, b), None) for a, b in pairs]
            if leaf["type"] in ("score_model", "label_model"):
                from curate.graders.model import ModelGrader

                self._models[key] = ModelGrader(
                    leaf,
                    base_url=str(model_base_url),
                    api_key=model_api_key,
                    timeout=timeout,
                    threads=max(1, workers) * 4,
                )

    def __enter__(self) -> LocalGrader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        pool = getattr(self, "_pool", None)
        if pool is not None:
            try:
                pool.close()
            except Exception:  # noqa: BLE001 - interpreter shutdown: workers are daemons anyway
                pass

    def close(self) -> None:
        """Stop the worker processes (idempotent)."""
        if self._pool is not None:
            self._pool.close()

    @property
    def protections(self) -> dict[str, str] | None:
        """How python graders are isolated (starting the workers if needed): what each layer of
        :mod:`curate.graders._sandbox` reported; ``{"in_process": ...}`` for ``workers=0``;
        None when the grader has no python (sub-)grader."""
        if self._pool is not None:
            return self._pool.start()
        if any(leaf["type"] == "python" for _, leaf in self._leaves):
            return {"in_process": "no isolation (workers=0)"}
        return None

    def grade(self, sample: str, item: Mapping[str, Any]) -> GradeResult:
        """Grade one model output ``sample`` against ``item``."""
        return self.grade_many([(sample, item)])[0]

    def grade_many(self, pairs: Sequence[tuple[str, Mapping[str, Any]]]) -> list[GradeResult]:
        """Grade ``(sample, item)`` pairs in batches on all workers; results keep the input order."""
        samples = [make_sample(text) for text, _ in pairs]
        answers = samples
        if self.extract_answer:
            answers = [
                s if (a := final_answer(s["output_text"])) == s["output_text"] else make_sample(a)
                for s in samples
            ]
        items = [item if type(item) is dict else dict(item) for _, item in pairs]
        scores = {
            key: self._models[key].run(answers, items)
            if key in self._models
            else self._run_leaf(key, leaf, samples if leaf["type"] == "python" else answers, items)
            for key, leaf in self._leaves
        }
        out = []
        ranges = {key: score_range(leaf) for key, leaf in self._leaves}
        for i in range(len(pairs)):
            sub = {key: scores[key][i][0] for key in scores}
            errors = [f"{key}: {scores[key][i][1]}" for key in scores if scores[key][i][1]]
            warnings = [
                f"{key}: score_out_of_range: {sub[key]:g} is outside the grader's range "
                f"[{ranges[key][0]:g}, {ranges[key][1]:g}]"
                for key in scores
                if not ranges[key][0] <= sub[key] <= ranges[key][1]
            ]
            if self._formula is None:
                score = next(iter(sub.values()))
            else:
                try:
                    score = self._formula.evaluate(sub)
                except FormulaError as exc:
                    score = 0.0
                    errors.append(f"formula_error: {exc}")
            out.append(GradeResult(score, sub, errors, warnings))
        return out

    def _run_leaf(
        self, key: str, leaf: Mapping[str, Any], samples: list[dict], items: list[dict]
    ) -> list[Result]:
        kind = leaf["type"]
        if kind == "python":
            if self._pool is not None:
                return self._pool.run(leaf["source"], list(zip(samples, items, strict=True)))
            return self._run_inprocess(leaf["source"], samples, items)
        results: list[Result | None] = []
        rendered: list[tuple[int, str, str]] = []
        for sample, item in zip(samples, items, strict=True):
            try:
                got = render(leaf["input"], item, sample)
                want = render(leaf["reference"], item, sample)
            except TemplateError as exc:
                flag = (
                    "sample_parse_error" if "output_json" in str(exc) else "invalid_variable_error"
                )
                results.append((0.0, f"{flag}: {exc}"))
                continue
            if kind == "string_check":
                results.append((_string_check(leaf["operation"], got, want), None))
            else:
                rendered.append((len(results), got, want))
                results.append(None)
        if rendered:
            scored = self._similarity[key]([(got, want) for _, got, want in rendered])
            for (index, _, _), result in zip(rendered, scored, strict=True):
                results[index] = result
        return results  # type: ignore[return-value]

    def _run_inprocess(self, source: str, samples: list[dict], items: list[dict]) -> list[Result]:
        grade = self._inprocess.get(source)
        if grade is None:
            try:
                grade = _worker.compile_source(source)
            except Exception as exc:  # noqa: BLE001
                error = f"python_grader_runtime_error: the source failed to load: {_worker.describe_exception(exc)}"
                return [(0.0, error)] * len(samples)
            self._inprocess[source] = grade
        return [_worker.call_grade(grade, s, i) for s, i in zip(samples, items, strict=True)]


def _string_check(operation: str, got: str, want: str) -> float:
    if operation == "eq":
        return float(got == want)
    if operation == "ne":
        return float(got != want)
    if operation == "like":
        return float(want in got)
    return float(want.casefold() in got.casefold())  # ilike
