"""The curation pipeline: load, map labels, check rules, balance, split, export, account.

The CLI (``curate run``) and Python scripts share this one code path::

    import curate
    result = curate.run("examples/eurlex/pipeline.yaml")
    result.manifest["counts"]        # {'train': 100, 'valid': 50, ...}

Stages are plain functions over one polars frame (see :mod:`curate.frame`); hooks run at stage
boundaries (:mod:`curate.hooks`).
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from curate.config import PipelineConfig, category_column, category_fields, load_config
from curate.diagnose import explain_all_rejected
from curate.engine import get_engine
from curate.errors import ConfigError, CurateError, ExportError, SelectionError
from curate.export.base import SPLIT_FILES, ExportBundle, get_target
from curate.export.bundle import build_bundle
from curate.export.templates import check_template
from curate.frame import ERROR, LABEL_NAMES, LINE, TEXT, WARN, concat_findings
from curate.hooks import Hook, StageEvent, run_hooks
from curate.io.atomic import flushing, fsync_file, write_text_atomic
from curate.io.inputs import Inputs, load_inputs
from curate.io.outdir import OutFolder
from curate.kinds.base import category_lists
from curate.kinds.base import response_format as kind_response_format
from curate.ledger import build_ledger, disposition_counts, rejected_rows, rule_counts
from curate.manifest import build_manifest, digest_path, dumps, label_counts
from curate.report.html import render_report
from curate.rules import RuleContext, data_relative_warnings, restate_findings
from curate.schemas import validate as validate_schema
from curate.select.options import balance_options, split_options

DEFAULT_VALIDATION = 0.2  # share of the pool, when split.validation is not given


@dataclass(frozen=True)
class RunResult:
    """What a run produced: the output folder, the manifest, the ledger and every finding."""

    out_dir: Path
    manifest: dict[str, Any]
    ledger: pl.DataFrame
    findings: pl.DataFrame
    bundle: ExportBundle


@dataclass
class Pipeline:
    """A configured pipeline with optional hooks.

    >>> Pipeline.from_file  # doctest: +ELLIPSIS
    <bound method Pipeline.from_file of <class 'curate.pipeline.Pipeline'>>
    """

    config: PipelineConfig
    hooks: dict[str, list[Hook]] = field(default_factory=lambda: defaultdict(list))
    progress: Callable[[str], None] | None = None

    @classmethod
    def from_file(cls, path: str | Path, overrides: Mapping[str, Any] | None = None) -> Pipeline:
        return cls(load_config(path, overrides=overrides))

    def add_hook(self, stage: str, hook: Hook) -> Pipeline:
        """Run ``hook`` after ``stage`` (one of :data:`curate.hooks.STAGES`)."""
        from curate.hooks import STAGES

        if stage not in STAGES:
            raise ValueError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
        self.hooks[stage].append(hook)
        return self

    def run(self) -> RunResult:
        run = _Run(self)
        with run.folder, run.engine.session(run.say):  # checked, locked, staged and started before any work
            return run.execute()


def run(config: str | Path | Mapping[str, Any] | PipelineConfig, **overrides: Any) -> RunResult:
    """Run a pipeline from a YAML path, a mapping or a :class:`PipelineConfig`.

    Keyword overrides use ``__`` for dots: ``run("pipeline.yaml", export__out="/tmp/out")``.
    """
    if not isinstance(config, PipelineConfig):
        config = load_config(config, overrides={k.replace("__", "."): v for k, v in overrides.items()})
    return Pipeline(config).run()


class _Run:
    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline
        self.cfg = pipeline.config
        self.out = self.cfg.export.out
        self.folder = OutFolder(self.out, protect=self._inputs(), where=f"{self.cfg.where}export.out")
        self.engine = get_engine(self.cfg.engine, self.cfg.where)  # where the row stages run (curate.engine)
        self.hooks = dict(pipeline.hooks)
        self.rule_warnings: list[dict[str, Any]] = []  # data-relative rules that rejected many rows
        self.difficulty: tuple[Any, tuple[float, float]] | None = None  # (DifficultyResult, keep band)
        if self.cfg.dryrun is not None:
            from curate.dryrun import dryrun_hook

            self.hooks.setdefault("after_export", [])
            self.hooks["after_export"] = [*self.hooks["after_export"], dryrun_hook(self.cfg.dryrun, self.cfg.base_dir)]

    def _inputs(self) -> list[Path]:
        """Files the run reads that an output folder must never hold or replace."""
        cfg, paths = self.cfg, list(self.cfg.source.paths)
        if cfg.labels and isinstance(cfg.labels.get("vocabulary"), str):
            paths.append(cfg.base_dir / Path(cfg.labels["vocabulary"]).expanduser())
        for spec in (cfg.export.grader, (cfg.dryrun or {}).get("grader")):
            path = spec.get("path") if isinstance(spec, dict) else spec
            if isinstance(path, str) and (cfg.base_dir / path).is_file():
                paths.append(cfg.base_dir / path)
        return paths

    def say(self, message: str) -> None:
        if self.p.progress is not None:
            self.p.progress(message)

    def event(self, stage: str, **state: Any) -> None:
        run_hooks(self.hooks, StageEvent(stage, self.out, self.cfg.base_dir, state))

    def execute(self) -> RunResult:
        cfg = self.cfg
        _preload("pandera.polars", "curate.select.split", "curate.select.balance")
        balance_opts = balance_options(cfg.balance, f"{cfg.where}balance: ") if cfg.balance else None
        split_opts = split_options(self._split_mapping(), f"{cfg.where}split: ")
        target = get_target(cfg.export.target)
        target.check_options(cfg.export.options)
        self._check_templates()
        self._check_sections()
        grader = self._grader()
        difficulty_opts = self._difficulty_options()
        if balance_opts and balance_opts.get("by_difficulty") and difficulty_opts is None:
            raise ConfigError(f"{cfg.where}balance: by_difficulty needs a difficulty: section")

        frame, findings, input_rows, class_names = self._load()
        pool, findings, groups = self._check(frame, findings, class_names)
        ids = frame.select(LINE, "id")
        del frame  # large frames are dropped as soon as a stage is done with them
        if pool.is_empty():  # nothing to export: still account for every row, then say why
            self._write(target, None, lambda: build_ledger(ids, findings, {}, input_rows), findings,
                        {"pool": pool.select(LABEL_NAMES)}, {})
            raise SelectionError(explain_all_rejected(findings, input_rows, cfg.labels, cfg.base_dir))
        if class_names is None:
            class_names = tuple(sorted(set(pool[LABEL_NAMES].explode().drop_nulls().to_list())))
        labels = {"pool": pool.select(LABEL_NAMES)}
        kind = cfg.kind
        bundle_for = lambda frames: build_bundle(  # noqa: E731  (the export's prompts, for every stage)
            frames, label_names=class_names, developer=cfg.export.developer, user=cfg.export.user,
            answer_key=cfg.export.answer_key, passthrough=cfg.export.passthrough, grader=grader,
            options=cfg.export.options, kind=kind, response_format=cfg.export.response_format,
        )
        difficulty = None
        if difficulty_opts is not None:
            from curate.difficulty import run_difficulty

            self.say(f"sampling {difficulty_opts['model']} on {pool.height} candidate items (difficulty)")
            difficulty = run_difficulty(pool, difficulty_opts, bundle_for=lambda f: bundle_for({"train": f}),
                                        grader=grader, out_dir=self.out, say=self.say)
            pool, findings = difficulty.pool, concat_findings([findings, difficulty.findings])
            self.difficulty = (difficulty, difficulty_opts["keep"])
            if pool.is_empty():  # account for every row, then say why nothing is left
                self._write(target, None, lambda: _ledger(ids, findings, {}, input_rows, difficulty), findings,
                            labels, {"difficulty": difficulty.summary})
                raise SelectionError(
                    f"difficulty: none of the {difficulty.summary['items']} sampled items has a mean score in the "
                    f"keep band {list(difficulty_opts['keep'])} ({difficulty.summary['too_easy']} too easy, "
                    f"{difficulty.summary['too_hard']} too hard); widen difficulty.keep or change the model"
                )

        splits, extra = self._place(pool, balance_opts, split_opts, groups, labels)
        if difficulty is not None:
            extra["difficulty"] = difficulty.summary
        if self.rule_warnings:
            extra["rule_warnings"] = self.rule_warnings
        del pool
        self.event("after_split", splits=splits, findings=findings)

        self.say(f"exporting with target {target.name}")
        bundle = dataclasses.replace(bundle_for(splits), engine=self.engine)  # the engine writes the JSON lines
        for split_name, frame in bundle.splits.items():
            _boundary(frame.with_row_index("line", offset=1), kind.schema_stages["export"], fatal=True,
                      what=SPLIT_FILES[split_name])
        placed = {name: f[LINE] for name, f in splits.items()}
        labels.update({name: f.select(LABEL_NAMES) for name, f in splits.items()})
        del splits
        extra["export"] = {"target": target.name, "kind": kind.name, "answer_key": cfg.export.answer_key,
                           "warnings": self._lint(target, bundle)}
        manifest, ledger = self._write(target, bundle, lambda: _ledger(ids, findings, placed, input_rows, difficulty),
                                       findings, labels, extra)
        self.say(f"wrote {self.out}")
        result = RunResult(self.out, manifest, ledger, findings, bundle)
        self.event("after_export", manifest=manifest, ledger=ledger, findings=findings, bundle=bundle)
        return result

    def _load(self) -> tuple[pl.DataFrame, pl.DataFrame, int, tuple[str, ...] | None]:
        cfg = self.cfg
        self.say(f"loading {cfg.source.description}")
        kind = cfg.kind
        class_names = kind.class_names  # reads the vocabulary (if any) before the source
        loaded = load_inputs(cfg.source, kind)
        self.inputs: Inputs = loaded.inputs
        fields = category_fields(cfg.resolved)
        categories = fields.get("split", fields.get("balance"))
        frame, label_findings = kind.prepare(
            loaded.frame, None if categories is None else category_column(cfg.source, categories))
        findings = concat_findings([loaded.findings, label_findings,
                                    _boundary(frame, kind.schema_stages["records"])])
        self.event("after_load", frame=frame, findings=findings)
        return frame, findings, loaded.input_rows, class_names

    def _check(self, frame: pl.DataFrame, findings: pl.DataFrame,
               class_names: tuple[str, ...] | None) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
        cfg = self.cfg
        self.say(f"checking {frame.height} rows against rule packs {', '.join(map(str, cfg.rules)) or '(none)'}")
        kind, key = cfg.kind, cfg.export.answer_key
        context = RuleContext(
            label_names=class_names,
            response_format=kind_response_format(kind.response_schema(key, class_names), key) if class_names else None,
            extra={"answer_key": key},
            kind=kind,
        )
        rules = self.engine.evaluate_rules(frame, cfg.rules, base_dir=cfg.base_dir, context=context)
        self.rule_warnings = data_relative_warnings(rules.findings, cfg.rules, frame.height, base_dir=cfg.base_dir)
        for warning in self.rule_warnings:
            self.say(f"warning: {warning['message']}")
        findings = concat_findings([restate_findings(findings, cfg.rules, base_dir=cfg.base_dir), rules.findings])
        pool = _without_errors(frame, findings)
        curated = _boundary(pool, kind.schema_stages["curated"])
        if curated.height:
            findings = concat_findings([findings, curated])
            pool = _without_errors(pool, curated)
        self.event("after_rules", frame=pool, findings=findings)
        return pool, findings, rules.groups

    def _place(self, pool: pl.DataFrame, balance_opts: dict[str, Any] | None, split_opts: dict[str, Any],
               groups: pl.DataFrame, labels: dict[str, pl.DataFrame]) -> tuple[dict[str, pl.DataFrame], dict]:
        """Balance (optional), split train/validation, and draw the production validation set."""
        from curate.select import balance as balance_stage
        from curate.select import split as split_stage

        self.say(f"selecting and splitting {pool.height} clean rows")
        chosen, unused, extra = self._select(pool, balance_opts)
        if balance_opts:
            labels["balanced"] = chosen.select(LABEL_NAMES)
        split = split_stage.split_train_valid(self._strata(chosen, split_opts.get("stratify")), split_opts,
                                              self._groups(chosen, groups))
        splits = {
            "train": chosen.filter(pl.Series(split.assignment == split_stage.TRAIN)),
            "valid": chosen.filter(pl.Series(split.assignment == split_stage.VALID)),
        }
        production = int(split_opts.get("production", 0) or 0)
        if production:
            picked = balance_stage.select_natural(self._strata(unused, split_opts.get("stratify")),
                                                  min(production, unused.height), split_opts["seed"])
            splits["valid_production"] = unused[np.sort(picked)]
        extra["split"] = split.quality
        return splits, extra

    def _difficulty_options(self) -> dict[str, Any] | None:
        if self.cfg.difficulty is None:
            return None
        from curate.difficulty import difficulty_options

        return difficulty_options(self.cfg.difficulty, self.cfg.where)

    def _check_templates(self) -> None:
        """Fail before any work if a prompt template names a field the records will not have."""
        export = self.cfg.export
        fields = {"id", "text", "label_names", *(name for name, _ in self.cfg.source.passthrough)}
        check_template(export.user, fields, f"{self.cfg.where}export.user")
        check_template(export.developer, {"label_names"}, f"{self.cfg.where}export.developer")

    def _check_sections(self) -> None:
        """Rule packs are checked before any work, like every other section (the config checks the rest)."""
        from curate.rules.packs import resolve_rules

        resolve_rules(self.cfg.rules, self.cfg.base_dir)

    def _split_mapping(self) -> dict[str, Any]:
        mapping = dict(self.cfg.split)
        if "validation" not in mapping:
            mapping["validation"] = DEFAULT_VALIDATION
        return mapping

    def _select(self, pool: pl.DataFrame, opts: dict[str, Any] | None) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
        if opts is None:
            return pool, pool.clear(), {}
        from curate.select import balance as balance_stage

        strata = self._strata(pool, opts.get("by"))
        if opts.get("by_difficulty") and self.difficulty is not None:
            from curate.difficulty import with_band_labels

            strata = with_band_labels(strata, pool[LINE], self.difficulty[0].columns, self.difficulty[1],
                                      opts["by_difficulty"])
        result = balance_stage.select_balanced(strata, opts)
        mask = np.zeros(pool.height, dtype=bool)
        mask[result.indices] = True
        keep = pl.Series(mask)
        return pool.filter(keep), pool.filter(~keep), {"balance": result.stats}

    def _strata(self, frame: pl.DataFrame, field: str | None) -> pl.Series:
        """What selection stratifies or balances on: a category field, else ``label_names``."""
        if field is None:
            return frame[LABEL_NAMES]
        return category_lists(frame, category_column(self.cfg.source, field))

    @staticmethod
    def _groups(chosen: pl.DataFrame, groups: pl.DataFrame) -> np.ndarray:
        """Group id per chosen row: the rules' near-duplicate groups, else identical text.

        Identical texts are found by a 64-bit hash (ranking the texts themselves sorts every
        string); a collision could only keep two different texts on the same side of the split.
        """
        by_text = chosen.select(pl.col(TEXT).hash(seed=0).rank("dense").cast(pl.Int64).alias("_t"), LINE)
        joined = by_text.join(groups, on=LINE, how="left", maintain_order="left")
        offset = int(joined["_t"].max() or 0) + 1
        return joined.select(pl.coalesce(pl.col("group") + offset, pl.col("_t"))).to_series().to_numpy()

    def _grader(self) -> dict[str, Any]:
        """``export.grader``, or the kind's default grader: every export ships a grader."""
        spec, key = self.cfg.export.grader, self.cfg.export.answer_key
        if spec is None:
            return self.cfg.kind.default_grader(key)
        from curate.graders import build_grader

        return build_grader(spec, answer_key=key, base_dir=self.cfg.base_dir)

    def _lint(self, target: Any, bundle: ExportBundle) -> list[dict[str, Any]]:
        """Refuse the export on any error finding; print and return the warnings, one per rule."""
        problems = [target.lint(bundle)]
        if bundle.grader is not None:
            from curate.graders import lint_templates

            for split in bundle.splits:
                found = lint_templates(bundle.grader, bundle.items(split),
                                       has_response_format=bundle.response_format is not None)
                problems.append(found.with_columns(pl.format("{}: {}", pl.lit(SPLIT_FILES[split]), "message")
                                                   .alias("message")))
        found = concat_findings(problems).filter(pl.col("severity") == ERROR)
        if found.height:
            lines = [f"  row {r['line']}: {r['rule']}: {r['message']}" for r in found.head(10).iter_rows(named=True)]
            more = f"\n  ... and {found.height - 10} more" if found.height > 10 else ""
            raise ExportError(f"export to {target.name} refused:\n" + "\n".join(lines) + more)
        warnings = export_warnings(concat_findings(problems))
        for warning in warnings:
            rows = f" ({warning['rows']} rows, e.g. line {warning['first_line']})" if warning["rows"] else ""
            self.say(f"warning: {warning['rule']}{rows}: {warning['message']}")
        return warnings

    def _write(self, target: Any, bundle: ExportBundle | None, make_ledger: Callable[[], pl.DataFrame],
               findings: pl.DataFrame, labels: dict[str, pl.DataFrame],
               extra: dict) -> tuple[dict[str, Any], pl.DataFrame]:
        """Write every output into the staging folder, the manifest last, then swap the folder in.

        The target's files (the large JSONL) are written, hashed and fsynced on a worker thread
        while this thread builds and writes the ledger: polars, hashlib and fsync release the GIL.
        """
        stage = self.folder.stage
        with ThreadPoolExecutor(max_workers=1) as worker:  # on an error here, exit waits for the worker
            exported = worker.submit(_write_target, target, bundle, stage) if bundle is not None else None
            ledger, findings = self.inputs.annotate(make_ledger()), self.inputs.with_files(findings)  # file, file_line
            ledger.write_parquet(stage / "ledger.parquet", statistics=False)
            rejected_rows(ledger, findings).write_ndjson(stage / "rejected.jsonl")
            findings.write_parquet(stage / "findings.parquet", statistics=False)
            files = {name: digest_path(stage / name) for name in ("ledger.parquet", "rejected.jsonl", "findings.parquet")}
            counts = label_counts(labels)
            exported_files = exported.result() if exported else {}  # re-raises the worker's error, if any
        files.update(exported_files)
        if bundle is not None and bundle.grader is not None:
            (stage / "grader.json").write_text(json.dumps(bundle.grader, indent=2, ensure_ascii=False) + "\n",
                                               encoding="utf-8")
            files["grader.json"] = digest_path(stage / "grader.json")
        manifest = build_manifest(
            input_rows=ledger.height, counts=disposition_counts(ledger), rules=rule_counts(findings),
            seed=self._seed(), config=self.cfg.resolved, files=files, labels=counts,
            extra={**extra, "source": {"files": accounts}} if (accounts := self.inputs.accounts(ledger)) else extra,
        )
        report = render_report(manifest, findings, counts, **self.cfg.report)
        (stage / "report.html").write_text(report, encoding="utf-8")
        manifest["files"]["report.html"] = digest_path(stage / "report.html")
        manifest["files"] = dict(sorted(manifest["files"].items()))
        for name in ("grader.json", "ledger.parquet", "rejected.jsonl", "findings.parquet", "report.html"):
            if (stage / name).is_file():
                fsync_file(stage / name)
        write_text_atomic(stage / "manifest.json", dumps(manifest))
        # the staging folder holds exactly this run's files: swap it in whole (curate.io.outdir)
        self.folder.commit()
        return manifest, ledger

    def _seed(self) -> int | None:
        return self.cfg.split.get("seed", (self.cfg.balance or {}).get("seed"))


