"""Check grader JSON against the platform's grader shapes, with one precise message per problem.

>>> validate_grader({"type": "string_check", "name": "exact", "input": "{{sample.output_text}}",
...                  "reference": "{{item.answer}}", "operation": "eq"})
>>> validate_grader({"type": "string_check", "name": "x", "input": "", "reference": "", "operation": "neq"})
Traceback (most recent call last):
...
curate.errors.ConfigError: grader 'x' (string_check): 'operation' must be one of 'eq', 'ne', 'like', 'ilike'. Got 'neq' instead.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Mapping
from typing import Any

from curate.errors import ConfigError
from curate.graders.formula import parse_formula
from curate.graders.templates import grader_strings, references

TOP_LEVEL_TYPES = ("string_check", "text_similarity", "python", "score_model", "multi")
SUB_GRADER_TYPES = ("string_check", "text_similarity", "python", "score_model", "label_model")
OPERATIONS = ("eq", "ne", "like", "ilike")
METRICS = (
    "fuzzy_match", "bleu", "gleu", "meteor",
    "rouge_1", "rouge_2", "rouge_3", "rouge_4", "rouge_5", "rouge_l",
)  # fmt: skip
MAX_SOURCE_BYTES = 256 * 1024
SAMPLING_PARAMS = ("seed", "top_p", "temperature", "max_completions_tokens", "reasoning_effort")

_KEYS = {
    "string_check": ({"type", "name", "input", "reference", "operation"}, set()),
    "text_similarity": ({"type", "name", "input", "reference", "evaluation_metric"}, set()),
    "python": ({"type", "name", "source"}, {"image_tag"}),
    "score_model": ({"type", "name", "model", "input"}, {"range", "sampling_params"}),
    "label_model": ({"type", "name", "model", "input", "labels", "passing_labels"}, set()),
    "multi": ({"type", "name", "graders", "calculate_output"}, set()),
}


# what OpenAI's python grader sandbox has besides the standard library (import names)
SANDBOX_PACKAGES = ("numpy", "scipy", "sympy", "pandas", "rapidfuzz", "sklearn", "rouge_score",
                    "deepdiff", "jsonschema", "pydantic", "yaml", "nltk", "sqlparse", "rdkit",
                    "skbio", "ast_grep_py")  # fmt: skip


def platform_warnings(grader: Mapping[str, Any]) -> list[str]:
    """What a valid grader does that the platform will not run: python sources importing a package
    its sandbox lacks (curate's ``math_equivalence`` imports math_verify).

    >>> source = "import math_verify, json" + chr(10) + "def grade(s, i): return 1"
    >>> [w.split(",")[0] for w in platform_warnings({"type": "python", "name": "m", "source": source})]
    ["python grader 'm' imports math_verify"]
    """
    leaves = grader.get("graders", {}) if grader.get("type") == "multi" else {"": grader}
    out = []
    for leaf in leaves.values() if isinstance(leaves, Mapping) else ():
        if not isinstance(leaf, Mapping) or leaf.get("type") != "python":
            continue
        try:
            tree = ast.parse(str(leaf.get("source", "")))
        except SyntaxError:
            continue
        modules = {
            alias.name for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names
        }
        modules |= {
            n.module
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module and not n.level
        }
        for module in sorted({m.split(".")[0] for m in modules}):
            if module not in sys.stdlib_module_names and module not in SANDBOX_PACKAGES:
                out.append(
                    f"python grader {leaf.get('name')!r} imports {module}, which OpenAI's python grader "
                    "sandbox does not have; it runs locally and in the TRL, verl and Bedrock reward "
                    "functions where it is installed"
                )
    return out


def validate_grader(grader: Mapping[str, Any], *, local: bool = False) -> None:
    """Raise :class:`ConfigError` naming the first problem; return None for a usable RFT grader.
    ``local=True`` also accepts what only curate's local runner takes (``cosine`` similarity)."""
    _check(grader, where="grader", top=True, local=local)


def _fail(where: str, message: str) -> ConfigError:
    return ConfigError(f"{where}: {message}")


def _check(grader: Any, *, where: str, top: bool, local: bool = False) -> None:
    if not isinstance(grader, Mapping):
        raise _fail(where, f"a grader must be a JSON object, got {type(grader).__name__}")
    kind = grader.get("type")
    allowed = TOP_LEVEL_TYPES if top else SUB_GRADER_TYPES
    if kind not in allowed:
        hint = ""
        if kind == "label_model":
            hint = " (label_model is allowed only inside a multi grader)"
        elif kind == "multi":
            hint = " (multi graders cannot be nested)"
        raise _fail(
            where,
            f"'type' must be one of {', '.join(map(repr, allowed))}{hint}. Got {kind!r} instead.",
        )
    name = grader.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _fail(where, f"a {kind} grader needs a non-empty 'name'")
    where = f"{where} {name!r} ({kind})" if where == "grader" else f"{where} ({kind})"
    required, optional = _KEYS[kind]
    missing = sorted(required - set(grader))
    if missing:
        raise _fail(where, f"missing required key {missing[0]!r}")
    unknown = sorted(set(grader) - required - optional)
    if unknown:
        hint = (
            " (pass_threshold belongs to eval testing criteria, not RFT graders)"
            if "pass_threshold" in unknown
            else ""
        )
        raise _fail(
            where,
            f"unknown key {unknown[0]!r}; allowed: {', '.join(sorted(required | optional))}{hint}",
        )
    if kind == "multi":
        _check_multi(grader, where, local)
    elif kind == "text_similarity":
        _check_text_similarity(grader, where, local)
    else:
        globals()[f"_check_{kind}"](grader, where)
    if kind != "multi":
        for key, text in grader_strings(grader):
            try:
                references(text)
            except ConfigError as exc:
                raise _fail(where, f"{key}: {exc}") from None


def _need_str(grader: Mapping, key: str, where: str) -> str:
    value = grader[key]
    if not isinstance(value, str):
        raise _fail(where, f"{key!r} must be a string. Got {value!r} instead.")
    return value


def _check_string_check(grader: Mapping, where: str) -> None:
    _need_str(grader, "input", where)
    _need_str(grader, "reference", where)
    if grader["operation"] not in OPERATIONS:
        raise _fail(
            where,
            f"'operation' must be one of {', '.join(map(repr, OPERATIONS))}. Got {grader['operation']!r} instead.",
        )


def _check_text_similarity(grader: Mapping, where: str, local: bool) -> None:
    _need_str(grader, "input", where)
    _need_str(grader, "reference", where)
    metric = grader["evaluation_metric"]
    if metric == "cosine" and not local:
        raise _fail(
            where,
            "'evaluation_metric' cosine is available in evals only, not in RFT graders "
            "(curate's local runner computes it with an embeddings endpoint)",
        )
    if metric not in METRICS and metric != "cosine":
        raise _fail(
            where,
            f"'evaluation_metric' must be one of {', '.join(map(repr, METRICS))}. Got {metric!r} instead.",
        )


def _check_python(grader: Mapping, where: str) -> None:
    source = _need_str(grader, "source", where)
    if len(source.encode("utf-8")) > MAX_SOURCE_BYTES:
        raise _fail(
            where,
            f"'source' is {len(source.encode('utf-8'))} bytes; the limit is {MAX_SOURCE_BYTES}",
        )
    if "image_tag" in grader:
        _need_str(grader, "image_tag", where)
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise _fail(where, f"'source' does not compile: {exc.msg} (line {exc.lineno})") from None
    grade = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "grade"]
    if not grade:
        raise _fail(where, "'source' must define a top-level function grade(sample, item)")
    args = grade[-1].args
    positional = len(args.posonlyargs) + len(args.args)
    required = positional - len(args.defaults)
    if args.vararg is None and positional < 2 or required > 2:
        raise _fail(where, "grade() must accept exactly two arguments: grade(sample, item)")


