"""The Ray engine: the row stages on Ray Data, block by block, with polars inside each block.

``engine: ray`` in the pipeline (or ``curate run --engine ray``); ``pip install 'curate[ray]'``.
What runs where (docs/scale.md):

- the driver (this process) loads the source with curate's loader, then hands the frame to Ray
  Data as Arrow blocks (``ray.data.from_arrow`` of slices, in ``line`` order);
- on Ray, per block (``map_batches(batch_format="pyarrow")``): every row rule in one pass
  (:func:`curate.rules.engine.row_findings` over the block), the hash and length of the
  normalised text that exact and near-duplicate rules group on (``Workspace.norm_stats``), and the MinHash band keys, then the candidate pairs of each
  ``(band, key)`` bucket after Ray Data's group-by shuffle (:meth:`RayEngine.candidate_pairs`),
  and the connected components of large edge lists by repeated group-bys
  (:meth:`RayEngine.components`, :mod:`curate.engine.ray_components`);
- on the driver: the dataset rules (adaptive lengths, duplicates, conflicts, id clashes: they
  need the whole data) over those results (the exact Jaccard check of the candidate pairs
  included), selection and split;
- export files of lines (``Engine.write_jsonl``): blocks of rows turned into JSON lines on Ray by the
  export's own writer, appended in order by the driver (:mod:`curate.engine.ray_lines`).

Outputs are byte-identical to the local engine's: the blocks' results feed the same driver code.
Ray starts here (``ray.init``) unless the process already runs one: ``engine.address`` or
``RAY_ADDRESS`` reaches a cluster, otherwise a local Ray with one worker per available CPU
(``engine.num_cpus`` to choose). Ray's own logging stays off the terminal; the run prints one line
saying where it runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from curate._deps import optional_import
from curate.engine import Engine
from curate.errors import ConfigError, CurateError, EngineError
from curate.frame import GROUPS_SCHEMA, LINE, TEXT, concat_findings
from curate.options import Param
from curate.rules.workspace import Workspace

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa

    from curate.rules import RuleContext, RuleResult
    from curate.rules.base import Rule

MIN_BLOCK_ROWS = 5_000  # smaller blocks cost more in scheduling than they save
MAX_BLOCK_ROWS = 200_000  # about 130 MB of 600-byte texts: bounds a worker's memory
BLOCKS_PER_CPU = 2  # so a slow block does not leave the other CPUs idle at the end
PROBE_SECONDS = 5.0  # ray.init retries an unreachable address for minutes: probe it first


class RayEngine(Engine):
    """Row stages on Ray Data (see the module docstring)."""

    name = "ray"
    params = (
        Param("address", str, None, nullable=True),  # a cluster's HOST:PORT, ray://HOST:PORT or auto
        Param("num_cpus", int, None, low=1, nullable=True),  # a local Ray's CPUs (default: all available)
    )

    def __init__(self, where: str = "", **options: Any) -> None:
        super().__init__(where, **options)
        if self.options["address"] is not None and self.options["num_cpus"] is not None:
            raise ConfigError(f"{where}num_cpus sizes a local Ray; a cluster's nodes declare their own CPUs "
                              "(ray start --num-cpus): drop num_cpus or address")
        self.cpus = 1

    @contextlib.contextmanager
    def session(self, say: Callable[[str], None] = lambda _: None) -> Iterator[Engine]:
        ray = optional_import("ray", "ray", "the Ray engine")
        optional_import("ray.data", "ray", "the Ray engine")
        started = False
        if not ray.is_initialized():
            where = self._start(ray)
            started = True
        else:
            where = "the Ray this process already runs"
        try:
            with _ray_data_settings():
                self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
                say(f"engine ray: running the row stages on {where} ({self.cpus} CPUs)")
                # workers import curate and load kernels and the tokenizer while the driver reads
                warming = [ray.remote(num_cpus=1)(_warm_up).remote() for _ in range(self.cpus)]
                yield self
                del warming
        except Exception as exc:
            translated = _translate(exc, ray)
            if translated is exc:
                raise
            raise translated from None
        finally:
            if started:
                ray.shutdown()

    def _start(self, ray: Any) -> str:
        address = self.options["address"] or os.environ.get("RAY_ADDRESS") or None
        source = "engine.address" if self.options["address"] else "RAY_ADDRESS"
        quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
        if address is None:
            cpus = self.options["num_cpus"] or _available_cpus()
            try:
                ray.init(num_cpus=cpus, include_dashboard=False, configure_logging=True, **quiet)
            except Exception as exc:  # e.g. no room for the object store, a port taken
                raise EngineError(f"{self.where}could not start a local Ray: {_first_line(exc)}") from None
            return "a local Ray"
        _probe(address, f"{self.where}{source} {address!r}")
        try:
            ray.init(address=address, **quiet)
        except Exception as exc:  # a version mismatch, no cluster at "auto", ...
            raise ConfigError(f"{self.where}{source} {address!r}: cannot join the Ray cluster: "
                              f"{_first_line(exc)}") from None
        return f"the Ray cluster at {address}"

    # -- the rules stage ---------------------------------------------------------------------------
    def evaluate_rules(
        self,
        frame: pl.DataFrame,
        packs: Sequence[str | Mapping[str, Any] | Rule],
        *,
        base_dir: Path | None = None,
        context: RuleContext | None = None,
    ) -> RuleResult:
        """Row rules per block on Ray, dataset rules on the driver over a workspace whose
        normalised-text hashes come from Ray too; same result as :func:`curate.rules.evaluate_rules`."""
        from curate.rules import RuleContext, RuleResult, evaluate_rules
        from curate.rules.base import RowRule
        from curate.rules.engine import run_rules
        from curate.rules.packs import resolve_rules

        context = context or RuleContext()
        if frame.height == 0:
            return evaluate_rules(frame, packs, base_dir=base_dir, context=context)
        rules = [r for r in resolve_rules(packs, base_dir) if r.enabled and r.applies(context)]
        row = [r for r in rules if isinstance(r, RowRule)]
        rest = [r for r in rules if not isinstance(r, RowRule)]
        # the workspace's row order (smallest line first), so blocks concatenate in that order
        if not frame[LINE].is_sorted() or frame[LINE].has_nulls():
            frame = frame.sort(LINE, nulls_last=True)
        rows = self.dataset(frame)
        found = self._row_findings(rows, row, context)
        context = dataclasses.replace(context, candidate_pairs=self.candidate_pairs, components=self.components)
        ws = _RayWorkspace(frame, answers=not context.is_labels, candidates=context.candidate_pairs,
                           components=context.components, stats=lambda: self._norm_stats(rows, frame))
        findings, groups = run_rules(frame, rest, context, ws)
        findings = concat_findings([found, findings])
        return RuleResult(findings, groups if groups.height else pl.DataFrame(schema=GROUPS_SCHEMA))

    def dataset(self, frame: pl.DataFrame) -> Any:
        """``frame`` as a Ray Dataset of contiguous slices, in order: a few blocks per CPU, each
        between :data:`MIN_BLOCK_ROWS` and :data:`MAX_BLOCK_ROWS` rows when it can be. Each slice
        is converted to Arrow and put in the object store in turn, so the driver never holds a
        second copy of the whole frame."""
        import ray
        import ray.data

        n = frame.height
        parts = max(BLOCKS_PER_CPU * self.cpus, math.ceil(n / MAX_BLOCK_ROWS))
        parts = max(1, min(parts, math.ceil(n / MIN_BLOCK_ROWS)))
        step = max(1, math.ceil(n / parts))
        refs = [ray.put(frame.slice(i, step).to_arrow(compat_level=pl.CompatLevel.oldest()))
                for i in range(0, max(n, 1), step)]
        return ray.data.from_arrow_refs(refs)

    def _row_findings(self, rows: Any, rules: list[Rule], context: RuleContext) -> pl.DataFrame:
        if not rules:
            return concat_findings([])
        specs = [(type(r), {k: v for k, v in r.to_dict().items() if k != "rule"}) for r in rules]
        out = rows.map_batches(_row_findings_block, batch_format="pyarrow", batch_size=None,
                               zero_copy_batch=True, fn_kwargs={"specs": specs, "context": context})
        return concat_findings(collect(out))

    def _norm_stats(self, rows: Any, frame: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
        """``Workspace.norm_stats`` per block on Ray: hash and length of each normalised text."""
        out = rows.select_columns([LINE, TEXT]).map_batches(
            _norm_stats_block, batch_format="pyarrow", batch_size=None, zero_copy_batch=True)
        got = pl.concat(collect(out))
        if not got[LINE].equals(frame[LINE]):  # blocks came back out of order: never silently
            raise EngineError("internal error: Ray returned the text blocks out of order; please report this")
        return got["norm_hash"], got["norm_len"]


    def candidate_pairs(self, texts: pl.Series, *, ngram: int, num_perm: int, seed: int, bands: int,
                        rows: int) -> pl.DataFrame:
        """MinHash candidate pairs of ``texts`` (:data:`curate.rules.lsh.CandidatePairs`):
        band keys per block on Ray (``doc`` shifted to the block's place in ``texts``), each key
        assigned to one of a few partitions by its value, then Ray Data's ``groupby`` on the
        partition (a task-based sort shuffle: every ``(band, k)`` bucket whole in one group) and
        the pairs of each group's buckets. Sorted and unique: exactly the local
        ``pairs_from_keys(band_keys(texts))``."""
        from curate.rules import lsh

        docs = pl.DataFrame({"doc": pl.int_range(texts.len(), dtype=pl.Int64, eager=True), TEXT: texts})
        params = {"ngram": ngram, "num_perm": num_perm, "seed": seed, "bands": bands, "rows": rows}
        keys = self.dataset(docs).map_batches(
            _band_keys_block, batch_format="pyarrow", batch_size=None, zero_copy_batch=True,
            fn_kwargs={"params": params, "parts": BLOCKS_PER_CPU * self.cpus})
        pairs = collect(keys.groupby("part").map_groups(_pairs_block, batch_format="pyarrow"))
        if not pairs:
            return lsh.pairs_from_keys(pl.DataFrame(schema=lsh.KEYS_SCHEMA))
        return pl.concat(pairs).unique().sort(["a", "b"])

    def components(self, n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Connected components (the contract of :func:`curate.rules.minhash.components`) by the
        large-star / small-star steps on Ray Data (:mod:`curate.engine.ray_components`); fewer
        edges than :data:`curate.engine.ray_components.LOCAL_BELOW` are joined on the driver."""
        from curate.engine import ray_components

        return ray_components.components(n, a, b, dataset=self.dataset, parts=BLOCKS_PER_CPU * self.cpus)


    def write_lines(self, frame: pl.DataFrame, serialise: Callable[[pl.DataFrame, Path], None], path: Path) -> None:
        """Blocks of rows serialised on the workers, written here in order (:mod:`curate.engine.ray_lines`)."""
        from curate.engine import ray_lines

        ray_lines.write_lines(self, frame, serialise, path)

    def write_jsonl(self, frame: pl.DataFrame, path: Path, reference_json: pl.Series | None = None,
                    wrap: str | None = None) -> None:
        from curate.engine import ray_lines

        ray_lines.write_jsonl(self, frame, path, reference_json, wrap)


class _RayWorkspace(Workspace):
    """The local workspace, but the hash and length of its normalised texts are computed by
    ``stats`` (on Ray) the first time a rule needs them; the same values as the local workspace's."""

    def __init__(self, frame: pl.DataFrame, *, answers: bool, candidates: Any, components: Any,
                 stats: Callable[[], tuple[pl.Series, pl.Series]]) -> None:
        super().__init__(frame, answers=answers, candidates=candidates, components=components)
        self._stats = stats

    @cached_property
    def norm_stats(self) -> tuple[pl.Series, pl.Series]:
        return self._stats()


def collect(dataset: Any) -> list[pl.DataFrame]:
    """The blocks of ``dataset`` as polars frames, in order (the session preserves order)."""
    import ray

    return [pl.from_arrow(table) for table in ray.get(dataset.to_arrow_refs()) if table.num_rows]


# -- what runs on the workers (module functions: pickled by reference) ------------------------------
def _warm_up() -> None:
    """A worker's one-time costs (imports, compiled kernels, the tokenizer: seconds) paid on a
    three-row frame with the default pack's row rules and MinHash, before the first real block."""
    from curate.rules import RuleContext, lsh
    from curate.rules.base import RowRule
    from curate.rules.engine import row_findings
    from curate.rules.packs import resolve_rules

    texts = ["A short text to warm up the rules.", "Ünïcode tëxt, Ã© and \x07.", ""]
    frame = pl.DataFrame({LINE: [1, 2, 3], TEXT: texts, "labels": [["a"], ["b"], []]})
    rules = [r for r in resolve_rules(["default"]) if isinstance(r, RowRule) and r.enabled]
    row_findings(Workspace(frame), rules, RuleContext())
    lsh.band_keys(frame[TEXT], bands=2, rows=2)


def _row_findings_block(block: pa.Table, *, specs: list[tuple[type, dict[str, Any]]], context: RuleContext) -> pa.Table:
    from curate.rules.engine import row_findings
    from curate.rules.workspace import Workspace

    rules = [cls(**options) for cls, options in specs]
    frame = pl.from_arrow(block)
    found = row_findings(Workspace(frame, answers=not context.is_labels), rules, context)
    return found.to_arrow(compat_level=pl.CompatLevel.oldest())


def _band_keys_block(block: pa.Table, *, params: dict[str, int], parts: int) -> pa.Table:
    """The block's band keys, ``doc`` its place in the whole, ``part`` the group its bucket goes to
    (the key modulo ``parts``: arithmetic, so every worker agrees whatever its library versions)."""
    from curate.rules import lsh

    frame = pl.from_arrow(block)
    keys = lsh.band_keys(frame[TEXT], **params)
    keys = keys.with_columns(frame["doc"].gather(keys["doc"]).alias("doc"),
                             (pl.col("k") % parts).cast(pl.Int64).alias("part"))
    return keys.to_arrow(compat_level=pl.CompatLevel.oldest())


def _pairs_block(group: pa.Table) -> pa.Table:
    from curate.rules import lsh

    keys = pl.from_arrow(group).drop("part")
    return lsh.pairs_from_keys(keys).to_arrow(compat_level=pl.CompatLevel.oldest())


def _norm_stats_block(block: pa.Table) -> pa.Table:
    from curate.rules.workspace import normalised_stats

    frame = pl.from_arrow(block)
    hashes, lengths = normalised_stats(frame[TEXT])
    return pl.DataFrame([frame[LINE], hashes, lengths]).to_arrow(compat_level=pl.CompatLevel.oldest())


# -- starting Ray, and its failures as one line ----------------------------------------------------------
def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _probe(address: str, what: str) -> None:
    """Fail at once, in one line, when nothing listens at ``address`` (``HOST:PORT``, or
    ``ray://HOST:PORT``); ``auto`` and ``local`` are left to Ray."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[1] if "://" in address else address
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{what}: expected HOST:PORT (e.g. 10.0.0.5:6379, the head node's `ray start --head` "
                          "address), ray://HOST:10001 or auto")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=PROBE_SECONDS):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"{what}: no Ray cluster reachable ({reason}); start one with `ray start --head` "
                          "or fix the address") from None


@contextlib.contextmanager
def _ray_data_settings() -> Iterator[None]:
    """No progress bars or per-dataset log lines on the user's terminal; blocks keep their order;
    shuffles run as tasks (the hash shuffle's aggregator actors take seconds to start, each time).
    The process's own settings come back afterwards."""
    import ray.data
    from ray.data.context import ShuffleStrategy

    ctx = ray.data.DataContext.get_current()
    loggers = [logging.getLogger(name) for name in ("ray", "ray.data")]
    saved = (ctx.enable_progress_bars, ctx.print_on_execution_start, ctx.execution_options.preserve_order,
             ctx.shuffle_strategy, ctx.raise_original_map_exception, [lg.level for lg in loggers])
    ctx.enable_progress_bars = ctx.print_on_execution_start = False
    ctx.execution_options.preserve_order = True
    ctx.shuffle_strategy = ShuffleStrategy.SORT_SHUFFLE_PULL_BASED
    ctx.raise_original_map_exception = True  # a curate error in a worker reaches _translate as itself
    for lg in loggers:  # a failed task is reported once, by curate, in one line
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        ctx.enable_progress_bars, ctx.print_on_execution_start, ctx.execution_options.preserve_order, \
            ctx.shuffle_strategy, ctx.raise_original_map_exception, levels = saved
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _translate(exc: Exception, ray: Any) -> Exception:
    """A failure inside Ray as curate would raise it: a curate error raised in a worker as itself
    (without the remote traceback Ray wraps it in); Ray's own failures (a lost worker or node, the
    object store full) as a one-line :class:`EngineError`; anything else unchanged (``exc``:
    a bug, whose traceback the CLI saves)."""
    chain: list[BaseException] = []
    node: BaseException | None = exc
    while node is not None and all(node is not seen for seen in chain):
        chain.append(node)
        node = getattr(node, "cause", None) or node.__cause__
    remote = [e for e in chain if isinstance(e, ray.exceptions.RayError)]
    if not remote:
        return exc
    for err in chain:
        if isinstance(err, CurateError) and not isinstance(err, ray.exceptions.RayError):
            return _without_retry_note(err)
    system = [e for e in remote if not isinstance(e, ray.exceptions.RayTaskError)]
    if system:
        return EngineError(f"the Ray engine failed: {type(system[0]).__name__}: {_first_line(system[0])}")
    return exc


def _without_retry_note(err: CurateError) -> CurateError:
    """``err`` without the lines Ray Data appends to a worker's exception message ("Failed to apply
    UDF transform after 1/1 attempts ... configure `ray.data.DataContext`"): curate's one line."""
    text = err.args[0] if err.args and isinstance(err.args[0], str) else ""
    if "\nFailed to " in text and "(total backoff " in text:
        err.args = (text.split("\nFailed to ", 1)[0], *err.args[1:])
    return err
