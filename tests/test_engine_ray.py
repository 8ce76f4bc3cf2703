"""The Ray engine (issue 16): the same outputs as the local engine, byte for byte, on a ~30k-row
pool with every kind of planted defect; one-line errors for a missing extra and a bad address.

Ray starts once for the module (``ray.init(num_cpus=2)``, a few seconds); the pipeline reuses it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
import yaml
from ray_pool import base_rows, write_pool

import curate
from curate.config import load_config
from curate.engine import get_engine, registered_engines
from curate.errors import ConfigError, EngineError, MissingDependency
from curate.pipeline import Pipeline
from curate.rules.workspace import Workspace

ray = pytest.importorskip("ray")

OUTPUTS = ("train.jsonl", "valid.jsonl", "ledger.parquet", "rejected.jsonl", "findings.parquet",
           "response_format.json", "grader.json", "report.html")


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module: 2 CPUs, as CI has."""
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ray_pool")
    rows = write_pool(folder / "raw.jsonl", 30_000)
    config = {
        "source": {"path": "raw.jsonl", "id": "id", "text": "text", "labels": "labels"},
        "rules": ["default"],
        "balance": {"size": 6000, "seed": 3},
        "split": {"validation": 1000, "seed": 3},
        "export": {"out": "out", "developer": "Name the intents or topics of the text.", "grader": "multilabel_f1"},
    }
    (folder / "pipeline.yaml").write_text(yaml.safe_dump(config))
    return folder, rows


def test_engines_are_registered_and_checked_before_any_work():
    assert set(registered_engines()) == {"local", "ray"}
    assert get_engine("ray").options == {"address": None, "num_cpus": None}
    with pytest.raises(ConfigError, match="unknown engine 'spark'; engines: local, ray"):
        get_engine({"name": "spark"})
    with pytest.raises(ConfigError, match="The 'num_cpus' parameter of engine ray must be an int"):
        get_engine({"name": "ray", "num_cpus": 0})
    with pytest.raises(ConfigError, match="num_cpus sizes a local Ray"):
        get_engine({"name": "ray", "address": "head:6379", "num_cpus": 4})


def test_ray_engine_outputs_are_byte_identical_to_the_local_engine(pool, local_ray, monkeypatch):
    from curate.engine import ray_components, ray_lines

    folder, rows = pool
    local = curate.run(folder / "pipeline.yaml", export__out=str(folder / "local"))
    # the components on Ray too (below LOCAL_BELOW edges they would run on the driver)
    monkeypatch.setattr(ray_components, "LOCAL_BELOW", 0)
    stars = []
    monkeypatch.setattr(ray_components, "star_edges",
                        lambda *args, real=ray_components.star_edges: stars.append(real(*args)) or stars[-1])
    lines = []  # the export's JSON lines serialised on Ray (once curate/export asks the engine)
    monkeypatch.setattr(ray_lines, "write_lines", lambda *args, real=ray_lines.write_lines: lines.append(args[3]) or
                        real(*args))
    on_ray = curate.run(folder / "pipeline.yaml", export__out=str(folder / "ray"), engine__name="ray")
    assert len(stars) == 3 and all(s.height > 1000 for s in stars)  # two LSH thresholds, the split groups
    assert sorted(p.name for p in lines) == ["train.jsonl", "valid.jsonl"]  # written on Ray
    counts = local.manifest["counts"]
    assert sum(counts.values()) == rows and counts["train"] == 5000 and counts["valid"] == 1000
    found = set(local.findings["rule"])  # the pool gives every stage of the default pack work
    assert {"malformed_json", "empty_text", "control_chars", "mojibake", "wrong_type", "missing_field",
            "no_labels", "mostly_non_text", "duplicate", "normalized_duplicate", "near_duplicate",
            "label_conflict", "id_conflict"} <= found, found
    assert on_ray.findings.equals(local.findings) and on_ray.ledger.equals(local.ledger)
    for name in OUTPUTS:
        assert (folder / "local" / name).read_bytes() == (folder / "ray" / name).read_bytes(), name
    # the manifests differ only in the engine asked for and the output folder
    manifests = [json.loads((folder / out / "manifest.json").read_text()) for out in ("local", "ray")]
    assert manifests[1]["config"].pop("engine") == {"name": "ray"}
    for m in manifests:
        m["config"]["export"].pop("out")
    assert manifests[0] == manifests[1]


