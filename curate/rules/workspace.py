"""Derived columns that several dataset rules share, computed once per evaluation.

The workspace holds the frame sorted by ``line`` (so "first" always means "smallest line", whatever
the input order), normalised text and label keys, and near-duplicate components. Rules that group
rows register their grouping here; :meth:`Workspace.groups` merges them into the groups table.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import polars as pl

from curate.frame import (
    ANSWER,
    ANSWER_NORM,
    GROUPS_SCHEMA,
    ID,
    LABEL_NAMES,
    LABELS,
    LINE,
    TEXT,
    sorted_unique_lists,
)

if TYPE_CHECKING:  # numpy loads only when near-duplicates or groups are computed
    import numpy as np

LABEL_SEP = "\x1f"
_SHARED_KEYS = ("exact", "labels", "norm")
NORM_SEED = 7  # seed of the normalised text's hash (key columns' seeds are their positions, 0-2)
NORM_CHUNK = 32_768  # rows normalised at a time when only hashes and lengths are kept (one chunk per core)


# characters NFKC leaves alone (ASCII, precomposed Latin-1 letters, basic Greek and Cyrillic letters,
# common typographic marks) or that the whitespace step maps anyway (Unicode spaces):
# only texts with something else pay for the normalisation
_NFKC_STABLE = r"[^\s\x00-\x7F\u00C0-\u00FF\u0391-\u03A9\u03B1-\u03C9\u0400-\u04FF\u2018\u2019\u201C\u201D\u2013\u2014\u20AC\u00A3\u00A7\u00B0\u00AB\u00BB]"


def normalised_text(texts: pl.Series) -> pl.Series:
    """NFKC, lower case, whitespace runs collapsed to one space, stripped (nulls become "").
    With numba, ASCII texts are normalised in one compiled pass over their bytes (equal output).

    >>> normalised_text(pl.Series(["  Ｆｕｌｌ\twidth  TEXT ", None])).to_list()
    ['full width text', '']
    """
    from curate.rules._minhash_kernel import kernels

    fast = kernels()
    if fast is None or texts.len() == 0:
        return _normalised_polars(texts)
    import numpy as np
    import pyarrow as pa

    from curate.rules._arrow import buffers

    data, offsets = buffers(texts)
    n = texts.len()
    out = np.empty(int(offsets[-1] - offsets[0]) + 2, dtype=np.uint8)
    out_offsets = np.empty(n + 1, dtype=np.int64)
    wide = np.zeros(n, dtype=np.uint8)
    fast.normalise_ascii(data, offsets, out, out_offsets, wide)
    arrow = pa.LargeStringArray.from_buffers(n, pa.py_buffer(out_offsets), pa.py_buffer(out))
    norm = pl.Series(texts.name, arrow, dtype=pl.String)
    rows = np.flatnonzero(wide)
    if rows.size:
        idx = pl.Series(rows, dtype=pl.UInt32)
        norm = norm.scatter(idx, _normalised_polars(texts.gather(idx)))
    return norm


def _normalised_polars(texts: pl.Series) -> pl.Series:
    """:func:`normalised_text` with polars expressions (the definition)."""
    texts = texts.fill_null("")
    # ASCII texts (as many bytes as characters) are NFKC-stable: search only the others
    wide = (texts.str.len_bytes() != texts.str.len_chars()).arg_true()
    if len(wide):
        idx = wide.filter(texts.gather(wide).str.contains(_NFKC_STABLE))
        if len(idx):
            texts = texts.scatter(idx, texts.gather(idx).str.normalize("NFKC"))
    # single spaces are by far the most common whitespace: leave them, rewrite only runs and others
    return texts.str.to_lowercase().str.replace_all(r"\s{2,}|[^\S ]", " ").str.strip_chars()


def normalised_stats(texts: pl.Series) -> tuple[pl.Series, pl.Series]:
    """``(norm_hash, norm_len)``: hash (seed :data:`NORM_SEED`) and character length of each
    text's :func:`normalised_text`, a chunk of rows at a time on all cores, so that the
    normalised texts never all exist at once."""
    from curate.rules._arrow import chunked

    def one(chunk: pl.Series) -> tuple[pl.Series, pl.Series]:
        norm = normalised_text(chunk)
        return norm.hash(seed=NORM_SEED), norm.str.len_chars()

    parts = chunked(texts, NORM_CHUNK, one)
    return (pl.concat([h for h, _ in parts]).alias("norm_hash"),
            pl.concat([n for _, n in parts]).alias("norm_len"))


def ensure_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Add missing core columns as nulls so rules can rely on them (useful for partial frames)."""
    add = []
    if LINE not in frame.columns:
        add.append(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(LINE))
    if ID not in frame.columns:
        add.append(pl.lit(None, dtype=pl.String).alias(ID))
    if TEXT not in frame.columns:
        add.append(pl.lit(None, dtype=pl.String).alias(TEXT))
    if LABELS not in frame.columns:
        add.append(pl.lit(None, dtype=pl.List(pl.String)).alias(LABELS))
    for name in (ANSWER, ANSWER_NORM):  # open-answer columns: null in label tasks
        if name not in frame.columns:
            add.append(pl.lit(None, dtype=pl.String).alias(name))
    if add:
        frame = frame.with_columns(add)
    if LABEL_NAMES not in frame.columns:
        frame = frame.with_columns(pl.col(LABELS).alias(LABEL_NAMES))
    casts = {LINE: pl.Int64, ID: pl.String, TEXT: pl.String, LABELS: pl.List(pl.String), LABEL_NAMES: pl.List(pl.String),
             ANSWER: pl.String, ANSWER_NORM: pl.String}
    wrong = {k: v for k, v in casts.items() if frame.schema[k] != v}
    return frame.cast(wrong) if wrong else frame


