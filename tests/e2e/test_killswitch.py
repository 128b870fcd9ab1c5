"""Kill switch end to end: the real CLI quarantines through the admin API, the data plane obeys at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from tests.e2e.conftest import AUTH, IDENTITY
from tests.support.drawbridge import Drawbridge, run_drawbridge
from tests.support.sdk import sdk_client
from tests.support.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
QUARANTINED = -32053
EMAIL: dict[str, object] = {"to": "a@b.example", "subject": "s", "body": "b"}


@pytest.fixture
def contained(demo_server: str, tmp_path: Path) -> Iterator[Drawbridge]:
    """permit-all plus identity, so only containment decides; admin API on."""
    with run_drawbridge(tmp_path, {"default": demo_server}, extra={"identity": IDENTITY}, admin=True) as proxy:
        yield proxy


def ok(done: object) -> None:
    assert done.returncode == 0, done.stderr  # type: ignore[attr-defined]


async def refusal(proxy: Drawbridge, tool: str, args: dict[str, object]) -> MCPError | None:
    """The JSON-RPC error a fresh SDK session gets for one call (None if it succeeded)."""
    found: list[MCPError] = []
    try:
        async with sdk_client(proxy.mcp_url(), mode="legacy", headers=AUTH) as client:
            try:
                await client.call_tool(tool, args)
            except MCPError as exc:
                found.append(exc)
    except* MCPError as group:  # refused during the handshake itself (nested task-group errors)
        stack: list[BaseException] = [group]
        while stack:
            error = stack.pop()
            if isinstance(error, BaseExceptionGroup):
                stack.extend(error.exceptions)
            elif isinstance(error, MCPError):
                found.append(error)
    return found[0] if found else None


async def _session_gone(upstream_url: str, session: str) -> bool:
    """Ask the upstream directly (not through the proxy) whether the session still exists."""
    import httpx

    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.post(upstream_url, headers={"mcp-session-id": session, "accept":
                                 "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25"},
                                 json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    return answer.status_code in (400, 404)  # server-everything says 400 "No valid session ID provided"


async def refused_code(proxy: Drawbridge, tool: str, args: dict[str, object]) -> int | None:
    error = await refusal(proxy, tool, args)
    return None if error is None else error.error.code


async def test_quarantine_refuses_then_release_restores(contained: Drawbridge) -> None:
    assert await refused_code(contained, "get_weather", {"city": "Oslo"}) is None
    ok(contained.cli("quarantine", "principal", "alice", "--reason", "suspected exfiltration",
                     "--ticket", "IR-2026-0142", "--ttl", "2h"))
    refused = await refusal(contained, "get_weather", {"city": "Oslo"})
    assert refused is not None and refused.error.code == QUARANTINED
    assert "IR-2026-0142" in refused.error.message
    assert "exfiltration" not in refused.error.message  # the internal reason stays internal
    status = contained.cli("status")
    assert "alice" in status.stdout and "IR-2026-0142" in status.stdout
    ok(contained.cli("release", "principal", "alice", "--reason", "eradicated"))
    assert await refused_code(contained, "get_weather", {"city": "Oslo"}) is None
    actions = [e for e in contained.events(None) if e["event_type"] == "containment_action"]
    assert len(actions) >= 2
    denied = [e for e in contained.events() if e["error_code"] == QUARANTINED]
    assert denied and denied[-1]["rule_ids"] == ["containment-quarantine"]


async def test_read_only_and_no_egress_modes(contained: Drawbridge) -> None:
    async with sdk_client(contained.mcp_url(), mode="legacy", headers=AUTH) as client:
        await client.list_tools()  # the proxy learns the tools' annotations from the listing
    ok(contained.cli("quarantine", "principal", "alice", "--mode", "read-only", "--reason", "triage"))
    assert await refused_code(contained, "get_weather", {"city": "Rome"}) is None
    assert await refused_code(contained, "delete_note", {"note_id": 1}) == QUARANTINED
    assert await refused_code(contained, "send_email", EMAIL) == QUARANTINED
    ok(contained.cli("release", "principal", "alice", "--to-mode", "no-egress", "--reason", "staged recovery"))
    assert await refused_code(contained, "delete_note", {"note_id": 1}) is None
    assert await refused_code(contained, "send_email", EMAIL) == QUARANTINED
    ok(contained.cli("release", "principal", "alice", "--reason", "recovered"))
    assert await refused_code(contained, "send_email", EMAIL) is None


async def test_deny_tools_overlay(contained: Drawbridge) -> None:
    ok(contained.cli("deny-tools", "--agent", "agent-a", "--tools", "delete_*,send_email", "--reason", "IR"))
    assert await refused_code(contained, "delete_note", {"note_id": 2}) == QUARANTINED
    assert await refused_code(contained, "get_weather", {"city": "Lima"}) is None


@pytest.mark.node
async def test_quarantine_cancels_a_running_call_and_refuses_new_sessions(tmp_path: Path) -> None:
    rig = pytest.importorskip("tests.support.rig")
    rig.ensure_rig()
    with rig.start_everything() as url, run_drawbridge(tmp_path, {"default": url}, extra={"identity": IDENTITY},
                                                         admin=True) as proxy:
        outcome: dict[str, object] = {}

        async def long_call() -> None:
            async with sdk_client(proxy.mcp_url(), mode="legacy", headers=AUTH, read_timeout=60) as client:
                try:
                    await client.call_tool("trigger-long-running-operation", {"duration": 30, "steps": 30})
                    outcome["result"] = "completed"
                except MCPError as exc:
                    outcome["code"] = exc.error.code
                    outcome["message"] = exc.error.message
                outcome["at"] = time.monotonic()

        async with anyio.create_task_group() as tg:
            tg.start_soon(long_call)
            deadline = time.monotonic() + 20
            while not any(e["tool"] == "trigger-long-running-operation" for e in proxy.events()):
                assert time.monotonic() < deadline, "the long call never started"
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            issued = time.monotonic()
            done = await anyio.to_thread.run_sync(lambda: proxy.cli(
                "quarantine", "principal", "alice", "--reason", "runaway agent", "--ticket", "IR-9"))
            ok(done)
        assert outcome.get("code") == QUARANTINED, outcome
        assert "IR-9" in str(outcome["message"])
        assert float(outcome["at"]) - issued < 10  # cancelled, not left to run its 30 s  # type: ignore[arg-type]
        again = await refusal(proxy, "echo", {"message": "hi"})
        assert again is not None and again.error.code == QUARANTINED  # re-initialize is refused
        killed = [e for e in proxy.events() if e["tool"] == "trigger-long-running-operation"
                  and e["direction"] == "to_server" and e["origin"] == "agent"]
        session = killed[0]["session_id"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not await _session_gone(url, session):  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # the proxy ends it in the background (or the agent did, after its refusal)
        assert await _session_gone(url, session), "the contained session still lives at the upstream"
        cancelled = [e for e in proxy.events() if e["origin"] == "proxy" and e["jsonrpc"]["method"] ==
                     "notifications/cancelled"]
        refused = [e for e in proxy.events() if e["origin"] == "proxy" and e["error_code"] == QUARANTINED]
        assert killed[0]["call_id"] in {e["call_id"] for e in cancelled} & {e["call_id"] for e in refused}


def test_quarantine_survives_a_restart_of_the_embedded_store(demo_server: str, tmp_path: Path) -> None:
    store = f"sqlite:{tmp_path}/kept.db"
    with run_drawbridge(tmp_path, {"default": demo_server}, extra={"identity": IDENTITY, "store": store},
                        admin=True) as first:
        ok(first.cli("quarantine", "agent", "agent-a", "--reason", "IR", "--ticket", "IR-3"))
    with run_drawbridge(tmp_path, {"default": demo_server}, extra={"identity": IDENTITY, "store": store},
                        admin=True) as second:
        code = anyio.run(refused_code, second, "get_weather", {"city": "Kyiv"})
        assert code == QUARANTINED
        assert "agent-a" in second.cli("status").stdout


def test_sessions_list_shows_live_sessions_with_their_counters(contained: Drawbridge) -> None:
    import json

    import httpx

    headers = {**AUTH, "accept": "application/json, text/event-stream"}
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    with httpx.Client(timeout=10) as http:
        opened = http.post(contained.mcp_url(), json=init, headers=headers)
        session = opened.headers["mcp-session-id"]
        live = {**headers, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
        http.post(contained.mcp_url(), json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=live)
        http.post(contained.mcp_url(), json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=live)
    listed = contained.cli("sessions", "list", "--principal", "alice", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["session_id"]: row for row in json.loads(listed.stdout)["sessions"]}
    assert rows[session]["agent"] == "agent-a" and rows[session]["calls"] >= 2 and rows[session]["bytes_in"] > 0

    def bytes_out() -> int:
        listed = json.loads(contained.cli("sessions", "list", "--principal", "alice", "--json").stdout)
        return int(next(r["bytes_out"] for r in listed["sessions"] if r["session_id"] == session))

    assert eventually(lambda: bytes_out() > 0, 5)  # answers streamed as SSE count too
    ok(contained.cli("sessions", "kill", session, "--reason", "IR"))
    assert session not in contained.cli("sessions", "list").stdout
