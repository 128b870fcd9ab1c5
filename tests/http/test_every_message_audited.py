"""No message of any kind, in either direction, crosses the HTTP data plane without a decision and exactly
one audit event. Taps on the proxy's app and on the upstream's record what each side really sent and
received; `tests.support.one_path.account` holds the audit trail to it.

Kinds and directions enumerated here (each is asserted to have occurred, so the proof cannot go vacuous):
agent → server: request (permitted, refused, invalid params), notification (permitted, refused), the
agent's answers to server requests (result and error), unsolicited answers, batches (forwarded, refused
whole), unparseable and non-JSON-RPC bodies; server → agent: answers (result, rewritten, error), server
requests (sampling, elicitation, roots), notifications (progress); the proxy's own messages (refusals,
in-place errors to the server); and HTTP operations without a message (DELETE, 405, 415).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from tests.http.test_inprocess import BATCH_PROTOCOL, FAIL_FAST
from tests.support.drawbridge import PERMIT_ALL
from tests.support.inprocess import (
    InProcessProxy,
    RecordingUpstream,
    handshake,
    inprocess_proxy,
    interactive_client,
    serve_asgi,
)
from tests.support.one_path import Tap, account, key_of
from tests.support.servers.interactive_server import streamable_app

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def tapped(tmp_path: Path, upstream_app: Any) -> AsyncIterator[tuple[InProcessProxy, Tap, Tap]]:
    """`upstream_app` and the proxy in front of it, each behind a tap. Yields (proxy, agent side, upstream
    side); leave the block before reading the audit trail, so every stream has ended."""
    upstream = Tap(upstream_app)
    front: list[Tap] = []

    def wrap(app: Any) -> Tap:
        front.append(Tap(app))
        return front[0]

    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "policy.yaml").write_text((PERMIT_ALL / "permit-all.yaml").read_text().replace(
        "unknown_methods: policy", "unknown_methods: deny"))
    async with serve_asgi(upstream) as base, inprocess_proxy(tmp_path, f"{base}/mcp", wrap=wrap,
                                                             policy=policy) as proxy:
        yield proxy, front[0], upstream


def check(proxy: InProcessProxy, agent_side: Tap, upstream_side: Tap) -> list[dict[str, Any]]:
    """Assert the audit trail accounts for every message exactly once; return the decision events."""
    events = proxy.events()
    problems = account(events, agent_sent=agent_side.sent(), server_sent=upstream_side.answered(),
                       reached_server=upstream_side.sent(), reached_agent=agent_side.answered())
    assert problems == [], "\n".join(problems)
    operations = [(x.method, x.status) for x in agent_side.exchanges if x.method != "POST"]
    audited = [(e["http"]["method"], e["http"]["status"]) for e in events
               if e["jsonrpc"]["kind"] == "http" and e["http"]["method"] != "POST"]
    assert sorted(operations) == sorted(audited)
    return events


def kinds(messages: list[Any]) -> set[tuple[str, str | None]]:
    return {key_of(m)[:2] for m in messages}


async def test_an_interactive_session_and_hostile_input_are_accounted_for(tmp_path: Path) -> None:
    asked: list[str] = []

    async def sampling(_: Any, params: types.CreateMessageRequestParams) -> Any:
        text = getattr(params.messages[0].content, "text", "")
        asked.append(text)
        if text == "fail":
            return types.ErrorData(code=-32000, message="the model is unavailable")
        return types.CreateMessageResult(role="assistant", model="m", content=types.TextContent(type="text", text="hi"))

    async def elicitation(_: Any, params: Any) -> types.ElicitResult:
        return types.ElicitResult(action="accept", content={"answer": "yes"})

    async def roots(_: Any) -> types.ListRootsResult:
        return types.ListRootsResult(roots=[types.Root(uri="file:///work")])

    async def progress(done: float, total: float | None, message: str | None) -> None:
        return None

    async with tapped(tmp_path, streamable_app()) as (proxy, agent_side, upstream_side):
        async with interactive_client(proxy.mcp_url(), read_timeout=FAIL_FAST, sampling_callback=sampling,
                                      elicitation_callback=elicitation, list_roots_callback=roots) as client:
            await client.list_tools()
            assert not (await client.call_tool("echo", {"text": "hello"})).is_error
            assert not (await client.call_tool("ask_llm", {"prompt": "hello"})).is_error
            with contextlib.suppress(MCPError):
                await client.call_tool("ask_llm", {"prompt": "fail"})  # the agent answers with an error
            assert not (await client.call_tool("ask_user", {"question": "ok?"})).is_error
            assert not (await client.call_tool("list_roots", {})).is_error
            assert not (await client.call_tool("slow", {"seconds": 0.25}, progress_callback=progress)).is_error
            leaked = await client.call_tool("leak", {})  # the answer is rewritten (credentials redacted)
            assert "AKIA" not in str(leaked.content)
            with contextlib.suppress(MCPError):
                await client.call_tool("no_such_tool", {})
        async with httpx.AsyncClient(timeout=10) as http:
            live = await handshake(http, proxy.mcp_url())
            url = proxy.mcp_url()
            for body in ({"jsonrpc": "2.0", "id": 50, "method": "debug/eval"},  # refused: unknown method
                         {"jsonrpc": "2.0", "id": 51, "method": "tools/call", "params": {"arguments": {}}},
                         {"jsonrpc": "2.0", "method": "notifications/made_up"},  # refused notification
                         {"jsonrpc": "2.0", "id": "srv-9", "result": {}},  # unsolicited answer
                         {"jsonrpc": "2.0", "id": "srv-10", "error": {"code": 1, "message": "x"}},
                         {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 99}},
                         {"hello": "world"}):  # not JSON-RPC
                await http.post(url, json=body, headers=live)
            await http.post(url, content=b"{not json", headers=live)
            assert (await http.put(url, headers=live)).status_code == 405
            plain = await http.post(url, content=b'{"jsonrpc":"2.0","id":60,"method":"ping"}',
                                    headers={**live, "content-type": "text/plain"})
            assert plain.status_code == 415
            assert (await http.delete(url, headers=live)).status_code in (200, 202, 204)
    events = check(proxy, agent_side, upstream_side)
    assert asked == ["hello", "fail"]
    agent_kinds, server_kinds = kinds(agent_side.sent()), kinds(upstream_side.answered())
    assert {("request", "tools/call"), ("notification", "notifications/initialized"), ("response", None),
            ("error", None), ("invalid", None), ("notification", "notifications/made_up")} <= agent_kinds
    assert {("request", "sampling/createMessage"), ("request", "elicitation/create"), ("request", "roots/list"),
            ("notification", "notifications/progress"), ("response", None)} <= server_kinds
    refused = {e["jsonrpc"]["method"] or e["jsonrpc"]["id"] for e in events if e["verdict"] == "deny"}
    assert {"debug/eval", "tools/call", "notifications/made_up", "srv-9", "srv-10"} <= refused
    verdicts = {(e["direction"], e["origin"], e["verdict"]) for e in events}
    assert {("to_server", "agent", "allow"), ("to_server", "agent", "deny"), ("to_client", "server", "allow"),
            ("to_client", "server", "rewrite")} <= verdicts


async def test_batches_and_proxy_messages_are_accounted_for(tmp_path: Path) -> None:
    async with tapped(tmp_path, RecordingUpstream().app) as (proxy, agent_side, upstream_side), \
            httpx.AsyncClient(timeout=10) as http:
        live = await handshake(http, proxy.mcp_url(), protocol=BATCH_PROTOCOL)
        forwarded = await http.post(proxy.mcp_url(), headers=live, json=[
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo", "arguments": {"a": 1}}},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
            {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": 1, "progress": 1}}])
        refused = await http.post(proxy.mcp_url(), headers=live, json=[
            {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "echo"}},
            {"jsonrpc": "2.0", "id": 4, "method": "made/up"}])
    assert forwarded.status_code == 200 and len(forwarded.json()) == 2
    assert {a["id"] for a in refused.json()} == {3, 4} and all("error" in a for a in refused.json())
    events = check(proxy, agent_side, upstream_side)
    assert [e["verdict"] for e in events if e["jsonrpc"]["id"] in (3, 4)] == ["deny", "deny"]


async def test_the_accounting_notices_a_missing_a_doubled_or_an_invented_event(tmp_path: Path) -> None:
    async with tapped(tmp_path, RecordingUpstream().app) as (proxy, agent_side, upstream_side), \
            httpx.AsyncClient(timeout=10) as http:
        live = await handshake(http, proxy.mcp_url())
        await http.post(proxy.mcp_url(), headers=live, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    events = check(proxy, agent_side, upstream_side)
    seen = {"agent_sent": agent_side.sent(), "server_sent": upstream_side.answered(),
            "reached_server": upstream_side.sent(), "reached_agent": agent_side.answered()}
    answer = next(e for e in events if e["direction"] == "to_client" and e["jsonrpc"]["method"] == "tools/list")
    assert account([e for e in events if e is not answer], **seen) != []
    assert account([*events, answer], **seen) != []
    assert account([*events, {**answer, "origin": "proxy"}], **seen) != []
    denied = [{**e, "verdict": "deny"} if e is answer else e for e in events]
    assert account(denied, **seen) != []  # it arrived although its event refused it
