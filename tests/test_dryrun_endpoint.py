"""Bad endpoints, retries, the API key, and resuming a killed dry run (real server, real subprocesses)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chat_server import ChatServer
from test_dryrun import FIXTURE, KEY, MIXED, script_for

from curate.dryrun import EndpointError, run_dryrun
from curate.dryrun.cache import CACHE_DIR, CACHE_FILE

REPO = Path(__file__).resolve().parents[1]
# typer runs an app's only command without its name; drop "dryrun" in that case
CLI = """import sys
from curate.cli import app, main
if len(app.registered_commands) == 1 and app.registered_callback is None:
    sys.argv.pop(1)
main()
"""


@pytest.fixture()
def out(tmp_path: Path) -> Path:
    folder = tmp_path / "out"
    shutil.copytree(FIXTURE, folder)
    return folder


def cli(*args: str, key: str | None = KEY, **kwargs) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    if key is not None:
        env["OPENAI_API_KEY"] = key
    return subprocess.Popen([sys.executable, "-c", CLI, "dryrun", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def run_cli(*args: str, key: str | None = KEY) -> tuple[int, str, str]:
    proc = cli(*args, "--grader-workers", "0", key=key)
    stdout, stderr = proc.communicate(timeout=60)
    return proc.returncode, stdout, stderr


def cached(out: Path) -> int:
    path = out / CACHE_DIR / CACHE_FILE
    return sum(1 for line in path.read_bytes().splitlines() if line.strip()) if path.exists() else 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_killing_halfway_and_rerunning_sends_only_the_missing_requests(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held_after = 17
    with ChatServer(script_for(MIXED), api_key=KEY, block_after=held_after) as server:
        proc = cli(str(out), "--model", "stub-model", "--base-url", server.url, "--concurrency", "4")
        deadline = time.monotonic() + 30
        while cached(out) < held_after and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)  # let any stray response land; the server holds every later request
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        assert server.answered == held_after and server.requests > held_after  # some were in flight
        server.release()
    assert cached(out) == held_after
    assert not (out / "dryrun.json").exists()
    with ChatServer(script_for(MIXED), api_key=KEY) as server:
        code, stdout, stderr = run_cli(str(out), "--model", "stub-model", "--base-url", server.url)
        assert server.requests == 50 - held_after
    assert code == 0, stderr
    assert "requests sent this run: 33" in stdout
    # the resumed run reports what an uninterrupted run reports (per-item cycling aside, which
    # the mixed script makes order-independent for every statistic)
    fresh = tmp_path / "fresh"
    shutil.copytree(FIXTURE, fresh)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with ChatServer(script_for(MIXED), api_key=KEY) as server:
        run_dryrun(fresh, model="stub-model", base_url=server.url)
    resumed, full = (json.loads((d / "dryrun.json").read_text()) for d in (out, fresh))
    assert resumed["summary"] == full["summary"]
    assert [(r["id"], r["mean"], r["std"]) for r in resumed["items"]] == [(r["id"], r["mean"], r["std"]) for r in full["items"]]


def test_cli_endpoint_errors_exit_2_with_one_line(out: Path) -> None:
    with ChatServer(api_key=KEY) as server:
        code, _, stderr = run_cli(str(out), "--model", "gpt-nope", "--base-url", server.url)
        assert (code, stderr.strip().splitlines()) == (2, [
            f"curate dryrun: model 'gpt-nope' not found at {server.url} (404: The model `gpt-nope` does not exist.); "
            "check --model and --base-url"
        ])
        code, _, stderr = run_cli(str(out), "--model", "stub-model", "--base-url", server.url, key="sk-wrong-key-4242")
        assert code == 2 and len(stderr.strip().splitlines()) == 1
        assert "rejected the API key (401: Incorrect API key provided.)" in stderr and "sk-wrong-key-4242" not in stderr
        assert server.requests == 2  # the first request goes alone: one each
    port = free_port()
    code, _, stderr = run_cli(str(out), "--model", "stub-model", "--base-url", f"http://127.0.0.1:{port}/v1")
    assert code == 2 and len(stderr.strip().splitlines()) == 1
    assert stderr.startswith(f"curate dryrun: cannot reach the endpoint at http://127.0.0.1:{port}/v1")


def invoke(*args: str) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from curate.cli import app

    single = len(app.registered_commands) == 1 and app.registered_callback is None
    result = CliRunner().invoke(app, [*([] if single else ["dryrun"]), *args, "--grader-workers", "0"])
    return result.exit_code, result.stdout, result.stderr


def test_cli_exit_codes(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with ChatServer(script_for(["wrong"] * 10), api_key=KEY) as server:
        code, stdout, _ = invoke(str(out), "--model", "stub-model", "--base-url", server.url, "--samples", "1")
    assert (code, stdout.splitlines()[0]) == (1, "verdict: no-go")
    assert "requests sent this run: 10;" in stdout
    with ChatServer(script_for(["2in5"] * 10), api_key=KEY) as server:
        code, stdout, _ = invoke(str(out), "--model", "stub-model", "--base-url", server.url)
    assert (code, stdout.splitlines()[0]) == (0, "verdict: go")
    monkeypatch.delenv("OPENAI_API_KEY")
    code, _, stderr = invoke(str(out), "--model", "stub-model", "--samples", "6")  # default endpoint, no key
    assert (code, stderr) == (2, "curate dryrun: no API key: set OPENAI_API_KEY (or name another variable with --api-key-env)\n")
    code, _, stderr = invoke(str(out / "missing"), "--model", "stub-model")
    assert code == 2 and stderr.startswith("curate dryrun: ") and "train.jsonl: not found" in stderr


def test_rate_limits_and_server_errors_are_retried(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with ChatServer(script_for(MIXED), api_key=KEY, rate_limit=3, retry_after=0.01, fail_5xx=2) as server:
        report = run_dryrun(out, model="stub-model", base_url=server.url, samples=5, concurrency=8)
        assert server.requests == 55 and server.answered == 50
    assert report.requests_sent == 55
    assert report.summary["mean"] == 0.52


def test_rate_limited_for_long_gives_up_with_a_clear_message(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with ChatServer(api_key=KEY, rate_limit=10**6, retry_after=0.01) as server:
        with pytest.raises(EndpointError) as err:
            run_dryrun(out, model="stub-model", base_url=server.url, samples=1, max_retries=3)
        assert server.requests == 4  # the first request alone: 1 try + 3 retries, then stop
    assert str(err.value) == (
        f"gave up on item '32014R0727' after 3 retries at {server.url}: rate limited (429: Rate limit reached.)"
    )
    with ChatServer(api_key=KEY) as server:  # sample 0 of every item lands in the cache
        run_dryrun(out, model="stub-model", base_url=server.url, samples=1)
    with ChatServer(api_key=KEY, rate_limit=10**6, retry_after=0.01) as server:
        with pytest.raises(EndpointError, match=r"\(10 of 20 responses cached; rerun to resume\)$"):
            run_dryrun(out, model="stub-model", base_url=server.url, samples=2, max_retries=3)


def test_the_api_key_is_never_written(out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-secret-do-not-store-31337"
    monkeypatch.setenv("MY_KEY", secret)
    with ChatServer(script_for(MIXED), api_key=secret) as server:
        run_dryrun(out, model="stub-model", base_url=server.url, samples=2, api_key_env="MY_KEY")
    written = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.name == CACHE_FILE for p in written)
    assert not [p for p in written if secret.encode() in p.read_bytes()]
