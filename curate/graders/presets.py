"""Ready graders for common tasks, built as platform grader JSON.

>>> g = build_grader("multilabel_f1")
>>> g["type"], g["name"]
('python', 'multilabel_f1')
>>> build_grader({"preset": "multilabel_fbeta", "beta": 2})["name"]
'multilabel_f2'
>>> build_grader("exact_match", answer_key="answer")["input"]
'{{sample.output_json.answer}}'
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from curate.errors import ConfigError
from curate.graders.validate import METRICS, OPERATIONS, validate_grader
from curate.options import Param, parse_options
from curate.yaml_safe import read_json

_COMMON = (
    Param("name", str, None, nullable=True),
    Param("reference_key", str, "reference_answer"),
)
_MULTILABEL = (*_COMMON, Param("form", str, "python", choices=("python", "multi")))
_TEXT = (
    *_COMMON,
    Param("input", str, None, nullable=True),  # template; default: the answer in sample.output_json
    Param("reference", str, None, nullable=True),  # template; default: {{item.<reference_key>}}
)
_FROM = Param("answer_from", str, "json", choices=("json", "text"))
_FROM_AUTO = Param("answer_from", str, "auto", choices=("auto", "json", "text"))
_EXTRACT = Param("extract_answer", bool, True)
_TEXT_FROM = (*_TEXT, _FROM)


_INLINE = re.compile(
    r"^from curate\.graders\.sources\.(\w+) import [\w, ]+  # curate:inline$", re.M
)


def _helper_text(module: str) -> str:
    """A helper module's code without its docstring, to paste into a source (one file on the platform)."""
    text = resources.files("curate.graders.sources").joinpath(f"{module}.py").read_text("utf-8")
    body = ast.parse(text).body
    start = body[1].lineno if body and isinstance(body[0], ast.Expr) else 1
    lines = text.splitlines(keepends=True)[start - 1 :]
    return f"# --- curate/graders/sources/{module}.py ---\n" + "".join(lines).strip() + "\n# ---"


def preset_source(name: str, **constants: Any) -> str:
    """The text of ``curate/graders/sources/<name>.py`` with its top-level constants set, and the
    helper modules it imports with a ``# curate:inline`` line pasted in (the result is one file).

    >>> 'METRIC = "recall"' in preset_source("multilabel", METRIC="recall")
    True
    >>> "curate:inline" in preset_source("numeric"), "def final_answer" in preset_source("numeric")
    (False, True)
    """
    text = resources.files("curate.graders.sources").joinpath(f"{name}.py").read_text("utf-8")
    text = _INLINE.sub(lambda m: _helper_text(m.group(1)), text)
    for constant, value in constants.items():
        pattern = re.compile(rf"^{constant} = .*$", re.MULTILINE)
        if len(pattern.findall(text)) != 1:
            raise RuntimeError(f"sources/{name}.py must assign {constant} exactly once")
        literal = json.dumps(value) if isinstance(value, str) else repr(value)
        text = pattern.sub(lambda _m: f"{constant} = {literal}", text, count=1)  # noqa: B023
    return text


def _python(name: str, source: str) -> dict[str, Any]:
    return {"type": "python", "name": name, "source": source}


def _multilabel(metric: str, opts: dict, answer_key: str, default_name: str) -> dict[str, Any]:
    beta = float(opts.get("beta", 1.0))
    name = opts["name"] or default_name
    consts = {"ANSWER_KEY": answer_key, "REFERENCE_KEY": opts["reference_key"]}
    if opts.get("form", "python") == "python" or metric in ("precision", "recall"):
        return _python(name, preset_source("multilabel", METRIC=metric, BETA=beta, **consts))
    b2 = f"{beta * beta:g}"
    formula = (
        "2 * precision * recall / max(precision + recall, 1e-9)"
        if metric == "f1"
        else f"(1 + {b2}) * precision * recall / max({b2} * precision + recall, 1e-9)"
    )
    return {
        "type": "multi",
        "name": name,
        "graders": {
            "precision": _python(
                "precision", preset_source("multilabel", METRIC="precision", **consts)
            ),
            "recall": _python("recall", preset_source("multilabel", METRIC="recall", **consts)),
        },
        "calculate_output": formula,
    }