class Workspace:
    def __init__(self, frame: pl.DataFrame, *, norm: pl.Series | None = None, answers: bool = False,
                 candidates: Any = None, components: Any = None) -> None:
        """``norm``: the normalised text when already computed, in ``line`` order. ``answers``: an
        open-answer task, whose rows' target (the ``labels`` key) is ``answer_norm``.
        ``candidates``: a distributed engine's candidate pairs (:data:`curate.rules.lsh.CandidatePairs`).
        ``components``: a distributed engine's connected components (the contract of
        :func:`curate.rules.minhash.components`)."""
        self.answers = answers
        self.candidates = candidates
        self.components = components
        self.near_plan: list[tuple[float, int, int, int]] = []  # (threshold, ngram, num_perm, seed) rules will ask for
        frame = ensure_columns(frame)
        # loaders give rows in line order: sorting (a gather of every column) is then skipped
        self.frame = frame if frame[LINE].is_sorted() and not frame[LINE].has_nulls() else frame.sort(LINE, nulls_last=True)
        if norm is not None:
            if len(norm) != self.frame.height:
                raise ValueError(f"norm has {len(norm)} values for {self.frame.height} rows")
            self.__dict__["norm"] = norm.alias("norm")  # fills the cached property
        self._groupings: list[Any] = []  # per-position component arrays (numpy or polars)
        self._near: dict[tuple[Any, ...], np.ndarray] = {}

    @property
    def height(self) -> int:
        return self.frame.height

    @cached_property
    def keys(self) -> pl.DataFrame:
        """``line``, ``id``, ``exact`` (text), ``labels`` (the target's key: label names, or
        ``answer_norm`` in an open-answer task), ``shown_labels`` (the target as shown)."""
        if self.answers:
            return self.frame.select(
                pl.col(LINE), pl.col(ID), pl.col(TEXT).fill_null("").alias("exact"),
                pl.col(ANSWER_NORM).fill_null("").alias("labels"), pl.col(ANSWER).alias("shown_labels"),
            )
        names = sorted_unique_lists(self.frame[LABEL_NAMES].fill_null([]))
        return self.frame.select(pl.col(LINE), pl.col(ID), pl.col(TEXT).fill_null("").alias("exact")).with_columns(
            names.list.join(LABEL_SEP).alias("labels"),
            names.list.join(", ").alias("shown_labels"),
        )

    def first_in_group(self, frame: pl.DataFrame, by: Sequence[str], value: str = LINE) -> pl.Series:
        """Per row of ``frame`` (row-aligned with :attr:`frame`), the smallest ``value`` among the rows
        with equal ``by`` columns; ``value="pos"`` means the row position.

        Exact, and fast when few keys repeat: 64-bit hashes of the key columns only pick the rows
        whose key may repeat, and just those are grouped on the keys themselves.
        """
        values = pl.Series("pos", range(frame.height), dtype=pl.Int64) if value == "pos" else frame[value]
        if frame.height < 2:
            return values
        key_hash = None
        for seed, name in enumerate(by):
            part = self._column_hash(frame, name, seed)
            key_hash = part if key_hash is None else key_hash ^ part
        assert key_hash is not None
        from curate.rules._arrow import repeated

        maybe = pl.Series(repeated(key_hash)).arg_true()
        if maybe.len() == 0:
            return values
        sub = pl.DataFrame([self._key_values(frame, name, maybe) for name in by]).with_columns(
            values.gather(maybe).alias("_value"))
        return values.scatter(maybe, sub.select(pl.col("_value").min().over(by)).to_series())

    def _key_values(self, frame: pl.DataFrame, name: str, rows: pl.Series) -> pl.Series:
        """The key column ``name`` of ``frame`` at ``rows``; ``norm`` (the normalised text) is
        computed for just those rows unless the frame holds it."""
        if name == "norm" and name not in frame.columns:
            return normalised_text(frame["exact"].gather(rows)).alias("norm")
        return frame[name].gather(rows)

    def _column_hash(self, frame: pl.DataFrame, name: str, seed: int) -> pl.Series:
        """64-bit hash of a key column; the workspace's own key columns are hashed once. ``norm``
        has one hash whatever its position (see :meth:`norm_stats`)."""
        if name == "norm":
            return self.norm_stats[0]
        if name not in _SHARED_KEYS:
            return frame[name].hash(seed=seed)
        cache = self.__dict__.setdefault("_hashes", {})
        if (name, seed) not in cache:
            cache[(name, seed)] = frame[name].hash(seed=seed)
        return cache[(name, seed)]

    @cached_property
    def norm(self) -> pl.Series:
        """Normalised text per row (see :func:`normalised_text`). The rules do not hold it: they
        group on :attr:`norm_stats` and normalise only the rows whose hash repeats."""
        return normalised_text(self.frame[TEXT]).alias("norm")

    @cached_property
    def norm_stats(self) -> tuple[pl.Series, pl.Series]:
        """``(hash, length)`` of each row's normalised text (:func:`normalised_stats`): the
        normalised texts never all exist at once."""
        if "norm" in self.__dict__:  # given by the caller
            return self.norm.hash(seed=NORM_SEED), self.norm.str.len_chars()
        return normalised_stats(self.frame[TEXT])

    def keys_with_norm(self) -> pl.DataFrame:
        """:attr:`keys`, for grouping on ``norm`` too: :meth:`first_in_group` resolves the ``norm``
        key from :attr:`norm_stats` and the ``exact`` column (or a ``norm`` given by the caller)."""
        return self.keys.with_columns(self.norm) if "norm" in self.__dict__ else self.keys

    def texts_of(self, rows: np.ndarray) -> pl.Series:
        """The raw texts at ``rows`` (positions; no copy when they are all rows in order)."""
        texts = self.frame[TEXT]
        texts = texts.fill_null("") if texts.has_nulls() else texts
        if rows.size == texts.len() and (rows.size == 0 or (rows[0] == 0 and rows[-1] == rows.size - 1)):
            return texts
        return texts.gather(rows)

    def near_components(self, *, threshold: float, ngram: int, num_perm: int, seed: int, short_words: int = 0) -> np.ndarray:
        """Per row (position in :attr:`frame`), the smallest row position of its near-duplicate
        component. Rows with identical normalised text are always in one component, and so are
        short texts (at most ``short_words`` words) with the same words in another order."""
        import numpy as np

        from curate.rules import lsh, minhash

        key = (threshold, ngram, num_perm, seed, short_words)
        if key in self._near:
            return self._near[key]
        keys = self.keys_with_norm()
        n = keys.height
        if n == 0:
            self._near[key] = np.zeros(0, dtype=np.int64)
            return self._near[key]
        # one representative (smallest position) per distinct normalised text
        rep_pos = self.first_in_group(keys, ["norm"], "pos").to_numpy()
        uniq = np.flatnonzero(rep_pos == np.arange(n))
        # MinHash reads the raw texts: it normalises them itself, to the same words
        kept = uniq[(self.norm_stats[1].gather(uniq) > 0).to_numpy()]
        pairs = lsh.near_duplicate_pairs(
            self.texts_of(kept),
            threshold=threshold,
            ngram=ngram,
            num_perm=num_perm,
            seed=seed,
            sketches=self.__dict__.setdefault("_sketches", {}),
            spanning=True,  # only the components are used
            plan=[lsh.lsh_params(t, p) for t, g, p, s in self.near_plan if (g, p, s) == (ngram, num_perm, seed)],
            candidates=self.candidates,
        )
        if short_words:
            pairs = pl.concat([pairs.select("a", "b"), self._short_pairs(kept, threshold, ngram, num_perm, seed, short_words)])
        a = np.concatenate([np.arange(n), kept[pairs["a"].to_numpy()]]) if pairs.height else np.arange(n)
        b = np.concatenate([rep_pos, kept[pairs["b"].to_numpy()]]) if pairs.height else rep_pos
        comp = (self.components or minhash.components)(n, a, b)
        self._near[key] = comp
        return comp

    def _short_pairs(self, kept: np.ndarray, threshold: float, ngram: int, num_perm: int, seed: int,
                     short_words: int) -> pl.DataFrame:
        """Pairs (indices into ``kept``, the non-empty representative texts) of short texts with
        the same words in another order, or one word apart and Jaccard >= ``threshold`` on word
        ``ngram``-grams (see :mod:`curate.rules.short`)."""
        import numpy as np

        from curate.rules import minhash, short

        cache = self.__dict__.setdefault("_short", {})
        key = (short_words, ngram, num_perm, seed)
        if key not in cache:
            # only texts short enough to count (the same test short_words_of makes) are normalised
            at = np.flatnonzero((self.norm_stats[1].gather(kept) <= short_words * short.CHARS_PER_WORD).to_numpy())
            texts = self.norm.gather(kept[at]) if "norm" in self.__dict__ else normalised_text(self.texts_of(kept[at]))
            words = short.short_words_of(texts, short_words)
            pos, first = short.same_words(texts, short_words, words)
            same = pl.DataFrame({"a": at[first], "b": at[pos]}, schema={"a": pl.Int64, "b": pl.Int64})
            apart = short.one_word_apart(texts, short_words, min_words=ngram, words=words)
            apart = pl.DataFrame({"a": at[apart["a"].to_numpy()], "b": at[apart["b"].to_numpy()]},
                                 schema={"a": pl.Int64, "b": pl.Int64})
            sketch = self.__dict__.get("_sketches", {}).get((ngram, num_perm, seed))
            if sketch is None or apart.height == 0:
                apart = apart.with_columns(pl.lit(0.0).alias("jaccard")).clear()
            else:  # verified once per sketch, then filtered for each threshold
                shingles = sketch.shingles(np.concatenate([apart["a"].to_numpy(), apart["b"].to_numpy()]))
                apart = apart.with_columns(minhash.exact_jaccard(shingles, apart))
            cache[key] = (same, apart)
        same, apart = cache[key]
        return pl.concat([same, apart.filter(pl.col("jaccard") >= threshold - 1e-12).select("a", "b")])

    def add_grouping(self, component: np.ndarray) -> None:
        """Record that rows sharing ``component`` (per-position labels) belong together."""
        self._groupings.append(component)

    def groups(self) -> pl.DataFrame:
        """One row per line in a group of two or more; ``group`` is the group's smallest line."""
        n = self.height
        if not self._groupings or n == 0:
            return pl.DataFrame(schema=GROUPS_SCHEMA)
        import numpy as np

        from curate.rules import minhash

        idx = np.arange(n)
        a_parts, b_parts, seen = [], [], set()
        for grouping in self._groupings:  # rules sharing components share the array: use it once
            if id(grouping) in seen:
                continue
            seen.add(id(grouping))
            g = np.asarray(grouping, dtype=np.int64)
            moved = np.flatnonzero(g != idx)  # a row in its own group adds no edge
            a_parts.append(moved)
            b_parts.append(g[moved])
        comp = (self.components or minhash.components)(n, np.concatenate(a_parts), np.concatenate(b_parts))
        sizes = np.bincount(comp, minlength=n)
        member = sizes[comp] > 1
        lines = self.frame[LINE].to_numpy()
        out = pl.DataFrame(
            {"line": lines[member], "group": lines[comp[member]]}, schema=GROUPS_SCHEMA
        )
        return out.sort("line")