def _check_messages(grader: Mapping, where: str) -> None:
    messages = grader["input"]
    if not isinstance(messages, list) or not messages:
        raise _fail(where, "'input' must be a non-empty list of {role, content} messages")
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or "role" not in message or "content" not in message:
            raise _fail(where, f"input[{i}] must be an object with 'role' and 'content'")
        if message["role"] not in ("system", "developer", "user", "assistant"):
            raise _fail(
                where,
                f"input[{i}].role {message['role']!r} is not system, developer, user or assistant",
            )
    if not isinstance(grader["model"], str) or not grader["model"]:
        raise _fail(where, "'model' must be a model name")


def _check_score_model(grader: Mapping, where: str) -> None:
    _check_messages(grader, where)
    if "range" in grader:
        rng = grader["range"]
        ok = (
            isinstance(rng, list)
            and len(rng) == 2
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in rng)
        )
        if not ok or rng[0] >= rng[1]:
            raise _fail(where, f"'range' must be [low, high] with low < high. Got {rng!r} instead.")
    params = grader.get("sampling_params", {})
    if not isinstance(params, Mapping):
        raise _fail(where, "'sampling_params' must be an object")
    unknown = sorted(set(params) - set(SAMPLING_PARAMS))
    if unknown:
        raise _fail(
            where,
            f"unknown sampling parameter {unknown[0]!r}; allowed: {', '.join(SAMPLING_PARAMS)}",
        )


def _check_label_model(grader: Mapping, where: str) -> None:
    _check_messages(grader, where)
    labels, passing = grader["labels"], grader["passing_labels"]
    if not isinstance(labels, list) or not labels or not all(isinstance(v, str) for v in labels):
        raise _fail(where, "'labels' must be a non-empty list of strings")
    if not isinstance(passing, list) or not set(passing) <= set(labels) or not passing:
        raise _fail(where, "'passing_labels' must be a non-empty subset of 'labels'")


def _check_multi(grader: Mapping, where: str, local: bool) -> None:
    subs = grader["graders"]
    if not isinstance(subs, Mapping) or not subs:
        raise _fail(where, "'graders' must be a non-empty object of name -> grader")
    for key, sub in subs.items():
        if not key.isidentifier():
            raise _fail(
                where, f"sub-grader key {key!r} must be a plain identifier to appear in the formula"
            )
        _check(sub, where=f"{where} > graders.{key}", top=False, local=local)
    try:
        parse_formula(grader["calculate_output"], set(subs))
    except ConfigError as exc:
        raise _fail(where, f"calculate_output: {exc}") from None
