"""The pipeline configuration: a YAML file (or a mapping) checked once, before any work.

Paths resolve relative to the YAML file. Every stage is optional except ``source`` and ``export``.

>>> cfg = load_config({"source": {"path": "raw.jsonl"}, "export": {"out": "out"}}, base_dir=Path("/d"))
>>> cfg.source.path, cfg.export.out, cfg.export.target
(PosixPath('/d/raw.jsonl'), PosixPath('/d/out'), 'openai-rft')
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curate import yaml_safe
from curate.engine import engine_spec
from curate.errors import ConfigError
from curate.frame import RESERVED_COLUMNS
from curate.io.source import SourceSpec
from curate.kinds import Kind, get_kind, kind_from_config
from curate.options import Param, parse_options

SECTIONS = ("source", "labels", "answer", "rules", "difficulty", "balance", "split", "export", "dryrun", "report",
            "engine")
TEMPLATE_SUFFIXES = (".md", ".txt", ".j2", ".jinja", ".jinja2")

EXPORT_PARAMS = (
    Param("out", str),
    Param("target", str, "openai-rft"),
    Param("developer", str, None, nullable=True),
    Param("user", str, "{{ text }}"),
    Param("reference", str, None, choices=("labels", "answer", None)),
    Param("answer_key", str, None, nullable=True),  # default: the kind's (labels, label, answer)
    Param("response_format", bool, True),  # false: no response_format.json (plain-text answers)
    Param("passthrough", list, []),
    Param("grader", (str, dict), None, nullable=True),
    Param("options", dict, {}),
)

REPORT_PARAMS = (
    Param("title", str, "curate report"),
    Param("examples", int, 5, low=0, high=100),  # example rows shown per rule
)


@dataclass(frozen=True)
class ExportConfig:
    out: Path
    target: str = "openai-rft"
    developer: str = ""  # the developer prompt template text ("" = no developer message)
    user: str = "{{ text }}"
    answer_key: str = "labels"
    response_format: bool = True
    passthrough: tuple[str, ...] = ()
    grader: str | dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PipelineConfig:
    """A checked pipeline: stage sections keep their mappings; each stage validates its own."""

    base_dir: Path
    source: SourceSpec
    export: ExportConfig
    kind: Kind = field(default_factory=lambda: get_kind("labels"))  # the task kind (curate.kinds)
    labels: dict[str, Any] | None = None
    rules: tuple[str | dict[str, Any], ...] = ("default",)
    balance: dict[str, Any] | None = None
    split: dict[str, Any] = field(default_factory=dict)
    dryrun: dict[str, Any] | None = None
    difficulty: dict[str, Any] | None = None  # the difficulty stage (curate.difficulty)
    report: dict[str, Any] = field(default_factory=dict)  # checked against REPORT_PARAMS
    resolved: dict[str, Any] = field(default_factory=dict)  # the mapping as run, for the manifest
    where: str = ""
    engine: dict[str, Any] = field(default_factory=lambda: {"name": "local"})  # curate.engine checks the rest


def load_config(
    source: str | Path | Mapping[str, Any],
    *,
    overrides: Mapping[str, Any] | None = None,
    base_dir: Path | None = None,
) -> PipelineConfig:
    """Read and check a pipeline config from a YAML path or a mapping.

    ``overrides`` use dotted keys: ``{"export.out": "/tmp/out", "split.seed": 3}``.
    """
    if isinstance(source, str | Path):
        path = Path(source)
        mapping = yaml_safe.load(path, "pipeline file")
        if not isinstance(mapping, dict):
            raise ConfigError(f"{path}: expected a mapping of stages at the top level")
        base = path.resolve().parent
        where = f"{path}: "
    else:
        mapping, base, where = copy.deepcopy(dict(source)), (base_dir or Path.cwd()).resolve(), ""
    for key, value in (overrides or {}).items():
        _set_dotted(mapping, key, value)
    yaml_safe.check_size(mapping, where.rstrip(": ") or "the configuration")
    return _check(mapping, base, where)


def _check(mapping: dict[str, Any], base: Path, where: str) -> PipelineConfig:
    unknown = sorted(set(mapping) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{where}unknown section {unknown[0]!r}; sections: {', '.join(SECTIONS)}")
    for required in ("source", "export"):
        if not isinstance(mapping.get(required), dict):
            raise ConfigError(f"{where}the {required!r} section is required and must be a mapping")
    source = SourceSpec.from_mapping(mapping["source"], base, f"{where}source: ")
    for name in ("labels", "answer"):
        value = mapping.get(name)
        if value is not None and not isinstance(value, dict):
            raise ConfigError(f"{where}the {name!r} section must be a mapping; got {type(value).__name__}")
    kind = kind_from_config(mapping.get("answer"), mapping.get("labels"), answer_field=source.answer,
                            base_dir=base, where=where)
    source = _with_category_fields(source, mapping)
    export = _export(mapping["export"], base, f"{where}export: ", kind)
    rules = mapping.get("rules", ["default"])
    if rules is None:
        rules = []
    if not isinstance(rules, list) or not all(isinstance(r, str | dict) for r in rules):
        raise ConfigError(f"{where}rules: expected a list of rule pack names, paths or rule entries")
    sections = {}
    for name in ("labels", "balance", "split", "dryrun", "report", "difficulty"):
        value = mapping.get(name)
        if value is not None and not isinstance(value, dict):
            raise ConfigError(f"{where}the {name!r} section must be a mapping; got {type(value).__name__}")
        sections[name] = value
    report = parse_options("report", sections["report"], REPORT_PARAMS, f"{where}report: ")
    return PipelineConfig(
        base_dir=base, source=source, export=export, kind=kind, labels=sections["labels"], rules=tuple(rules),
        balance=sections["balance"], split=sections["split"] or {}, dryrun=sections["dryrun"], report=report,
        difficulty=sections["difficulty"], resolved=_resolved(mapping, source, export), where=where,
        engine=engine_spec(mapping.get("engine"), where),
    )


def _export(mapping: Mapping[str, Any], base: Path, where: str, kind: Kind) -> ExportConfig:
    opts = parse_options("export", mapping, EXPORT_PARAMS, where)
    expected = "labels" if kind.is_labels else "answer"
    if opts["reference"] not in (None, expected):
        raise ConfigError(f"{where}reference: this pipeline's reference is its {expected!r} (a {kind.name} task); "
                          f"got {opts['reference']!r}")
    return ExportConfig(
        out=_resolve(base, opts["out"]),
        target=opts["target"],
        developer=_template_text(opts["developer"], base, where + "developer: "),
        user=_template_text(opts["user"], base, where + "user: "),
        answer_key=opts["answer_key"] or kind.default_answer_key,
        response_format=opts["response_format"],
        passthrough=tuple(str(p) for p in opts["passthrough"]),
        grader=opts["grader"],
        options=dict(opts["options"]),
    )


def category_fields(mapping: Mapping[str, Any]) -> dict[str, str]:
    """The category fields selection stratifies or balances on: ``{"split": path, "balance": path}``."""
    out = {}
    for section, key in (("split", "stratify"), ("balance", "by")):
        value = (mapping.get(section) or {}).get(key) if isinstance(mapping.get(section), dict) else None
        if isinstance(value, str):
            out[section] = value
    return out


def category_column(source: SourceSpec, path: str) -> str:
    """The record-frame column holding the category field ``path``."""
    return next((name for name, src in source.passthrough if path in (name, src)), path)


def _with_category_fields(source: SourceSpec, mapping: Mapping[str, Any]) -> SourceSpec:
    """Load the category fields too: a passthrough name is used as is, another path is added."""
    pairs = list(source.passthrough)
    for section, path in category_fields(mapping).items():
        if any(path in pair for pair in pairs):
            continue
        if path in RESERVED_COLUMNS:
            key = "stratify" if section == "split" else "by"
            raise ConfigError(f"{section}: {key}: {path!r} is a core column, not a category field; map the field in "
                              "source.passthrough under another name and name that")
        pairs.append((path, path))
    return dataclasses.replace(source, passthrough=tuple(pairs)) if len(pairs) > len(source.passthrough) else source


def _template_text(value: str | None, base: Path, where: str) -> str:
    """A template given inline, or as a file path ending in .md/.txt/.j2/.jinja."""
    if value is None:
        return ""
    if value.strip().lower().endswith(TEMPLATE_SUFFIXES) and "\n" not in value:
        path = _resolve(base, value.strip())
        if not path.is_file():
            raise ConfigError(f"{where}no such template file {path}")
        return yaml_safe.read_text(path, "template file")
    return value


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _set_dotted(mapping: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = mapping
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    node[parts[-1]] = value


def _resolved(mapping: dict[str, Any], source: SourceSpec, export: ExportConfig) -> dict[str, Any]:
    out = copy.deepcopy(mapping)
    path = str(source.path) if source.given is None else source.given  # several inputs: as given, resolved
    out["source"] = {**out["source"], "path": list(path) if isinstance(path, tuple) else path, "format": source.format}
    out["export"] = {**out["export"], "out": str(export.out), "target": export.target}
    return out
