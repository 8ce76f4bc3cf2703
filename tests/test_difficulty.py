"""The ``difficulty:`` stage against a real scripted chat server on 127.0.0.1 (issue 12 acceptance)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from chat_server import ChatServer

import curate
from curate.difficulty import decided
from curate.errors import ConfigError

KEY = "sk-test-difficulty-0123"
TOPICS = ("harbour", "orchard", "glacier", "violin", "lantern", "meadow", "copper", "falcon", "canyon", "saffron")
N = 12  # items: 4 always right, 4 always wrong, 4 right 2 times in 5
SAMPLES = 5


def _text(i: int) -> str:
    return f"Item {i}: which topics does this note about the {TOPICS[i % 10]} mention? ({i * 37})"


def _answer(kind: str, i: int):
    return sorted({TOPICS[i % 10], TOPICS[(i + 3) % 10]}) if kind == "labels" else f"the {TOPICS[i % 10]} {i}"


def _behaviour(i: int) -> str:
    return ("right", "wrong", "mixed")[i % 3]


def _pool(folder: Path, kind: str, **difficulty) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"uid": f"q{i}", "question": _text(i), "gold": _answer(kind, i)} for i in range(N)]
    (folder / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    field = "labels" if kind == "labels" else "answer"
    task = "" if kind == "labels" else "answer: {kind: text}\n"
    section = "".join(f"  {k}: {json.dumps(v)}\n" for k, v in difficulty.items())
    config = folder / "pipeline.yaml"
    config.write_text(f"source: {{path: data.jsonl, id: uid, text: question, {field}: gold}}\n{task}rules: []\n"
                      "split: {validation: 1, seed: 3}\nexport: {out: out, developer: 'Answer.'}\n"
                      f"difficulty:\n{section}", encoding="utf-8")
    return config


def _script(kind: str) -> dict[str, list[str]]:
    key = "labels" if kind == "labels" else "answer"
    script = {}
    for i in range(N):
        right, wrong = json.dumps({key: _answer(kind, i)}), json.dumps({key: [] if kind == "labels" else ""})
        script[_text(i)] = {"right": [right], "wrong": [wrong],
                            "mixed": [right, right, wrong, wrong, wrong]}[_behaviour(i)]
    return script


def _options(server: ChatServer, **more) -> dict:
    return {"model": "base", "base_url": server.url, "samples": SAMPLES, "keep": [0.1, 0.9],
            "api_key_env": "DIFFICULTY_TEST_KEY", "concurrency": 4, **more}


def _outcome(config: Path) -> tuple[set[str], pl.DataFrame]:
    out = config.parent / "out"
    exported = {json.loads(line)["id"] for name in ("train.jsonl", "valid.jsonl")
                for line in (out / name).read_text().splitlines()}
    return exported, pl.read_parquet(out / "ledger.parquet").sort("line")


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIFFICULTY_TEST_KEY", KEY)


def _server(kind: str, **kw) -> ChatServer:
    return ChatServer(_script(kind), api_key=KEY, models=["base"], **kw)


@pytest.mark.parametrize("kind", ["labels", "text"])
def test_keeps_exactly_the_mixed_items_and_a_rerun_sends_nothing(tmp_path: Path, kind: str) -> None:
    with _server(kind) as server:
        config = _pool(tmp_path / "a", kind, **_options(server))
        result = curate.run(config)
        assert server.requests == N * SAMPLES
        sent = {json.dumps(body["messages"]): body.get("response_format") for body in server.bodies}
    exported, ledger = _outcome(config)
    out = config.parent / "out"
    fmt = json.loads((out / "response_format.json").read_text())
    lines = [json.dumps(json.loads(line)["messages"]) for line in (out / "train.jsonl").read_text().splitlines()]
    assert all(v == fmt for v in sent.values())
    assert any(line in sent for line in lines)  # the exported prompts are the ones sampled, byte for byte
    assert exported == {f"q{i}" for i in range(N) if _behaviour(i) == "mixed"}
    for row in ledger.iter_rows(named=True):
        behaviour = _behaviour(int(row["id"][1:]))
        want = {"right": ("unused", 1.0, {"too_easy", "no_signal"}), "wrong": ("unused", 0.0, {"too_hard", "no_signal"}),
                "mixed": (None, 0.4, set())}[behaviour]
        assert (row["difficulty_mean"], row["difficulty_samples"]) == (want[1], SAMPLES)
        assert set(row["reasons"]) == want[2]
        assert row["disposition"] == (want[0] or row["disposition"]) and row["disposition"] != "rejected"
        assert (row["difficulty_std"] == 0) == (behaviour != "mixed")
    summary = result.manifest["difficulty"]
    assert (summary["kept"], summary["too_easy"], summary["too_hard"], summary["no_signal"]) == (4, 4, 4, 8)
    assert sum(summary["histogram"]["before"]) == N and summary["histogram"]["after"][4] == 4
    assert summary["grader_audit"] == []  # the kind's default grader resists the audit
    report = (config.parent / "out" / "report.html").read_text()
    assert "Difficulty (baseline pass rate)" in report and "<svg" in report and "4 too easy" in report
    if kind == "labels":
        assert sum(r["items"] for r in summary["by_label"]) == 2 * N and sum(r["kept"] for r in summary["by_label"]) == 8
    with _server(kind) as server:  # a rerun is served from the cache
        curate.run(config)
        assert server.requests == 0
    assert _outcome(config)[0] == exported


def test_a_killed_run_resumes_with_only_the_missing_requests(tmp_path: Path) -> None:
    import os
    import signal
    import time

    with _server("labels", block_after=23) as server:  # answers 23 requests, then holds the rest
        config = _pool(tmp_path / "a", "labels", **_options(server))
        cache = config.parent / "out" / ".dryrun-cache" / "responses.jsonl"
        run = subprocess.Popen([sys.executable, "-m", "curate", "run", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env={**os.environ, "DIFFICULTY_TEST_KEY": KEY})
        deadline = time.monotonic() + 120
        while (not cache.exists() or len(cache.read_bytes().splitlines()) < 23) and time.monotonic() < deadline:
            time.sleep(0.05)
        run.send_signal(signal.SIGKILL)
        run.wait()
        server.release()
    cached = len(cache.read_bytes().splitlines())
    assert cached == 23
    assert not (config.parent / "out" / "manifest.json").exists()
    with _server("labels") as server:
        config = _pool(tmp_path / "a", "labels", **_options(server))
        curate.run(config)
        assert server.requests == N * SAMPLES - cached
    assert _outcome(config)[0] == {f"q{i}" for i in range(N) if _behaviour(i) == "mixed"}


def test_adaptive_sends_fewer_requests_with_the_same_decisions(tmp_path: Path) -> None:
    outcomes, sent = {}, {}
    for adaptive in (False, True):
        with _server("labels") as server:
            config = _pool(tmp_path / str(adaptive), "labels", **_options(server, adaptive=adaptive))
            manifest = curate.run(config).manifest
            sent[adaptive] = server.requests
        exported, ledger = _outcome(config)
        outcomes[adaptive] = (exported, ledger.select("id", "disposition", "reasons").with_columns(
            pl.col("reasons").list.set_difference(["no_signal"])).rows())
    assert outcomes[True] == outcomes[False]
    assert sent[True] < sent[False] == N * SAMPLES
    # mixed items stop after [right, right, wrong]: the mean can only end in [0.4, 0.8]
    assert sent[True] == N * SAMPLES - 4 * 2
    assert manifest["difficulty"]["requests_saved"] == 8 and manifest["difficulty"]["adaptive"] is True


def test_adaptive_rule_matches_fixed_n_on_every_outcome_sequence() -> None:
    import itertools

    from curate.difficulty import band_of

    for n in (3, 5, 6):
        for band in ((0.1, 0.9), (0.3, 0.7), (0.0, 0.5), (0.5, 1.0)):
            for seq in itertools.product((0.0, 0.5, 1.0), repeat=n):
                final = band_of(sum(seq) / n, band)
                for k in range(1, n + 1):
                    early = decided(sum(seq[:k]), k, n, band)
                    assert early in (None, final), (n, band, seq, k)
                assert decided(sum(seq), n, n, band) == final


def test_max_cost_under_the_estimate_sends_nothing_and_exits_2(tmp_path: Path) -> None:
    with _server("labels") as server:
        config = _pool(tmp_path / "a", "labels", **_options(server, price=[1000, 1000], max_cost=0.01))
        with pytest.raises(ConfigError, match=r"estimated cost \$\d+\.\d+ for 60 requests .* over max_cost \$0.01"):
            curate.run(config)
        done = subprocess.run([sys.executable, "-m", "curate", "run", str(config)], capture_output=True, text=True,
                              env={**__import__("os").environ, "DIFFICULTY_TEST_KEY": KEY})
        assert server.requests == 0
    assert done.returncode == 2, done.stderr
    assert "estimated cost $" in done.stderr and "Traceback" not in done.stderr


def test_the_estimate_is_printed_and_bad_options_fail_before_any_work(tmp_path: Path) -> None:
    with _server("labels") as server:
        messages: list[str] = []
        config = _pool(tmp_path / "a", "labels", **_options(server, price=[2, 8]))
        pipeline = curate.Pipeline.from_file(config) if hasattr(curate, "Pipeline") else None
        if pipeline is None:
            from curate.pipeline import Pipeline

            pipeline = Pipeline.from_file(config)
        pipeline.progress = messages.append
        pipeline.run()
    line = next(m for m in messages if m.startswith("difficulty: at most 60 requests"))
    assert "prompt +" in line and "completion tokens" in line and "$" in line
    for bad, match in (({"keep": [0.9, 0.1]}, "keep must be"), ({"max_cost": 1}, "max_cost needs price"),
                       ({"samples": 0}, "samples")):
        with _server("labels") as server:
            config = _pool(tmp_path / "b", "labels", **{**_options(server), **bad})
            with pytest.raises(ConfigError, match=match):
                curate.run(config)
            assert server.requests == 0


def test_balance_evens_out_difficulty_bands_with_the_labels(tmp_path: Path) -> None:
    script = {}
    for i in range(N):  # 10 easier items (right 4 times in 5), 2 harder ones (right 2 times in 5)
        right, wrong = json.dumps({"labels": _answer("labels", i)}), '{"labels": []}'
        script[_text(i)] = [right] * (2 if i < 2 else 4) + [wrong] * (3 if i < 2 else 1)
    picked = {}
    for by in (0, 2):
        with ChatServer(script, api_key=KEY, models=["base"]) as server:
            config = _pool(tmp_path / str(by), "labels", **_options(server))
            text = config.read_text().replace("split:", f"balance: {{size: 4, seed: 1, by_difficulty: {by}}}\nsplit:")
            config.write_text(text)
            manifest = curate.run(config).manifest
        picked[by] = _outcome(config)[0]
    assert picked[2] >= {"q0", "q1"} and len(picked[2]) == 4  # both harder items: equal shares of the two bands
    assert not picked[0] >= {"q0", "q1"}
    assert manifest["balance"]["labels"]["difficulty:2"] == {"pool": 2, "selected": 2, "baseline": 2} | {
        "baseline": manifest["balance"]["labels"]["difficulty:2"]["baseline"]}


def test_by_difficulty_without_a_difficulty_section_is_a_config_error(tmp_path: Path) -> None:
    config = _pool(tmp_path, "labels", model="m")
    config.write_text(config.read_text().split("difficulty:")[0] + "balance: {size: 4, by_difficulty: 2}\n")
    with pytest.raises(ConfigError, match="by_difficulty needs a difficulty: section"):
        curate.run(config)


def test_nothing_in_the_band_still_writes_the_ledger_and_says_why(tmp_path: Path) -> None:
    from curate.errors import SelectionError

    script = {_text(i): [json.dumps({"labels": _answer("labels", i)})] for i in range(N)}  # always right
    with ChatServer(script, api_key=KEY, models=["base"]) as server:
        config = _pool(tmp_path, "labels", **_options(server))
        with pytest.raises(SelectionError, match=r"none of the 12 sampled items .* \(12 too easy, 0 too hard\)"):
            curate.run(config)
    ledger = pl.read_parquet(config.parent / "out" / "ledger.parquet")
    assert ledger.height == N and set(ledger["disposition"]) == {"unused"}
    assert ledger["reasons"].list.contains("too_easy").all() and (ledger["difficulty_mean"] == 1.0).all()