def test_ray_engine_keeps_a_running_ray_and_says_where_it_runs(tmp_path, local_ray):
    (tmp_path / "raw.jsonl").write_text("".join(
        json.dumps({"id": f"r{i}", "text": f"document number {i} about topic {i % 3}", "labels": [f"t{i % 3}"]}) + "\n"
        for i in range(40)))
    said: list[str] = []
    pipeline = Pipeline(load_config({
        "source": {"path": "raw.jsonl"}, "split": {"validation": 8}, "export": {"out": "out"},
        "engine": {"name": "ray"}}, base_dir=tmp_path), progress=said.append)
    result = pipeline.run()
    assert said[0] == "engine ray: running the row stages on the Ray this process already runs (2 CPUs)"
    assert result.manifest["counts"]["valid"] == 8 and ray.is_initialized()


def test_missing_ray_extra_names_the_pip_line(tmp_path, monkeypatch):
    import importlib

    real = importlib.import_module

    def without_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", without_ray)
    (tmp_path / "raw.jsonl").write_text('{"id": "a", "text": "some text", "labels": ["x"]}\n')
    (tmp_path / "p.yaml").write_text("source: {path: raw.jsonl}\nengine: ray\nexport: {out: out}\n")
    with pytest.raises(MissingDependency) as caught:
        curate.run(tmp_path / "p.yaml")
    assert str(caught.value) == "the Ray engine needs the 'ray' package: pip install 'curate[ray]'"
    assert not (tmp_path / "out").exists()  # nothing written


def test_unreachable_cluster_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "raw.jsonl").write_text('{"id": "a", "text": "some text", "labels": ["x"]}\n')
    (tmp_path / "p.yaml").write_text("source: {path: raw.jsonl}\nexport: {out: out}\n")
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = subprocess.run([sys.executable, "-m", "curate", "run", str(tmp_path / "p.yaml"), "--engine", "ray",
                           "--set", f"engine.address=127.0.0.1:{port}"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'p.yaml'}: engine: engine.address '127.0.0.1:{port}': no Ray cluster reachable "
        "(Connection refused); start one with `ray start --head` or fix the address"]
    done = subprocess.run([sys.executable, "-m", "curate", "run", str(tmp_path / "p.yaml"), "--engine", "ray"],
                          capture_output=True, text=True, timeout=120, env={**_env(), "RAY_ADDRESS": "nohostport"})
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "RAY_ADDRESS 'nohostport': expected HOST:PORT" in done.stderr


def test_a_ray_failure_is_one_line(local_ray):
    from curate.engine.ray import _translate

    lost = ray.exceptions.WorkerCrashedError()
    err = _translate(RuntimeError("wrapped"), ray)
    assert isinstance(err, RuntimeError)  # not Ray's: unchanged
    try:
        raise RuntimeError("while mapping a block") from lost
    except RuntimeError as exc:
        err = _translate(exc, ray)
    assert isinstance(err, EngineError) and "\n" not in str(err)
    assert str(err).startswith("the Ray engine failed: WorkerCrashedError: ")


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}


def test_block_results_concatenate_in_line_order(local_ray):
    from curate.engine.ray import RayEngine, _ray_data_settings

    engine = RayEngine()
    engine.cpus = 2
    frame = pl.DataFrame({"line": range(1, 12_001), "text": [f"Text  NUMBER {i}" for i in range(12_000)]})
    with _ray_data_settings():
        ds = engine.dataset(frame)
        assert ds.num_blocks() == 3  # 12,000 rows: 4 per 2 CPUs, but at least 5,000 rows a block
        hashes, lengths = engine._norm_stats(ds, frame)
    local = Workspace(frame).norm_stats  # computed here, a chunk at a time
    assert hashes.equals(local[0]) and lengths.equals(local[1])
    assert lengths.to_list() == [len(f"text number {i}") for i in range(12_000)]


