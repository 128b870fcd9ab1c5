"""The official SDK client through Drawbridge (default policy, API keys) to a real SDK v2 server."""

from __future__ import annotations

import pytest
from mcp.shared.exceptions import MCPError

from tests.e2e.conftest import AUTH, OTHER_KEY
from tests.support.drawbridge import Drawbridge
from tests.support.sdk import sdk_client

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
MODES = ["legacy", "auto", "2026-07-28"]


def _text(result: object) -> str:
    return "".join(getattr(c, "text", "") for c in getattr(result, "content", []))


@pytest.mark.parametrize("mode", MODES)
async def test_listing_is_filtered_to_the_allowlist(guarded: Drawbridge, mode: str) -> None:
    async with sdk_client(guarded.mcp_url(), mode=mode, headers=AUTH) as client:
        tools = {t.name for t in (await client.list_tools()).tools}
    assert tools == {"get_weather", "search_notes"}


@pytest.mark.parametrize("mode", MODES)
async def test_permitted_call_returns_the_servers_answer(guarded: Drawbridge, mode: str) -> None:
    async with sdk_client(guarded.mcp_url(), mode=mode, headers=AUTH) as client:
        result = await client.call_tool("get_weather", {"city": "Paris"})
    assert not result.is_error
    assert "Paris" in _text(result)


@pytest.mark.parametrize("mode", MODES)
async def test_call_outside_the_allowlist_is_refused_naming_the_rule(guarded: Drawbridge, mode: str) -> None:
    async with sdk_client(guarded.mcp_url(), mode=mode, headers=AUTH) as client:
        with pytest.raises(MCPError) as refused:
            await client.call_tool("delete_note", {"note_id": 1})
    assert refused.value.error.code == -32050
    assert "not permitted by policy" in refused.value.error.message
    events = [e for e in guarded.events() if e["tool"] == "delete_note" and e["verdict"] == "deny"]
    assert events and events[-1]["rule_ids"] == ["default-deny"]
    assert events[-1]["principal"] == "alice" and events[-1]["agent"] == "agent-a"


async def test_forbid_rule_on_arguments_overrides_the_permit(guarded: Drawbridge) -> None:
    async with sdk_client(guarded.mcp_url(), headers=AUTH) as client:
        ok = await client.call_tool("search_notes", {"query": "roadmap"})
        with pytest.raises(MCPError) as refused:
            await client.call_tool("search_notes", {"query": "prod password"})
    assert not ok.is_error
    assert "no-secrets-in-search" in refused.value.error.message


async def test_every_decision_leaves_exactly_one_audit_event(guarded: Drawbridge) -> None:
    before = len(guarded.events())
    async with sdk_client(guarded.mcp_url(), mode="legacy", headers=AUTH) as client:
        await client.call_tool("get_weather", {"city": "Oslo"})
    new = guarded.events()[before:]
    calls = [e for e in new if e["jsonrpc"]["method"] == "tools/call" and e["direction"] == "to_server"]
    answers = [e for e in new if e["direction"] == "to_client" and e["jsonrpc"]["kind"] == "response"]
    assert len(calls) == 1 and calls[0]["tool"] == "get_weather"
    assert len({e["event_id"] for e in new}) == len(new)
    # each request the client sent has exactly one answer event (initialize, tools/call)
    requests = [e for e in new if e["direction"] == "to_server" and e["jsonrpc"]["kind"] == "request"]
    assert len(answers) == len(requests)
    assert calls[0]["arguments_sha256"] and len(calls[0]["arguments_sha256"]) == 64
    assert all(API not in line for line in guarded.audit_path.read_text().splitlines() for API in AUTH.values())


async def test_a_session_cannot_be_used_by_another_principal(guarded: Drawbridge) -> None:
    import httpx

    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    accept = {"accept": "application/json, text/event-stream"}
    async with httpx.AsyncClient(timeout=10) as http:
        opened = await http.post(guarded.mcp_url(), json=init, headers={**AUTH, **accept})
        session = opened.headers["mcp-session-id"]
        hijack = await http.post(guarded.mcp_url(), headers={"x-api-key": OTHER_KEY, "mcp-session-id": session,
                                                             "mcp-protocol-version": "2025-11-25", **accept},
                                 json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    assert opened.status_code == 200
    assert hijack.status_code == 404
    refusals = [e for e in guarded.events() if e["verdict"] == "deny" and e["jsonrpc"]["kind"] == "http"]
    assert any(r["principal"] == "mallory" and "another principal" in r["reason"] and r["http"]["status"] == 404
               for r in refusals)
    assert "another principal" not in hijack.text  # the agent is not told the session exists


async def test_low_level_client_session(guarded: Drawbridge) -> None:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(headers=AUTH, timeout=20) as http, \
            streamable_http_client(guarded.mcp_url(), http_client=http) as (read, write), \
            ClientSession(read, write) as session:
        init = await session.initialize()
        tools = await session.list_tools()
        answer = await session.call_tool("get_weather", {"city": "Lima"})
        with pytest.raises(MCPError):
            await session.call_tool("send_email", {"to": "x@example.com", "subject": "s", "body": "b"})
    assert init.server_info.name == "drawbridge-demo"
    assert {t.name for t in tools.tools} == {"get_weather", "search_notes"}
    assert "Lima" in _text(answer)


@pytest.mark.node
@pytest.mark.parametrize("era", ["legacy", "modern", "auto"])
def test_inspector_cli_sees_the_filtered_listing(guarded: Drawbridge, era: str) -> None:
    rig = pytest.importorskip("tests.support.rig")
    code, listed, err = rig.run_inspector(guarded.mcp_url(), "tools/list", era=era, headers=AUTH)
    assert code == 0, err
    assert {t["name"] for t in listed["result"]["tools"]} == {"get_weather", "search_notes"}
    code, called, err = rig.run_inspector(guarded.mcp_url(), "tools/call", era=era, headers=AUTH,
                                          tool="get_weather", tool_args={"city": "Rome"})
    assert code == 0, err
    assert "Rome" in rig.tool_text(called)