def export_warnings(findings: pl.DataFrame) -> list[dict[str, Any]]:
    """The ``warn`` findings of an export's lint, one entry per rule: its first message, how many rows
    it names and the first of them (for the manifest and the report)."""
    warned = findings.filter(pl.col("severity") == WARN)
    out = []
    for rule, group in warned.group_by("rule", maintain_order=True):
        rows = group.filter(pl.col("line").is_not_null())
        out.append({"rule": rule[0], "message": group["message"][0], "rows": rows.height,
                    "first_line": int(rows["line"].min()) if rows.height else None})
    return out


def _ledger(ids: pl.DataFrame, findings: pl.DataFrame, placed: Mapping[str, pl.Series], input_rows: int,
            difficulty: Any) -> pl.DataFrame:
    ledger = build_ledger(ids, findings, placed, input_rows)
    if difficulty is None:
        return ledger
    from curate.difficulty import with_columns

    return with_columns(ledger, difficulty.columns)


def _preload(*modules: str) -> None:
    """Import heavy modules on a background thread while the main thread reads the source.

    The imports (pandera pulls in pandas) are Python work; reading is polars work without the
    GIL, so the two overlap. Whoever needs a module first simply waits for its import to finish.
    """
    import importlib
    import threading

    def load() -> None:
        for name in modules:
            try:
                importlib.import_module(name)
            except ImportError:  # reported where the module is really needed
                pass

    threading.Thread(target=load, name="curate-preload", daemon=True).start()


