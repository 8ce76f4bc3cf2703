"""``curate init FILE``: a commented starter ``pipeline.yaml`` written beside a raw file.

The guesses come from :func:`curate.profiling.inspect_file`: the id, the input text, and either the
labels (a list field, or a short categorical field: one label per row) or a reference answer with
its kind. A vocabulary file beside the data (CSV/TSV/JSON with id and name columns) is mapped
when one is found. The file is a starting point that ``curate run`` completes; every line says
what to check.

>>> import json, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> rows = [{"id": f"q{i}", "question": f"Which organ does disease {i} affect first, and why?",
...          "answer": f"organ {i % 7}"} for i in range(30)]
>>> _ = (folder / "raw.jsonl").write_text("\\n".join(json.dumps(r) for r in rows) + "\\n")
>>> path = write_starter(folder / "raw.jsonl")
>>> import yaml; cfg = yaml.safe_load(path.read_text())
>>> cfg["source"], cfg["answer"]
({'path': 'raw.jsonl', 'id': 'id', 'text': 'question', 'answer': 'answer'}, {'kind': 'text'})
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from curate.errors import ConfigError
from curate.profiling import Profile, inspect_file

_ID_COLUMNS = ("id", "concept_id", "code", "label_id", "key")
_NAME_COLUMNS = ("name", "label", "label_en", "title", "term")


def write_starter(path: str | Path, *, out: str | Path | None = None, force: bool = False,
                  profile: Profile | None = None) -> Path:
    """Write the starter pipeline for ``path`` (default ``pipeline.yaml`` beside it); return its path."""
    from curate.io.atomic import write_text_atomic

    path = Path(path)
    target = Path(out) if out is not None else path.parent / "pipeline.yaml"
    if target.exists() and not force:
        raise ConfigError(f"{target}: already exists; pass --force to replace it, or --out to write elsewhere")
    if target.resolve() == path.resolve():
        raise ConfigError(f"{target}: that is the data file itself")
    profile = profile or inspect_file(path)
    text = render_starter(profile, relative_to=target.parent)
    write_text_atomic(target, text)
    return target


def render_starter(profile: Profile, relative_to: Path) -> str:
    """The starter YAML text for ``profile``, paths relative to ``relative_to``."""
    g = profile.guess
    if not g.get("text"):
        raise ConfigError(f"{profile.path}: no text field found; `curate inspect {profile.path}` lists the fields")
    if not (g.get("labels") or g.get("answer")):
        raise ConfigError(f"{profile.path}: no labels or answer field recognised; "
                          f"`curate inspect {profile.path}` lists the fields: write source.labels or source.answer")
    source: dict[str, Any] = {"path": _relative(profile.path, relative_to)}
    if profile.format not in ("jsonl", "csv", "parquet", "json") or profile.path.suffix.lower() not in (
            ".jsonl", ".ndjson", ".json", ".csv", ".tsv", ".parquet", ".pq"):
        source["format"] = profile.format
    if g.get("id"):
        source["id"] = g["id"]
    source["text"] = g["text"]
    sections: list[tuple[str, str, Any]] = []
    if g.get("labels"):
        source["labels"] = g["labels"]
        labels: dict[str, Any] = {}
        vocab = find_vocabulary(profile.path.parent, exclude=profile.path)
        if vocab is not None:
            labels.update({"vocabulary": _relative(vocab[0], relative_to), "id": vocab[1], "name": vocab[2]})
        if g.get("single"):
            labels["single"] = True
        developer = ("Classify the user's text. Choose only from these names:\n"
                     "{% for name in label_names %}- {{ name }}\n{% endfor %}"
                     + ("Answer with exactly one of them." if g.get("single")
                        else 'Answer with a JSON object {"labels": [...]} of every name that applies.'))
    else:
        source["answer"] = g["answer"]
        labels = {}
        developer = "Answer the user's question. End with the final answer alone on the last line."
    sections.append(("source", "which file (or several: a list, a glob such as data/*.jsonl, or a folder), and "
                     "which of its fields are the id, the input and the "
                     + ("labels" if g.get("labels") else "reference answer"), source))
    if labels:
        sections.append(("labels", "one label per row (labels.single); a vocabulary maps ids to names"
                         if labels.get("single") else "how labels are named", labels))
    if g.get("answer"):
        sections.append(("answer", "how answers are read and compared: text, number, json or math",
                         {"kind": g.get("kind") or "text"}))
    sections += [
        ("rules", "rule packs: rules/default.yaml; override one rule with {rule: NAME, ...}", ["default"]),
        ("split", "validation: a row count or a share of the clean rows (openai-rft takes at most "
                  f"{VALID_LIMIT:,} validation rows)", {"validation": _validation(profile.rows), "seed": 7}),
        ("export", "where and for which platform; prompts are Jinja templates over the record's fields",
         {"target": "openai-rft", "developer": developer, "user": "{{ text }}", "out": "out"}),
    ]
    parts = [
        f"# Starter pipeline for {profile.path.name}, written by `curate init` from {profile.rows} rows.",
        "# Check each guess below, then run:  curate run " + "pipeline.yaml",
        "# Every option: README.md and docs/ in the curate repository.",
    ]
    for name, comment, value in sections:
        parts.append("")
        parts.append(f"# {comment}")
        parts.append(yaml.safe_dump({name: value}, sort_keys=False, allow_unicode=True, width=100).rstrip())
    return "\n".join(parts) + "\n"


VALID_LIMIT = 1_000  # openai-rft's validation file (curate.export.openai_rft.LIMITS)


def _validation(rows: int) -> float | int:
    """A fifth of the rows, or the starter target's validation limit when a fifth is more."""
    return 0.2 if rows * 0.2 <= VALID_LIMIT else VALID_LIMIT


def find_vocabulary(folder: Path, exclude: Path) -> tuple[Path, str, str] | None:
    """A CSV/TSV/JSON file in ``folder`` with an id column and a name column: (path, id, name)."""
    import polars as pl

    for candidate in sorted(folder.iterdir()):
        if candidate == exclude or not candidate.is_file() or candidate.suffix.lower() not in (".csv", ".tsv", ".json"):
            continue
        try:
            if candidate.suffix.lower() == ".json":
                data = json.loads(candidate.read_text(encoding="utf-8"))
                if not (isinstance(data, list) and data and isinstance(data[0], dict)):
                    continue
                columns = list(data[0])
            else:
                sep = "\t" if candidate.suffix.lower() == ".tsv" else ","
                columns = pl.read_csv(candidate, separator=sep, n_rows=1, infer_schema_length=0).columns
        except (OSError, ValueError, pl.exceptions.PolarsError):
            continue
        ids = [c for c in _ID_COLUMNS if c in columns]
        names = [c for c in _NAME_COLUMNS if c in columns]
        if ids and names and len(columns) <= 20:
            return candidate, ids[0], names[0]
    return None


def _relative(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())