def _text_templates(opts: dict, answer_key: str) -> tuple[str, str]:
    answer = "output_text" if opts.get("answer_from") == "text" else f"output_json.{answer_key}"
    inp = opts["input"] or f"{{{{sample.{answer}}}}}"
    ref = opts["reference"] or f"{{{{item.{opts['reference_key']}}}}}"
    return inp, ref


def _string_check(opts: dict, answer_key: str, operation: str = "eq") -> dict[str, Any]:
    inp, ref = _text_templates(opts, answer_key)
    operation = opts.get("operation", operation)
    return {
        "type": "string_check",
        "name": opts["name"] or ("exact_match" if operation == "eq" else f"string_{operation}"),
        "input": inp,
        "reference": ref,
        "operation": operation,
    }


def _similarity(opts: dict, answer_key: str, metric: str = "fuzzy_match") -> dict[str, Any]:
    inp, ref = _text_templates(opts, answer_key)
    metric = opts.get("metric", metric)
    return {
        "type": "text_similarity",
        "name": opts["name"] or metric,
        "input": inp,
        "reference": ref,
        "evaluation_metric": metric,
    }


def _reader(opts: dict, answer_key: str) -> dict[str, Any]:
    """The constants every open-answer source reads its answer with (see sources/_answer.py)."""
    return {
        "ANSWER_KEY": answer_key,
        "REFERENCE_KEY": opts["reference_key"],
        "ANSWER_FROM": opts["answer_from"],
        "EXTRACT_ANSWER": opts["extract_answer"],
    }


def _text_blend(opts: dict, answer_key: str) -> dict[str, Any]:
    source = preset_source(
        "text_blend",
        **_reader(opts, answer_key),
        FUZZY_WEIGHT=float(opts["fuzzy_weight"]),
        EXACT_WEIGHT=float(opts["exact_weight"]),
    )
    return _python(opts["name"] or "text_blend", source)


def _json_match(opts: dict, answer_key: str) -> dict[str, Any]:
    source = preset_source(
        "json_match",
        **_reader(opts, answer_key),
        SCORE=opts["score"],
        CASE_SENSITIVE=opts["case_sensitive"],
        NUMBER_TOLERANCE=float(opts["number_tolerance"]),
    )
    default = "json_match" if opts["score"] == "mean" else "json_match_f1"
    return _python(opts["name"] or default, source)


def _math(opts: dict, answer_key: str) -> dict[str, Any]:
    return _python(
        opts["name"] or "math_equivalence", preset_source("math_equiv", **_reader(opts, answer_key))
    )


def _multi(opts: dict, answer_key: str, base_dir: Path | None) -> dict[str, Any]:
    graders = {}
    for key, sub in opts["graders"].items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ConfigError(
                f"grader preset 'multi': sub-grader key {key!r} must be a plain identifier"
            )
        graders[key] = build_grader(sub, answer_key=answer_key, base_dir=base_dir)
    return {
        "type": "multi",
        "name": opts["name"] or "multi",
        "graders": graders,
        "calculate_output": opts["calculate_output"],
    }


def _key(opts: dict, answer_key: str) -> str | None:
    return None if opts["answer_from"] == "text" else answer_key


def _case_insensitive(opts: dict, answer_key: str) -> dict[str, Any]:
    source = preset_source(
        "text_match", ANSWER_KEY=_key(opts, answer_key), REFERENCE_KEY=opts["reference_key"]
    )
    return _python(opts["name"] or "case_insensitive_match", source)


def _numeric(opts: dict, answer_key: str) -> dict[str, Any]:
    source = preset_source(
        "numeric",
        **_reader(opts, answer_key),
        TOLERANCE=float(opts["tolerance"]),
        RELATIVE=opts["relative"],
    )
    return _python(opts["name"] or "numeric_tolerance", source)