def test_candidate_pairs_on_ray_are_exactly_the_local_ones(local_ray):
    """Band keys per block, grouped on Ray: the same pairs as one local pass (the seam's contract)."""
    from curate.engine.ray import RayEngine, _ray_data_settings
    from curate.rules import minhash

    texts = pl.Series([r["text"] for r in base_rows()[:6000]])
    texts = pl.concat([texts, texts.slice(0, 3000).str.replace(" ", "  ").str.to_uppercase(), pl.Series([""])])
    engine = RayEngine()
    engine.cpus = 2
    params = {"ngram": 3, "num_perm": 128, "seed": 1, "bands": 9, "rows": 13}
    local = minhash.pairs_from_keys(minhash.band_keys(texts, **params))
    with _ray_data_settings():
        got = engine.candidate_pairs(texts, **params)
    assert local.height > 3000 and got.equals(local)


def _graphs(rng):
    """Edge lists (n, a, b) of every shape components meet: chains in random order, a star, many
    small components, isolated nodes, repeated edges and self-loops, a random graph; n=0; no edges."""
    parts, at = [], 0

    def add(size, a, b):
        nonlocal at
        parts.append((at + np.asarray(a), at + np.asarray(b)))
        at += size

    chain = rng.permutation(300)
    add(300, chain[:-1], chain[1:])  # a chain, its nodes in random order
    add(200, np.arange(199), np.arange(1, 200))  # the slowest shape for the algorithm: 0-1-2-...
    add(150, np.full(150, 77), np.arange(150))  # a star around a middle node (and a self-loop 77-77)
    pairs = rng.permutation(400)
    add(400, pairs[0::2], pairs[1::2])  # 200 components of two nodes
    triples = rng.permutation(300).reshape(-1, 3)
    add(300, np.r_[triples[:, 0], triples[:, 2]], np.r_[triples[:, 1], triples[:, 1]])  # of three
    add(100, [], [])  # isolated nodes
    a, b = rng.integers(0, 500, 600), rng.integers(0, 500, 600)
    add(500, np.r_[a, b[:50]], np.r_[b, a[:50]])  # a random graph, some edges twice (both ways)
    a = np.concatenate([p[0] for p in parts]).astype(np.int64)
    b = np.concatenate([p[1] for p in parts]).astype(np.int64)
    order = rng.permutation(a.size)
    return [(at, a[order], b[order]), (0, np.zeros(0, np.int64), np.zeros(0, np.int64)),
            (5, np.zeros(0, np.int64), np.zeros(0, np.int64)), (4, np.array([0, 2, 3]), np.array([0, 2, 3]))]


