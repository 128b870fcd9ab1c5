"""Issue 14, graceful drain: on SIGTERM (or SIGINT) the real `drawbridge serve` stops accepting, lets the calls
in flight finish (their answers reach the agent and the audit trail), ends the GET streams at once, writes
`proxy_stopped`, flushes its audit sinks and exits 0, all within `drain_timeout_seconds`. A call still running
when that timeout passes is cut short, and the process still stops cleanly."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.support.drawbridge import Drawbridge, audit_events, run_drawbridge, run_module_server
from tests.support.inprocess import handshake
from tests.support.scripted_upstream import Script, scripted_upstream
from tests.support.sdk import sdk_client

pytestmark = pytest.mark.e2e
DRAIN = 20  # seconds: far more than the slow call needs, so an exit well before it shows nothing held the drain
UNAVAILABLE = -32060


@pytest.fixture(scope="module")
def interactive_server() -> Any:
    with run_module_server("tests.support.servers.interactive_server") as url:
        yield url


def slow_call_interrupted(proxy: Drawbridge, seconds: float, signum: int) -> tuple[Any, float]:
    """Call `slow(seconds)` with the official SDK client (its GET stream open) and send `signum` to the proxy
    at the first progress notification, while the call runs at the upstream. The result (or the error), and
    when the signal was sent."""
    sent: list[float] = []

    async def progress(*_: Any) -> None:
        if not sent:
            sent.append(time.monotonic())
            proxy.send_signal(signum)

    async def call() -> Any:
        async with sdk_client(proxy.mcp_url(), mode="legacy") as client:
            await client.list_tools()  # known tools: nothing more to ask after the call (the proxy no longer accepts)
            try:
                return await client.call_tool("slow", {"seconds": seconds}, progress_callback=progress)
            except MCPError as exc:
                return exc

    outcome = anyio.run(call)
    assert sent, "the call never reported progress"
    return outcome, sent[0]


def stopped_cleanly(proxy: Drawbridge, signalled: float, path: Path | None = None) -> list[dict[str, Any]]:
    """The process exits 0 within the drain timeout, and `proxy_stopped` is its last event (the file sink's
    closing checkpoint aside); returns the audit events."""
    code = proxy.process.wait(DRAIN + 15)
    took = time.monotonic() - signalled
    assert code == 0, proxy.log()
    assert took < DRAIN, f"exit {took:.1f} s after the signal"
    events = audit_events(path or proxy.audit_path, None)
    kinds = [e["event_type"] for e in events]
    assert kinds[-2:] == ["proxy_stopped", "audit_checkpoint"], kinds[-5:]
    assert kinds.count("proxy_stopped") == 1
    assert "Traceback" not in proxy.log(), proxy.log()
    return events


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_a_slow_call_lets_it_finish_then_writes_proxy_stopped(
        interactive_server: str, tmp_path: Path, signum: int) -> None:
    with run_drawbridge(tmp_path, {"default": interactive_server},
                        extra={"drain_timeout_seconds": DRAIN}) as proxy:
        result, signalled = slow_call_interrupted(proxy, 2.0, signum)
        assert not isinstance(result, MCPError), result
        assert [getattr(c, "text", None) for c in result.content] == ["slept 2.0s"]
        events = stopped_cleanly(proxy, signalled)
    stopped = next(n for n, e in enumerate(events) if e["event_type"] == "proxy_stopped")
    decisions = [e for e in events[:stopped] if e["event_type"] == "decision"]
    [request] = [e for e in decisions if e["tool"] == "slow" and e["direction"] == "to_server"]
    [answer] = [e for e in decisions if e["call_id"] == request["call_id"] and e["direction"] == "to_client"
                and e["jsonrpc"]["kind"] == "response"]
    assert request["verdict"] == answer["verdict"] == "allow"
    assert any(e["http"] == {"method": "GET", "status": 200} for e in decisions), "the SDK's GET stream was open"
    name = signal.Signals(signum).name
    assert f"{name}: draining: no new connections; calls in flight have up to {DRAIN} s to finish" in proxy.log()


def test_a_stream_longer_than_the_drain_timeout_ends_at_it_and_the_proxy_still_stops_cleanly(
        interactive_server: str, tmp_path: Path) -> None:
    with run_drawbridge(tmp_path, {"default": interactive_server}, extra={"drain_timeout_seconds": 2}) as proxy:
        result, signalled = slow_call_interrupted(proxy, 30.0, signal.SIGTERM)
        assert isinstance(result, MCPError), result  # the answer's stream ended without the answer
        assert time.monotonic() - signalled < 15
        stopped_cleanly(proxy, signalled)
        assert "drain timeout passed: POST /mcp cut short" in proxy.log()


def test_a_json_answer_still_awaited_at_the_drain_timeout_is_an_audited_503(tmp_path: Path) -> None:
    script = Script()
    with scripted_upstream(script) as url, \
            run_drawbridge(tmp_path, {"default": url}, extra={"drain_timeout_seconds": 1}) as proxy:

        async def call() -> httpx.Response:
            async with httpx.AsyncClient(timeout=20) as http:
                live = await handshake(http, proxy.mcp_url())
                script.delay = 10.0
                pending = http.post(proxy.mcp_url(), headers=live, json={
                    "jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "echo", "arguments": {}}})
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(_signal_when_forwarded, proxy, script)
                    return await pending

        answer = anyio.run(call)
        signalled = time.monotonic()
        assert answer.status_code == 503
        assert answer.json()["error"]["code"] == UNAVAILABLE
        assert "drain timeout passed" in answer.json()["error"]["message"]
        events = stopped_cleanly(proxy, signalled - 1)
    [cut] = [e for e in events if e.get("check") == "drain"]
    assert cut["verdict"] == "deny" and cut["http"]["status"] == 503 and cut["error_code"] == UNAVAILABLE


async def _signal_when_forwarded(proxy: Drawbridge, script: Script) -> None:
    with anyio.fail_after(10):
        while not any(r.json and r.json.get("method") == "tools/call" for r in script.requests):  # noqa: ASYNC110
            await anyio.sleep(0.02)
    proxy.send_signal(signal.SIGTERM)


def wal_store(tmp_path: Path) -> str:
    """A SQLite store already in WAL mode: two workers opening a new file at once may find it locked (the
    store sets its busy timeout after switching the journal mode), which these tests are not about."""
    path = tmp_path / "state.db"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.execute("PRAGMA journal_mode = WAL")
    return f"sqlite:{path}"


def test_workers_drain_too(interactive_server: str, tmp_path: Path) -> None:
    """`--workers 2`: the parent passes SIGTERM on; the worker with the call lets it finish; each writes
    `proxy_stopped` in its own file; the parent exits 0."""
    with run_drawbridge(tmp_path, {"default": interactive_server},
                        extra={"drain_timeout_seconds": DRAIN, "workers": 2, "store": wal_store(tmp_path)}) as proxy:
        result, signalled = slow_call_interrupted(proxy, 2.0, signal.SIGTERM)
        assert not isinstance(result, MCPError), result
        assert [getattr(c, "text", None) for c in result.content] == ["slept 2.0s"]
        stopped_cleanly(proxy, signalled)
        other = proxy.audit_path.with_name(f"{proxy.audit_path.stem}.worker-1{proxy.audit_path.suffix}")
        stopped_cleanly(proxy, signalled, other)


def test_a_signal_while_the_workers_start_stops_each_once_it_serves(interactive_server: str, tmp_path: Path) -> None:
    """The listener is bound before the workers are forked, so the port answers while they still start: a
    SIGTERM then is not lost, and does not kill a worker half started; each one started starts, drains and
    stops cleanly (one not forked yet never is)."""
    with run_drawbridge(tmp_path, {"default": interactive_server},
                        extra={"drain_timeout_seconds": DRAIN, "workers": 2, "store": wal_store(tmp_path)}) as proxy:
        signalled = time.monotonic()
        proxy.send_signal(signal.SIGTERM)
        assert proxy.process.wait(DRAIN + 15) == 0, proxy.log()
        files = [proxy.audit_path, proxy.audit_path.with_name(f"{proxy.audit_path.stem}.worker-1.jsonl")]
        for path in files:
            if path.exists():
                kinds = [e["event_type"] for e in stopped_cleanly(proxy, signalled, path)]
                assert kinds[0] == "proxy_started"
