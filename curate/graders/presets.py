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

import json
import re
from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from curate.errors import ConfigError
from curate.graders.validate import validate_grader
from curate.options import Param, parse_options

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


def preset_source(name: str, **constants: Any) -> str:
    """The text of ``curate/graders/sources/<name>.py`` with its top-level constants set.

    >>> 'METRIC = "recall"' in preset_source("multilabel", METRIC="recall")
    True
    """
    text = resources.files("curate.graders.sources").joinpath(f"{name}.py").read_text("utf-8")
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
    inp = opts["input"] or f"{{{{sample.output_json.{answer_key}}}}}"
    ref = opts["reference"] or f"{{{{item.{opts['reference_key']}}}}}"
    return inp, ref


def _exact(opts: dict, answer_key: str) -> dict[str, Any]:
    inp, ref = _text_templates(opts, answer_key)
    return {
        "type": "string_check",
        "name": opts["name"] or "exact_match",
        "input": inp,
        "reference": ref,
        "operation": "eq",
    }


def _fuzzy(opts: dict, answer_key: str) -> dict[str, Any]:
    inp, ref = _text_templates(opts, answer_key)
    return {
        "type": "text_similarity",
        "name": opts["name"] or "fuzzy_match",
        "input": inp,
        "reference": ref,
        "evaluation_metric": "fuzzy_match",
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
        ANSWER_KEY=_key(opts, answer_key),
        REFERENCE_KEY=opts["reference_key"],
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
    "exact_match": (_TEXT, _exact),
    "case_insensitive_match": ((*_COMMON, _FROM), _case_insensitive),
    "fuzzy_match": (_TEXT, _fuzzy),
    "numeric_tolerance": (
        (
            *_COMMON,
            _FROM,
            Param("tolerance", (int, float), 1e-6, low=0),
            Param("relative", bool, False),
        ),
        _numeric,
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
            grader = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"export.grader: grader file {str(path)!r} does not exist") from None
        except ValueError as exc:
            raise ConfigError(f"export.grader: {path} is not valid JSON: {exc}") from None
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
        grader = build(opts, answer_key)
    else:
        raise ConfigError("export.grader needs 'preset', 'path' or an inline grader with 'type'")
    validate_grader(grader)
    return grader