def test_components_on_ray_are_exactly_the_local_ones(local_ray, monkeypatch):
    """Large-star / small-star on Ray Data, forced for small graphs: the labels of minhash.components."""
    from curate.engine import ray_components
    from curate.engine.ray import RayEngine, _ray_data_settings
    from curate.rules import minhash

    local = minhash.components
    graphs = _graphs(np.random.default_rng(7))
    expected = [local(n, a, b) for n, a, b in graphs]
    assert len(np.unique(expected[0])) > 300  # many components, of every size

    def refuse(*_):
        raise AssertionError("the local function ran: the Ray path was not taken")

    monkeypatch.setattr(minhash, "components", refuse)
    monkeypatch.setattr(ray_components, "LOCAL_BELOW", 0)
    engine = RayEngine()
    engine.cpus = 2
    with _ray_data_settings():
        for (n, a, b), want in zip(graphs, expected, strict=True):
            got = engine.components(n, a, b)
            assert got.dtype == np.int64 and np.array_equal(got, want), n
        # the module function's own switch: few edges go to the local function
        monkeypatch.setattr(minhash, "components", local)
        n, a, b = graphs[0]
        assert np.array_equal(ray_components.components(n, a, b, dataset=refuse, parts=4, local_below=a.size + 1),
                              expected[0])


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Export bundles of 12,000 rows (3 blocks on Ray) from real runs: a labels task (the rows
    written as they are) and a json task (references spliced into each line)."""
    folder = tmp_path_factory.mktemp("ray_lines")
    rows = [r for r in base_rows() if r["text"].strip()][:12_000]
    with open(folder / "raw.jsonl", "w", encoding="utf-8") as fh:
        for i, r in enumerate(rows):
            answer = {"topic": r["labels"][0], "n": i, "long": len(r["text"]) > 80}
            fh.write(json.dumps({"id": f"r{i}", "text": r["text"], "labels": r["labels"], "answer": answer,
                                 "year": 1990 + i % 30, "note": None if i % 3 else "ünï"}, ensure_ascii=False) + "\n")
    out = {}
    for kind, task in (("labels", {}), ("json", {"answer": {"kind": "json"}})):
        source = {"path": "raw.jsonl", "passthrough": ["year", "note"]}
        source.update({"labels": "labels"} if kind == "labels" else {"answer": "answer"})
        config = {"source": source, **task, "rules": [], "split": {"validation": 1000, "seed": 3},
                  "export": {"out": f"out-{kind}", "passthrough": ["year", "note"], "developer": "Answer."}}
        result = Pipeline(load_config(config, base_dir=folder)).run()
        out[kind] = result.bundle
    return out


@pytest.mark.parametrize("target", ["openai-rft", "azure-rft", "bedrock-rft", "openai-evals", "gemini-rl"])
def test_jsonl_targets_write_the_same_bytes_through_the_ray_engine(bundles, target, local_ray, tmp_path):
    """Each JSON-lines target's files, its lines serialised per block on Ray and appended in order
    by the driver, are byte-identical to the local writer's (the seam: Engine.write_jsonl)."""
    from curate.engine.ray import RayEngine, _ray_data_settings
    from curate.export import get_target

    engine = RayEngine()
    engine.cpus = 2
    for kind, bundle in bundles.items():
        assert bundle.splits["train"].height == 11_000 and bundle.splits["valid"].height == 1000
        assert (bundle.spliced("train") is not None) == (kind == "json")  # both branches of write_jsonl
        local, on_ray = tmp_path / kind / "local", tmp_path / kind / "ray"
        local.mkdir(parents=True), on_ray.mkdir()
        names = get_target(target).write(bundle, local)
        with _ray_data_settings():  # the export asks the bundle's engine
            assert get_target(target).write(dataclasses.replace(bundle, engine=engine), on_ray) == names
        for name in names:
            assert (local / name).read_bytes() == (on_ray / name).read_bytes(), (kind, name)
        assert sorted(p.name for p in on_ray.iterdir()) == sorted(names)  # no temporary file left


def test_write_lines_on_ray_keeps_order_and_fails_atomically(local_ray, tmp_path):
    """Blocks come back in row order whatever their size; a failure in a worker is the curate error
    itself, and leaves neither the file nor a temporary one."""
    from functools import partial

    from curate.engine import Engine
    from curate.engine.ray import RayEngine
    from curate.engine.ray_lines import jsonl_file
    from curate.errors import ExportError
    from curate.manifest import sha256_of

    frame = pl.DataFrame({"id": [f"r{i}" for i in range(13_001)], "n": range(13_001)})
    serialise = partial(jsonl_file, reference=None, wrap="item")
    Engine().write_lines(frame, serialise, tmp_path / "local.jsonl")
    engine = RayEngine()
    with engine.session():  # the running Ray: kept
        engine.write_lines(frame, serialise, tmp_path / "ray.jsonl")
        engine.write_lines(frame.clear(), serialise, tmp_path / "empty.jsonl")
    assert (tmp_path / "ray.jsonl").read_bytes() == (tmp_path / "local.jsonl").read_bytes()
    # hashed as written: what the manifest will record is the file's own sha256
    assert sha256_of(tmp_path / "ray.jsonl") == hashlib.sha256((tmp_path / "local.jsonl").read_bytes()).hexdigest()
    assert (tmp_path / "ray.jsonl").read_text().splitlines()[13_000] == '{"item":{"id":"r13000","n":13000}}'
    assert (tmp_path / "empty.jsonl").read_bytes() == b""

    def fail_on_late_rows(block, path):
        if block["n"].max() > 10_000:
            raise ExportError("row too late")
        block.write_ndjson(path)

    (tmp_path / "old.jsonl").write_text("the previous file\n")
    with pytest.raises(ExportError, match="^row too late$"), engine.session():
        engine.write_lines(frame, fail_on_late_rows, tmp_path / "old.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.jsonl", "local.jsonl", "old.jsonl", "ray.jsonl"]
    assert (tmp_path / "old.jsonl").read_text() == "the previous file\n"