def _without_errors(frame: pl.DataFrame, findings: pl.DataFrame) -> pl.DataFrame:
    rejected = findings.filter(pl.col("severity") == ERROR)[LINE].unique()
    return frame.filter(~pl.col(LINE).is_in(rejected.implode())) if rejected.len() else frame


def _boundary(frame: pl.DataFrame, stage: str, *, fatal: bool = False, what: str = "") -> pl.DataFrame:
    """Validate ``frame`` against the stage's pandera schema (``schemas/<stage>.yaml``).

    Row failures come back as findings (the row is rejected). A failure of the frame itself (a
    missing column, a wrong dtype), or any failure where ``fatal``, is a bug in curate: it stops the
    run before anything is written.
    """
    found = validate_schema(frame, stage)
    broken = found if fatal else found.filter(pl.col(LINE) < 1)
    if broken.height:
        first = broken.row(0, named=True)
        raise CurateError(
            f"internal error: the {stage} frame{' of ' + what if what else ''} breaks schemas/{stage}.yaml "
            f"({first['field']}: {first['message']}); please report this"
        )
    return found


def _write_target(target: Any, bundle: ExportBundle, stage: Path) -> dict[str, str]:
    """The target's files written into ``stage``, each hashed and flushed to disk: name -> sha256."""
    import threading

    files = {}
    with flushing(stage):
        names = target.write(bundle, stage)
    for name in names:
        path = stage / name
        flush = threading.Thread(target=fsync_file, args=(path,)) if path.is_file() else None
        if flush is not None:
            flush.start()  # the disk write-back and the hash (from the page cache) overlap
        files[name] = digest_path(path)
        if flush is not None:
            flush.join()
    return files

