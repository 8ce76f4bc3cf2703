"""Which files a source reads: one path, or several (a list, a glob, a folder, several splits).

A source reads several inputs when ``source.path`` is a list, a glob (``*``, ``?`` or ``[`` in a
path that does not exist as written) or a folder that is not a saved dataset, or when
``source.split`` is a list or ``all``. The order is fixed, so line numbers are reproducible: a list
in the order given (each entry may itself be a glob or a folder), a glob's matches and a folder's
files sorted by name (``fold10.json`` before ``fold2.json``, as ``ls`` sorts), a dataset's splits
in the order they were saved. A folder contributes its regular files with a supported suffix
(hidden files, sub-folders and other files are left out; not recursive); a glob matches what it
says (``**`` reaches into sub-folders) and every match must have a known format. Formats may
differ between files: each is read by its own suffix unless ``source.format`` names one for all.

>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> for name in ("b.jsonl", "a.jsonl", "notes.md"):
...     _ = (d / name).write_text("{}")
>>> [i.name for i in expand_inputs("*.jsonl", None, None, d).inputs]
['a.jsonl', 'b.jsonl']
>>> [i.name for i in expand_inputs(".", None, None, d).inputs]
['a.jsonl', 'b.jsonl']
>>> expand_inputs("a.jsonl", None, None, d) is None  # one file: the single-file source
True
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass
from pathlib import Path

from curate.errors import ConfigError, SourceError
from curate.io.source import SUFFIX_FORMATS, Input, detect_format

_GLOB_CHARS = frozenset("*?[")
_HF_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")
ALL_SPLITS = "all"


@dataclass(frozen=True)
class Several:
    """The inputs of a source with several, the common format (or ``mixed``) and ``path`` as given."""

    inputs: tuple[Input, ...]
    format: str
    given: str | tuple[str, ...]


def expand_inputs(path: str | list, fmt: str | None, split: str | list | None, base_dir: Path | None,
                  where: str = "") -> Several | None:
    """The inputs ``source.path`` / ``source.split`` name, or None for a single file (read as before)."""
    base = base_dir or Path.cwd()
    if isinstance(split, list):
        if not split or not all(isinstance(s, str) and s for s in split):
            raise ConfigError(f"{where}split: a list of split names (non-empty strings); got {split!r}")
        if len(set(split)) < len(split):
            raise ConfigError(f"{where}split: {_first_repeat(split)!r} is listed twice")
    if isinstance(path, list):
        if not path or not all(isinstance(p, str) and p for p in path):
            raise ConfigError(f"{where}path: a list of paths (non-empty strings); got {path!r}")
        entries = [(str(_resolve(p, base)), p) for p in path]
        given: str | tuple[str, ...] = tuple(full for full, _ in entries)
    else:
        full = _resolve(path, base)
        if not (_is_glob(path) and not full.exists()) and not _is_folder(full, fmt) and not _several_splits(split):
            return None
        entries, given = [(str(full), path)], str(full)
    files: list[tuple[Path, str]] = []
    for full, shown in entries:
        files.extend(_expand_one(Path(full), shown, fmt, where))
    seen: dict[Path, str] = {}
    for file, _ in files:
        key = file.resolve()
        if key in seen:
            raise ConfigError(f"{where}path: {file} is named twice (a file is read once)")
        seen[key] = str(file)
    inputs: list[Input] = []
    for file, file_fmt in files:
        name = _display(file, base)
        if file_fmt == "hf":
            inputs.extend(Input(file, "hf", s, f"{name}/{s}" if s is not None else name)
                          for s in _splits(file, split, where))
        elif split is not None:
            raise ConfigError(f"{where}split: {split!r} names splits of a saved Hugging Face DatasetDict, "
                              f"but {file} is a {file_fmt} file")
        else:
            inputs.append(Input(file, file_fmt, None, name))
    formats = {i.format for i in inputs}
    return Several(tuple(inputs), formats.pop() if len(formats) == 1 else "mixed", given)


def _expand_one(full: Path, shown: str, fmt: str | None, where: str) -> list[tuple[Path, str]]:
    """(file, format) for one entry: a file, a saved dataset, a folder of files or a glob."""
    if _is_glob(shown) and not full.exists():
        matches = sorted(Path(m) for m in glob.glob(str(full), recursive=True))
        matches = [m for m in matches if m.is_file() or _is_dataset(m)]
        if not matches:
            raise SourceError(f"{where}path: no file matches {shown!r} ({full})")
        return [(m, fmt or detect_format(m)) for m in matches]
    if not full.exists():
        raise SourceError(f"{where}path: {full}: no such file or folder")
    if _is_folder(full, fmt):
        suffixes = {s for s, f in SUFFIX_FORMATS.items() if fmt is None or f == fmt}
        found = sorted(p for p in full.iterdir()
                       if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in suffixes)
        if not found:
            kinds = f"{fmt} file" if fmt else "JSONL, JSON, CSV/TSV or Parquet file"
            raise SourceError(f"{where}path: {full}: a folder with no {kinds} in it (sub-folders are not read)")
        return [(p, fmt or detect_format(p)) for p in found]
    return [(full, fmt or detect_format(full))]


def _splits(folder: Path, split: str | list | None, where: str) -> list[str | None]:
    """The splits to read from a saved dataset: as listed, every one (``all``), or the one named."""
    if not _several_splits(split):
        return [split if isinstance(split, str) else None]
    index = folder / "dataset_dict.json"
    try:
        saved = json.loads(index.read_text(encoding="utf-8"))["splits"]
    except (OSError, ValueError, KeyError, TypeError):
        raise SourceError(f"{where}split: {folder} is not a saved DatasetDict (no readable dataset_dict.json), "
                          f"so it has no splits to choose from") from None
    if split == ALL_SPLITS:
        return list(saved)
    missing = [s for s in split if s not in saved]
    if missing:
        raise SourceError(f"{where}split: {folder} has no split {missing[0]!r} (splits: {', '.join(saved)})")
    return list(split)


def _several_splits(split: str | list | None) -> bool:
    return isinstance(split, list) or split == ALL_SPLITS


def _is_glob(path: str) -> bool:
    return bool(_GLOB_CHARS & set(path))


def _is_dataset(path: Path) -> bool:
    return path.is_dir() and any((path / m).exists() for m in _HF_MARKERS)


def _is_folder(path: Path, fmt: str | None) -> bool:
    """A folder of files (not a saved dataset, and not named ``format: hf``)."""
    return path.is_dir() and fmt != "hf" and not _is_dataset(path)


def _resolve(path: str, base: Path) -> Path:
    full = Path(path).expanduser()
    return full if full.is_absolute() else base / full


def _display(path: Path, base: Path) -> str:
    """``path`` relative to the pipeline's folder when inside it, else as an absolute path."""
    path = Path(os.path.normpath(path))
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def _first_repeat(values: list[str]) -> str:
    seen: set[str] = set()
    return next(v for v in values if v in seen or seen.add(v))  # type: ignore[func-returns-value]
