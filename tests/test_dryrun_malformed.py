"""Dry run against a misbehaving endpoint (issue 13: D4, D10, D25), with the real local server and CLI:
a 200 whose body is not a chat completion is an endpoint error (retried, then one line, exit 2) and
is never cached; a key the server echoes is masked in everything written, the cache included."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from chat_server import ChatServer
from test_dryrun import FIXTURE, KEY, MIXED, items, right, script_for, user_text
from test_dryrun_endpoint import cached, run_cli

from curate.dryrun import EndpointError, run_dryrun


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    shutil.copytree(FIXTURE, folder)
    return folder


@pytest.mark.parametrize(("body", "reason"), [("this is {not json", "JSONDecodeError"),
                                              ('{"foo": "bar"}', "no 'choices'"),
                                              ('{"choices": []}', "no 'choices'"),
                                              ('{"choices": [{"index": 0}]}', "no 'message'")])
def test_a_200_that_is_not_a_chat_completion_is_an_endpoint_error(out: Path, body: str, reason: str) -> None:
    with ChatServer(script_for(MIXED), api_key=KEY, malformed=1000, malformed_body=body) as server:
        code, stdout, stderr = run_cli(str(out), "--model", "stub-model", "--base-url", server.url,
                                       "--max-retries", "3", "--samples", "1")
        sent = server.requests
    assert code == 2, stderr
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
    assert stderr.startswith(f"curate dryrun: the endpoint at {server.url} sent a 200 response that is "
                             "not a chat completion (")
    assert reason in stderr
    assert sent == 2  # the first request is retried once, then the run stops
    assert cached(out) == 0


def test_malformed_200s_are_retried_and_never_cached(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with ChatServer(script_for(MIXED), api_key=KEY, malformed=1, malformed_body='{"foo": "bar"}') as server:
        report = run_dryrun(out, model="stub-model", base_url=server.url, samples=2, workers=0)
        assert server.requests == 20 + 1
    assert cached(out) == 20 and report.requests_sent == 21
    lines = (out / ".dryrun-cache" / "responses.jsonl").read_text().splitlines()
    assert all(json.loads(line)["response"]["content"] for line in lines)  # no empty answer was stored


def test_a_rerun_after_a_bad_server_is_fixed_uses_real_answers(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with ChatServer(script_for(MIXED), api_key=KEY, malformed=1000, malformed_body='{"foo": "bar"}') as server:
        with pytest.raises(EndpointError, match="no 'choices'"):
            run_dryrun(out, model="stub-model", base_url=server.url, samples=1, workers=0, max_retries=1)
    assert cached(out) == 0
    with ChatServer(script_for(["right"] * 10), api_key=KEY) as server:
        report = run_dryrun(out, model="stub-model", base_url=server.url, samples=1, workers=0)
    assert report.summary["mean"] == 1.0 and report.requests_sent == 10


@pytest.mark.parametrize("variable", ["OPENAI_API_KEY", "MY_ENDPOINT_TOKEN"])
def test_a_key_echoed_by_the_server_is_masked_everywhere(out: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    secret = "sk-TEST-SECRET-0123456789abcdef"
    other = "sk-OTHER-SECRET-42"  # a key in another known variable, not the one used for this endpoint
    monkeypatch.setenv(variable, secret)
    monkeypatch.setenv("OPENAI_API_KEY" if variable != "OPENAI_API_KEY" else "CURATE_GRADER_API_KEY", other)
    leak = {user_text(item): ['{"labels": ["' + item["reference_answer"][0] + '"], "debug": "{authorization} ' + other + '"}',
                              right(item)]
            for item in items()}
    with ChatServer(leak, api_key=secret) as server:
        report = run_dryrun(out, model="stub-model", base_url=server.url, samples=2, workers=0,
                            api_key_env=variable)
    assert report.requests_sent == 20
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert secret.encode() not in data and other.encode() not in data, path
    lines = (out / ".dryrun-cache" / "responses.jsonl").read_text().splitlines()
    contents = [json.loads(line)["response"]["content"] for line in lines]
    assert sum('"debug": "Bearer *** ***"' in c for c in contents) == 10
