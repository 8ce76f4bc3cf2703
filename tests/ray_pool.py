"""A ~30k-row raw pool built from the real data shipped in tests/data (see tests/data/SOURCE.md),
with planted defects every stage of the default pack has work on: exact, normalised and near
duplicates, conflicting labels, broken JSON, wrong types, missing fields, empty text, control
characters, mis-decoded text, missing and clashing ids. Deterministic for a seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

DATA = Path(__file__).parent / "data"


def base_rows() -> list[dict]:
    """BANKING77 queries, NLU++ hotel utterances and EUR-Lex acts: text and labels."""
    rows: list[dict] = []
    for name in ("train", "test"):
        frame = pl.read_csv(DATA / "banking77" / f"{name}.csv")
        rows += [{"text": t, "labels": [c]} for t, c in frame.iter_rows()]
    for line in (DATA / "nlupp_hotels.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        rows.append({"text": r["text"], "labels": sorted(r.get("intents", [])) or ["none"]})
    for line in (DATA / "rules_eurlex_sample.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        rows.append({"text": r["text"], "labels": r["level_1_en"]})
    return rows


def _near(text: str, rng: np.random.Generator) -> str:
    """One word dropped, doubled or swapped with its neighbour (a near-duplicate)."""
    words = text.split(" ")
    if len(words) < 3:
        return text + " please"
    i = int(rng.integers(0, len(words) - 1))
    how = int(rng.integers(0, 3))
    if how == 0:
        del words[i]
    elif how == 1:
        words.insert(i, words[i])
    else:
        words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def write_pool(path: Path, rows: int = 30_000, seed: int = 0) -> int:
    """Write the pool as JSONL (``id``, ``text``, ``labels``); returns the number of lines."""
    rng = np.random.default_rng(seed)
    base = base_rows()
    out: list[dict | str] = [dict(r) for r in base]
    labels = sorted({label for r in base for label in r["labels"]})
    while len(out) < rows - 400:
        r = base[int(rng.integers(0, len(base)))]
        how = int(rng.integers(0, 6))
        if how == 0:  # exact copy
            out.append(dict(r))
        elif how == 1:  # the same text, another label: a conflict
            out.append({"text": r["text"], "labels": [labels[int(rng.integers(0, len(labels)))]]})
        elif how == 2:  # case and whitespace only: a normalised duplicate
            out.append({"text": "  " + r["text"].upper().replace(" ", "  "), "labels": r["labels"]})
        elif how == 3:  # a near-duplicate, sometimes with another label
            new = r["labels"] if rng.random() < 0.7 else [labels[int(rng.integers(0, len(labels)))]]
            out.append({"text": _near(r["text"], rng), "labels": new})
        else:  # a new text: two rows joined
            other = base[int(rng.integers(0, len(base)))]
            out.append({"text": f"{r['text']} Also, {other['text']}", "labels": sorted(set(r["labels"] + other["labels"]))})
    broken = [
        lambda r: '{"id": "broken", "text": "no closing brace"',
        lambda r: {"text": "", "labels": r["labels"]},
        lambda r: {"text": r["text"] + "\x07\x00", "labels": r["labels"]},
        lambda r: {"text": r["text"].replace("e", "Ã©"), "labels": r["labels"]},
        lambda r: {"labels": r["labels"]},  # no text
        lambda r: {"text": 12345, "labels": r["labels"]},  # a number for a text
        lambda r: {"text": r["text"], "labels": []},  # no labels
        lambda r: {"text": "@@@ ### $$$ %%% ^^^ &&& *** ((( ))) !!!", "labels": r["labels"]},
    ]
    while len(out) < rows:
        r = base[int(rng.integers(0, len(base)))]
        out.append(broken[len(out) % len(broken)](r))
    order = rng.permutation(len(out))
    with open(path, "w", encoding="utf-8") as fh:
        for n, i in enumerate(order):
            row = out[i]
            if isinstance(row, str):
                fh.write(row + "\n")
                continue
            row = dict(row)
            if n % 997 != 5:  # some rows without an id; a few ids used twice (id clashes)
                row["id"] = f"r{n - 1 if n % 1009 == 7 else n}"
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(out)
