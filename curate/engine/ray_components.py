"""Connected components on Ray Data: the large-star / small-star algorithm (Kiveris et al., "Connected
Components in MapReduce and Beyond", SoCC 2014), one Ray Data group-by per step.

:func:`components` has the contract of :func:`curate.rules.minhash.components` (per node, the smallest
node of its component) and is what the Ray engine sets as ``RuleContext.components``. The edges live in
Ray Data blocks as ``(lo, hi)`` pairs (``lo < hi``); no actor and no worker holds them all. Each step
sends every edge to the group of its endpoints (``node mod parts``: arithmetic, so every worker agrees)
and each group rewrites the edges at its nodes, with polars:

- **large-star** at node ``u`` (all its neighbours ``N(u)``): every larger neighbour ``v > u`` is linked
  to ``m = min(N(u) + [u])`` instead of to ``u``;
- **small-star** at node ``u`` (its smaller neighbours only): ``u`` and every smaller neighbour are
  linked to the smallest of them.

Each step keeps the components and lowers the links; the two alternate until every component is a
star around its smallest node: every node with a smaller neighbour has no other neighbour. Each
large-star group counts its nodes that break this (on the step's input); the driver adds those counts
(a number per group) and stops when the sum is 0. Then every edge is ``(component's smallest node,
node)`` and the driver writes the labels. The paper bounds the steps by O(log^2 n); chains, stars and
random graphs take a handful: a random graph of 100,000 nodes and 200,000 edges 9 steps, a chain of
1,000 nodes in random order 17, the chain 0-1-2-...-99,999 35 (measured with the block functions).

Small edge lists take the local function (:data:`LOCAL_BELOW`): each step is a shuffle that costs
about a second of scheduling on Ray, while :func:`curate.rules.minhash.components` joins a million
edges in well under a second on the driver, which holds the edge arrays anyway (the contract hands
them over as numpy arrays). The result is the same either way (tests force the Ray path).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from curate.errors import EngineError

if TYPE_CHECKING:
    import pyarrow as pa

LOCAL_BELOW = 1_000_000  # fewer edges than this: the local function (see the module docstring)
MAX_STEPS = 400  # far above what the algorithm needs (O(log^2 n)); a guard against a bug looping forever
EDGES = {"lo": pl.Int64, "hi": pl.Int64}


def components(n: int, a: np.ndarray, b: np.ndarray, *, dataset: Callable[[pl.DataFrame], Any], parts: int,
               local_below: int | None = None) -> np.ndarray:
    """Per node of ``0 .. n-1``, the smallest node of its component, edges ``a[i] - b[i]``: exactly
    :func:`curate.rules.minhash.components`. ``dataset`` turns a frame into a Ray Dataset of
    contiguous blocks (``RayEngine.dataset``); ``parts`` is the number of groups of each step;
    ``local_below`` (default :data:`LOCAL_BELOW`) the edge count under which the local function runs."""
    from curate.rules import minhash

    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    if a.size < (LOCAL_BELOW if local_below is None else local_below):
        return minhash.components(n, a, b)
    label = np.arange(n, dtype=np.int64)
    keep = a != b  # a node linked to itself adds nothing
    edges = pl.DataFrame({"lo": np.minimum(a, b)[keep], "hi": np.maximum(a, b)[keep]}, schema=EDGES)
    del keep
    if edges.height == 0:
        return label
    star = star_edges(dataset(edges), parts)
    del edges
    lo, hi = star["lo"].to_numpy(), star["hi"].to_numpy()
    if np.unique(hi).size != hi.size:  # every node in one star, once: never silently otherwise
        raise EngineError("internal error: the components on Ray did not converge to stars; please report this")
    label[hi] = lo
    return label


def star_edges(edges: Any, parts: int) -> pl.DataFrame:
    """The edges of a Ray Dataset of ``(lo, hi)`` edges rewritten, step by step, into one star per
    component around its smallest node: ``(smallest, node)`` for every other node, sorted by ``hi``."""
    from curate.engine.ray import collect

    for _ in range(MAX_STEPS):
        # large-star on the current edges; each group also counts its nodes not yet settled
        edges = _step(edges, parts, large=True)
        unsettled = sum(int(f["hi"].sum()) for f in collect(edges.map_batches(
            _markers, batch_format="pyarrow", batch_size=None, zero_copy_batch=True)))
        if unsettled == 0:  # the large-star's input was already stars, so its output is the same stars
            got = collect(edges.map_batches(_edges_only, batch_format="pyarrow", batch_size=None,
                                            zero_copy_batch=True))
            return pl.concat(got).sort("hi") if got else pl.DataFrame(schema=EDGES)
        edges = _step(edges, parts, large=False)
    raise EngineError(f"internal error: the components on Ray did not settle in {MAX_STEPS} steps; please report this")


def _step(edges: Any, parts: int, *, large: bool) -> Any:
    """One large-star or small-star step over every group, materialised (the next step reads it twice)."""
    grouped = edges.map_batches(_directed, batch_format="pyarrow", batch_size=None, zero_copy_batch=True,
                                fn_kwargs={"parts": parts, "both": large})
    return grouped.groupby("part").map_groups(_large_star if large else _small_star,
                                              batch_format="pyarrow").materialize()


# -- what runs on the workers (module functions: pickled by reference) ------------------------------------
def _directed(block: pa.Table, *, parts: int, both: bool) -> pa.Table:
    """Each edge at its endpoints' group: ``(u, v)`` for ``u = hi, v = lo`` (a node's smaller
    neighbours, all small-star needs) and, when ``both``, ``u = lo, v = hi`` too; marker rows
    (``lo < 0``) of the step before are dropped."""
    edges = pl.from_arrow(block).filter(pl.col("lo") >= 0)
    down = edges.select(pl.col("hi").alias("u"), pl.col("lo").alias("v"))
    out = pl.concat([down, edges.select(pl.col("lo").alias("u"), pl.col("hi").alias("v"))]) if both else down
    out = out.with_columns((pl.col("u") % parts).alias("part"))
    return out.to_arrow(compat_level=pl.CompatLevel.oldest())


def _large_star(group: pa.Table) -> pa.Table:
    """Each larger neighbour of ``u`` linked to the smallest of ``u`` and its neighbours; one marker
    row ``(-1, count)``: the nodes with a smaller neighbour and another neighbour besides."""
    edges = pl.from_arrow(group).select("u", "v").unique()
    at = edges.group_by("u").agg(pl.col("v").min().alias("low"), pl.len().alias("degree"))
    unsettled = at.filter((pl.col("low") < pl.col("u")) & (pl.col("degree") > 1)).height
    out = (edges.filter(pl.col("v") > pl.col("u")).join(at, on="u")
           .select(pl.min_horizontal("low", "u").alias("lo"), pl.col("v").alias("hi")))
    return _with_marker(out, unsettled)


def _small_star(group: pa.Table) -> pa.Table:
    """``u`` and each of its smaller neighbours linked to the smallest of them."""
    down = pl.from_arrow(group).select("u", "v").unique()
    low = down.group_by("u").agg(pl.col("v").min().alias("low"))
    moved = down.join(low, on="u").filter(pl.col("v") != pl.col("low")).select(
        pl.col("low").alias("lo"), pl.col("v").alias("hi"))
    return _with_marker(pl.concat([moved, low.select(pl.col("low").alias("lo"), pl.col("u").alias("hi"))]), 0)


def _with_marker(edges: pl.DataFrame, count: int) -> pa.Table:
    marker = pl.DataFrame({"lo": [-1], "hi": [count]}, schema=EDGES)
    return pl.concat([edges.cast(EDGES), marker]).to_arrow(compat_level=pl.CompatLevel.oldest())


def _markers(block: pa.Table) -> pa.Table:
    return pl.from_arrow(block).filter(pl.col("lo") < 0).to_arrow(compat_level=pl.CompatLevel.oldest())


def _edges_only(block: pa.Table) -> pa.Table:
    return pl.from_arrow(block).filter(pl.col("lo") >= 0).to_arrow(compat_level=pl.CompatLevel.oldest())
