"""Rule packs: YAML files of flat rule entries, resolved through the rule registry.

A pack file is either a list of entries or a mapping::

    description: what this pack is for
    extends: default            # optional: start from other packs (names or paths)
    rules:
      - {rule: max_chars, severity: error, max: 20000}
      - {rule: near_duplicate, enabled: false}

Entries apply in order; an entry for a rule already present updates it (a parameter, the severity,
``enabled``), so a later pack or an inline mapping overrides an earlier one. Mistakes are
:class:`curate.errors.ConfigError` naming the file and the entry.

>>> [r.name for r in resolve_rules(["default", {"rule": "near_duplicate", "enabled": False}])][:3]
['empty_text', 'min_chars', 'max_chars']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from curate import yaml_safe
from curate.errors import ConfigError
from curate.resources import data_dir
from curate.rules.base import Rule

PACK_KEYS = ("description", "extends", "rules")


def shipped_packs() -> list[str]:
    """Names of the packs shipped in curate's ``rules/`` folder."""
    return sorted(p.stem for p in data_dir("rules").glob("*.yaml"))


def pack_path(ref: str, base_dir: Path | None = None) -> Path:
    """The file a pack reference names: a shipped pack name or a path (relative to ``base_dir``)."""
    looks_like_path = ref.endswith((".yaml", ".yml")) or "/" in ref or "\\" in ref
    if not looks_like_path:
        shipped = data_dir("rules") / f"{ref}.yaml"
        if shipped.is_file():
            return shipped
        raise ConfigError(f"unknown rule pack {ref!r}; shipped packs: {', '.join(shipped_packs())} (or give a path to a .yaml file)")
    path = Path(ref).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    if not path.is_file():
        raise ConfigError(f"rule pack file {str(path)!r} does not exist")
    return path


def read_pack(path: Path) -> tuple[list[str], list[Any]]:
    """``(extends, entries)`` of a pack file."""
    data = yaml_safe.load(path, "rule pack")
    if data is None:
        return [], []
    if isinstance(data, list):
        return [], data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: a rule pack must be a list of entries or a mapping with 'rules'")
    unknown = sorted(set(data) - set(PACK_KEYS))
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}; a pack has {', '.join(PACK_KEYS)}")
    extends = data.get("extends") or []
    extends = [extends] if isinstance(extends, str) else extends
    entries = data.get("rules") or []
    if not isinstance(extends, list) or not isinstance(entries, list):
        raise ConfigError(f"{path}: 'extends' must be a name or list and 'rules' a list of entries")
    return list(extends), entries


class _Resolver:
    def __init__(self, base_dir: Path | None) -> None:
        self.base_dir = base_dir
        self.rules: dict[str, Rule] = {}
        self.stack: list[Path] = []

    def apply_entry(self, entry: Any, where: str) -> None:
        if isinstance(entry, Rule):
            self.rules[entry.name] = entry
            return
        if not isinstance(entry, Mapping) or not isinstance(entry.get("rule"), str):
            raise ConfigError(f"{where}a rule entry must be a mapping with a 'rule' name, like {{rule: max_chars, max: 20000}}; got {entry!r}")
        name = entry["rule"]
        current = self.rules.get(name)
        merged = {**current.to_dict(), **entry} if current is not None else dict(entry)
        # check the entry's own keys first so the message names what this entry got wrong
        self.rules[name] = Rule.from_dict(merged, where)

    def apply_pack(self, ref: str) -> None:
        path = pack_path(ref, self.base_dir)
        if path in self.stack:
            raise ConfigError(f"{path}: rule packs extend each other in a cycle")
        self.stack.append(path)
        extends, entries = read_pack(path)
        for parent in extends:
            if not isinstance(parent, str):
                raise ConfigError(f"{path}: 'extends' entries must be pack names or paths; got {parent!r}")
            saved = self.base_dir
            self.base_dir = path.parent
            self.apply_pack(parent)
            self.base_dir = saved
        for i, entry in enumerate(entries, 1):
            rule = entry.get("rule") if isinstance(entry, Mapping) else None
            self.apply_entry(entry, f"{path}: entry {i}" + (f" ({rule})" if rule else "") + ": ")
        self.stack.pop()


def resolve_rules(packs: Sequence[str | Mapping[str, Any] | Rule], base_dir: Path | None = None) -> list[Rule]:
    """The rules (enabled or not) that a ``rules:`` list describes, in first-mention order."""
    if isinstance(packs, str | Mapping):
        packs = [packs]  # type: ignore[list-item]
    r = _Resolver(base_dir)
    for i, item in enumerate(packs, 1):
        if isinstance(item, str):
            r.apply_pack(item)
        else:
            name = item.get("rule") if isinstance(item, Mapping) else getattr(item, "name", None)
            r.apply_entry(item, f"rules entry {i}" + (f" ({name})" if isinstance(name, str) else "") + ": ")
    return list(r.rules.values())


def dump_pack(rules: Sequence[Rule], description: str | None = None) -> str:
    """YAML text of a pack holding ``rules`` (the inverse of reading one)."""
    data: dict[str, Any] = {}
    if description:
        data["description"] = description
    data["rules"] = [r.to_dict() for r in rules]
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=120)