PRESETS: dict[str, tuple[tuple[Param, ...], Callable[[dict, str], dict[str, Any]]]] = {
    "multilabel_f1": (_MULTILABEL, lambda o, k: _multilabel("f1", o, k, "multilabel_f1")),
    "multilabel_precision": (
        _COMMON,
        lambda o, k: _multilabel("precision", o, k, "multilabel_precision"),
    ),
    "multilabel_recall": (_COMMON, lambda o, k: _multilabel("recall", o, k, "multilabel_recall")),
    "multilabel_fbeta": (
        (*_MULTILABEL, Param("beta", (int, float), 1.0, low=1e-9)),
        lambda o, k: _multilabel("fbeta", o, k, f"multilabel_f{o['beta']:g}"),
    ),
    "exact_match": (_TEXT_FROM, _string_check),
    "string_check": (
        (*_TEXT_FROM, Param("operation", str, "eq", choices=OPERATIONS)),
        _string_check,
    ),
    "case_insensitive_match": ((*_COMMON, _FROM), _case_insensitive),
    "fuzzy_match": (_TEXT_FROM, _similarity),
    "text_similarity": (
        (*_TEXT_FROM, Param("metric", str, "fuzzy_match", choices=(*METRICS, "cosine"))),
        _similarity,
    ),
    "text_blend": (
        (
            *_COMMON,
            _FROM_AUTO,
            _EXTRACT,
            Param("fuzzy_weight", (int, float), 0.85, low=0),
            Param("exact_weight", (int, float), 0.15, low=0),
        ),
        _text_blend,
    ),
    "numeric_tolerance": (
        (
            *_COMMON,
            Param("answer_from", str, "json", choices=("auto", "json", "text")),
            _EXTRACT,
            Param("tolerance", (int, float), 1e-6, low=0),
            Param("relative", bool, False),
        ),
        _numeric,
    ),
    "json_match": (
        (
            *_COMMON,
            Param("answer_from", str, "auto", choices=("auto", "json", "whole")),
            _EXTRACT,
            Param("score", str, "mean", choices=("mean", "f1")),
            Param("case_sensitive", bool, False),
            Param("number_tolerance", (int, float), 1e-9, low=0),
        ),
        _json_match,
    ),
    "math_equivalence": ((*_COMMON, _FROM_AUTO, _EXTRACT), _math),
    "multi": (
        (
            Param("name", str, None, nullable=True),
            Param("graders", dict),
            Param("calculate_output", str),
        ),
        None,  # built by build_grader: sub-graders need base_dir
    ),
}


def build_grader(
    spec: str | Mapping[str, Any], *, answer_key: str = "labels", base_dir: Path | None = None
) -> dict[str, Any]:
    """Platform grader JSON from ``export.grader``: a preset name, ``{preset: ..., <params>}``,
    ``{path: grader.json}`` (relative to ``base_dir``) or an inline grader object (``{type: ...}``).
    The result is validated; problems raise :class:`ConfigError`.
    """
    if isinstance(spec, str):
        spec = {"preset": spec}
    if not isinstance(spec, Mapping):
        raise ConfigError(
            f"export.grader must be a preset name or a mapping. Got {spec!r} instead."
        )
    if "type" in spec:
        grader = json.loads(json.dumps(dict(spec)))
    elif "path" in spec:
        extra = sorted(set(spec) - {"path"})
        if extra:
            raise ConfigError(f"export.grader: {extra[0]!r} cannot be combined with 'path'")
        path = Path(spec["path"])
        path = path if path.is_absolute() or base_dir is None else Path(base_dir) / path
        try:
            grader = read_json(path, "grader file")
        except ConfigError as exc:
            raise ConfigError(f"export.grader: {exc}") from None
    elif "preset" in spec:
        preset = spec["preset"]
        if preset not in PRESETS:
            raise ConfigError(
                f"unknown grader preset {preset!r}; known presets: {', '.join(PRESETS)}"
            )
        params, build = PRESETS[preset]
        opts = parse_options(
            f"grader preset {preset!r}", {k: v for k, v in spec.items() if k != "preset"}, params
        )
        grader = _multi(opts, answer_key, base_dir) if build is None else build(opts, answer_key)
    else:
        raise ConfigError("export.grader needs 'preset', 'path' or an inline grader with 'type'")
    validate_grader(grader)
    return grader
