"""What to read and how the user's fields map onto curate's record frame.

>>> spec = SourceSpec.from_mapping({"path": "raw.jsonl", "id": "celex_id", "text": "text.en",
...                                 "labels": "eurovoc_concepts"}, base_dir=Path("/data"))
>>> spec.path, spec.format, spec.text
(PosixPath('/data/raw.jsonl'), 'jsonl', 'text.en')

``path`` may also name several inputs: a list of paths, a glob (``data/fold_*.json``) or a folder
(its files of a supported format, by name); ``split`` a list of splits of a saved ``DatasetDict``, or
``all``. Then :attr:`SourceSpec.inputs` lists each file (or split) in reading order, and
:func:`curate.io.inputs.load_inputs` reads them as one source (see :mod:`curate.io.expand`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.errors import ConfigError, SourceError
from curate.frame import RESERVED_COLUMNS
from curate.options import Param, parse_options

FORMATS = ("jsonl", "json", "csv", "parquet", "hf")
SUFFIX_FORMATS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "csv",
    ".parquet": "parquet", ".pq": "parquet",
}

PARAMS = (
    Param("path", (str, list)),
    Param("format", str, None, choices=(*FORMATS, None)),
    Param("id", str, None, nullable=True),
    Param("text", str, "text"),
    Param("labels", str, None, nullable=True),
    Param("answer", str, None, nullable=True),
    Param("passthrough", (list, dict), []),
    Param("labels_sep", str, None, nullable=True),
    Param("delimiter", str, None, nullable=True),
    Param("split", (str, list), None, nullable=True),
)


@dataclass(frozen=True)
class Input:
    """One file (or one split of a saved dataset) of a source with several inputs."""

    path: Path
    format: str
    split: str | None
    name: str  # as the ledger's ``file`` column shows it: relative to the pipeline's folder when inside it


@dataclass(frozen=True)
class SourceSpec:
    """A source file and the mapping of its fields (dotted paths reach nested fields)."""

    path: Path
    format: str
    text: str = "text"
    labels: str | None = "labels"  # the label-id field (label tasks), or None
    answer: str | None = None  # the reference-answer field (open-answer tasks), or None
    id: str | None = None  # None: ids are made from line numbers ("line-12")
    passthrough: tuple[tuple[str, str], ...] = ()  # (output name, source path)
    labels_sep: str | None = None  # split string labels on this separator (CSV)
    delimiter: str | None = None  # CSV field delimiter (default: tab for .tsv, comma otherwise)
    split: str | None = None  # split of a saved Hugging Face DatasetDict
    # several inputs (a list, glob or folder of files, or several splits): each in reading order; () for one
    inputs: tuple[Input, ...] = ()
    given: str | tuple[str, ...] | None = None  # ``path`` as configured, resolved (several inputs only)

    @classmethod
    def from_mapping(
        cls, mapping: Mapping[str, Any], base_dir: Path | None = None, where: str = ""
    ) -> SourceSpec:
        opts = parse_options("source", mapping, PARAMS, where)
        _check_separators(opts, where)
        from curate.io.expand import expand_inputs

        several = expand_inputs(opts["path"], opts["format"], opts["split"], base_dir, where)
        if several is not None:
            return dataclasses.replace(cls.from_mapping({**mapping, "path": str(several.inputs[0].path),
                                                         "format": several.inputs[0].format,
                                                         "split": several.inputs[0].split}, base_dir, where),
                                       format=several.format, split=None, inputs=several.inputs, given=several.given)
        path = Path(opts["path"]).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = base_dir / path
        passthrough = _passthrough_pairs(opts["passthrough"], where)
        if opts["labels"] is not None and opts["answer"] is not None:
            raise ConfigError(f"{where}map either 'labels' (a label task) or 'answer' (an open-answer task), not both")
        if opts["labels"] is None and opts["answer"] is None:
            opts["labels"] = "labels"
        return cls(
            path=path,
            format=opts["format"] or detect_format(path),
            text=opts["text"],
            labels=opts["labels"],
            answer=opts["answer"],
            id=opts["id"],
            passthrough=passthrough,
            labels_sep=opts["labels_sep"],
            delimiter=opts["delimiter"],
            split=opts["split"],
        )

    @property
    def files(self) -> tuple[SourceSpec, ...]:
        """One spec per input file (or split), in reading order: ``(self,)`` for a single file."""
        if not self.inputs:
            return (self,)
        return tuple(dataclasses.replace(self, path=i.path, format=i.format, split=i.split, inputs=(), given=None)
                     for i in self.inputs)

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every file or folder the source reads."""
        return tuple(dict.fromkeys(spec.path for spec in self.files))

    @property
    def description(self) -> str:
        """What the source reads, for progress messages."""
        if not self.inputs:
            return str(self.path)
        return f"{len(self.inputs)} inputs ({self.inputs[0].name} to {self.inputs[-1].name})"

    @property
    def answer_field(self) -> str:
        """The output column holding the reference: ``answer`` or ``labels``."""
        return "answer" if self.answer is not None else "labels"

    @property
    def field_paths(self) -> dict[str, str]:
        """Output column -> source path, for every mapped field."""
        paths = {"text": self.text}
        if self.answer is not None:
            paths["answer"] = self.answer
        else:
            paths["labels"] = self.labels or "labels"
        if self.id is not None:
            paths["id"] = self.id
        paths.update(dict(self.passthrough))
        return paths


def _check_separators(opts: Mapping[str, Any], where: str) -> None:
    """``delimiter`` is one character other than a quote or line break; ``labels_sep`` is not empty."""
    delimiter, labels_sep = opts["delimiter"], opts["labels_sep"]
    if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n'):
        raise ConfigError(f"{where}The 'delimiter' parameter of source must be one character other than "
                          f"a quote or a line break. Got {delimiter!r} instead.")
    if labels_sep == "":
        raise ConfigError(f"{where}The 'labels_sep' parameter of source must be a non-empty str. Got '' instead.")


def _passthrough_pairs(value: list | dict, where: str) -> tuple[tuple[str, str], ...]:
    if isinstance(value, dict):
        pairs = [(str(k), str(v)) for k, v in value.items()]
    else:
        pairs = [(str(p).rsplit(".", 1)[-1], str(p)) for p in value]
    names = [name for name, _ in pairs]
    clashes = sorted({n for n in names if names.count(n) > 1} | (set(RESERVED_COLUMNS) & set(names)))
    if clashes:
        raise ConfigError(f"{where}passthrough field name {clashes[0]!r} is used twice or is reserved")
    return tuple(pairs)


def detect_format(path: Path) -> str:
    """The format implied by ``path``: its suffix, or a saved Hugging Face dataset folder."""
    if path.is_dir():
        if any((path / marker).exists() for marker in ("dataset_info.json", "state.json", "dataset_dict.json")):
            return "hf"
        raise SourceError(f"{path}: a folder, but not a dataset saved with datasets' save_to_disk")
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SourceError(
            f"{path}: unknown format {path.suffix or '(no suffix)'!r}; "
            f"name the file .jsonl, .json, .csv, .tsv or .parquet, or set source.format"
        )
    return fmt
