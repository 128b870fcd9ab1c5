"""The HTTP data plane in process: the real proxy app and real upstreams served in the test's own event
loop (`tests.support.inprocess`), driven by the official SDK client or raw HTTP. Each test states what
an agent (or the upstream, or the audit trail) would see."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import mcp_types as types
import pytest
from mcp.shared.exceptions import MCPError

from proxy.state.model import Quarantine
from tests.e2e.conftest import AUTH, IDENTITY
from tests.support.drawbridge import DEFAULT_POLICY
from tests.support.inprocess import (
    ACCEPT,
    InProcessProxy,
    RecordingASGI,
    RecordingUpstream,
    handshake,
    inprocess_proxy,
    interactive_client,
    serve_asgi,
)
from tests.support.sdk import sdk_client
from tests.support.servers.interactive_server import LEAKED_KEY_ID, LEAKED_SECRET, Observed, streamable_app

pytestmark = pytest.mark.anyio
QUARANTINED = -32053
BATCH_PROTOCOL = "2025-03-26"  # the last protocol version with JSON-RPC batches
FAIL_FAST = 5.0  # SDK read timeout: a relay that broke fails the test instead of hanging it


def _text(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in getattr(result, "content", []))


def _rpc(event: dict[str, Any]) -> dict[str, Any] | None:
    """The `jsonrpc` part of a decision event about a JSON-RPC message; None for HTTP operations (GET
    stream, DELETE), whichever way the schema marks those (`jsonrpc: null` or `kind: http`)."""
    rpc = event.get("jsonrpc")
    return rpc if isinstance(rpc, dict) and rpc.get("kind") not in (None, "http") else None


def _messages(events: list[dict[str, Any]], method: str | None = None, *, direction: str | None = None,
              kind: str | None = None) -> list[dict[str, Any]]:
    """Decision events about JSON-RPC messages, optionally of one method, direction and kind."""
    return [e for e in events if (rpc := _rpc(e)) is not None and method in (None, rpc["method"])
            and direction in (None, e["direction"]) and kind in (None, rpc["kind"])]


def _rows(proxy: InProcessProxy) -> list[tuple[str, str, str | None, Any]]:
    """(direction, kind, method, id) of every decision event about a JSON-RPC message."""
    return [(e["direction"], e["jsonrpc"]["kind"], e["jsonrpc"]["method"], e["jsonrpc"]["id"])
            for e in _messages(proxy.events())]


async def _until(condition: Callable[[], bool], seconds: float) -> bool:
    """Poll `condition` until it holds (True) or `seconds` pass (False)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


@contextlib.asynccontextmanager
async def interactive(tmp_path: Path, **kwargs: Any) -> AsyncIterator[tuple[InProcessProxy, Observed, RecordingASGI]]:
    """The interactive SDK server (recorded) behind an in-process proxy."""
    observed = Observed()
    upstream = RecordingASGI(streamable_app(observed))
    async with serve_asgi(upstream) as base, inprocess_proxy(tmp_path, f"{base}/mcp", **kwargs) as proxy:
        yield proxy, observed, upstream


@contextlib.asynccontextmanager
async def recording(tmp_path: Path, **kwargs: Any) -> AsyncIterator[tuple[InProcessProxy, RecordingUpstream]]:
    """The scripted recording upstream (answers batches) behind an in-process proxy."""
    upstream = RecordingUpstream()
    async with serve_asgi(upstream.app) as base, inprocess_proxy(tmp_path, f"{base}/mcp", **kwargs) as proxy:
        yield proxy, upstream


# -- an SDK client through the proxy: every message audited once ----------------------------------
async def test_sdk_client_lists_and_calls_and_every_message_is_audited_once(tmp_path: Path) -> None:
    async with interactive(tmp_path) as (proxy, _, upstream):
        async with sdk_client(proxy.mcp_url(), mode="legacy", read_timeout=FAIL_FAST) as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            result = await client.call_tool("echo", {"text": "hello through the proxy"})
        rows = _rows(proxy)
    assert {"echo", "ask_llm", "ask_user", "list_roots", "slow", "leak"} <= names
    assert _text(result) == "hello through the proxy" and not result.is_error
    assert {(d, k, m) for d, k, m, _ in rows} == {
        ("to_server", "request", "initialize"), ("to_client", "response", "initialize"),
        ("to_server", "notification", "notifications/initialized"),
        ("to_server", "request", "tools/list"), ("to_client", "response", "tools/list"),
        ("to_server", "request", "tools/call"), ("to_client", "response", "tools/call"),
    }
    twice = [row for row, n in Counter(rows).items() if n > 1]
    assert twice == [], f"messages audited more than once: {twice}"
    # one event per message that crossed: each request the upstream got has its event, and one answer
    reached = [(m["method"], m.get("id")) for m in upstream.messages()]
    audited = [(m, i) for d, k, m, i in rows if d == "to_server"]
    assert sorted(reached, key=str) == sorted(audited, key=str)
    requests = {(m, i) for d, k, m, i in rows if k == "request"}
    answers = {(m, i) for d, k, m, i in rows if k == "response"}
    assert requests == answers


# -- forwarding: the agent's bytes, untouched -------------------------------------------------------
ODD_BODY = (b'{ "params" : { "arguments" : {"text":"\\u0041\\u00e9 \\ud83d\\ude00" ,"n" : 1.50},\n'
            b'   "name" : "echo" },  "id":7 , "method" :"tools/call",\t"jsonrpc": "2.0" }')


async def test_original_bytes_are_forwarded_when_nothing_is_rewritten(tmp_path: Path) -> None:
    async with recording(tmp_path) as (proxy, upstream), httpx.AsyncClient(timeout=10) as http:
        live = await handshake(http, proxy.mcp_url())
        answer = await http.post(proxy.mcp_url(), content=ODD_BODY, headers=live)
        events = proxy.events()
    assert answer.status_code == 200
    body = answer.json()
    assert body["id"] == 7
    assert body["result"]["content"][0]["text"] == "echo: " + json.dumps({"n": 1.5, "text": "Aé 😀"}, sort_keys=True)
    calls = [r for r in upstream.requests if b"tools/call" in r.body]
    assert len(calls) == 1 and calls[0].body == ODD_BODY  # byte for byte: spacing, key order, escapes
    call_event, = _messages(events, "tools/call", direction="to_server")
    assert call_event["verdict"] == "allow" and call_event["request_bytes"] == len(ODD_BODY)


# -- batches: all or nothing ------------------------------------------------------------------------
def _call(call_id: int, tool: str, **arguments: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": call_id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}


async def test_batch_is_forwarded_as_one_and_both_are_answered(tmp_path: Path) -> None:
    batch = json.dumps([_call(1, "echo", text="one"), _call(2, "get_weather", city="Oslo")]).encode()
    async with recording(tmp_path) as (proxy, upstream), httpx.AsyncClient(timeout=10) as http:
        live = await handshake(http, proxy.mcp_url(), protocol=BATCH_PROTOCOL)
        before = len(upstream.requests)
        answer = await http.post(proxy.mcp_url(), content=batch, headers=live)
    assert answer.status_code == 200
    answers = {a["id"]: a for a in answer.json()}
    assert answers[1]["result"]["content"][0]["text"] == 'echo: {"text": "one"}'
    assert answers[2]["result"]["content"][0]["text"] == 'get_weather: {"city": "Oslo"}'
    forwarded = upstream.requests[before:]
    assert len(forwarded) == 1 and forwarded[0].body == batch  # one POST, the batch as the agent sent it


async def test_batch_with_one_refused_member_is_refused_whole(tmp_path: Path) -> None:
    batch = json.dumps([_call(1, "get_weather", city="Oslo"), _call(2, "delete_all")]).encode()
    async with recording(tmp_path, policy=DEFAULT_POLICY, extra={"identity": IDENTITY}) as (proxy, upstream), \
            httpx.AsyncClient(timeout=10) as http:
        live = await handshake(http, proxy.mcp_url(), AUTH, protocol=BATCH_PROTOCOL)
        before = len(upstream.requests)
        alone = await http.post(proxy.mcp_url(), json=_call(3, "get_weather", city="Oslo"), headers=live)
        after_alone = len(upstream.requests)
        answer = await http.post(proxy.mcp_url(), content=batch, headers=live)
        await asyncio.sleep(0.1)  # nothing may trickle upstream afterwards either
        reached = upstream.requests[after_alone:]
        events = [e for e in _messages(proxy.events(), "tools/call", direction="to_server")
                  if e["jsonrpc"]["id"] in (1, 2)]
    assert "result" in alone.json() and after_alone == before + 1  # the permitted tool does work alone
    answers = {a["id"]: a for a in answer.json()}
    assert set(answers) == {1, 2} and all("error" in a and "result" not in a for a in answers.values())
    assert "batch refused" in answers[1]["error"]["message"]
    assert reached == []
    by_id = {e["jsonrpc"]["id"]: e for e in events}
    assert by_id[1]["verdict"] == by_id[2]["verdict"] == "deny"
    assert by_id[1]["check"] == "batch" and "default-deny" in by_id[2]["rule_ids"]


# -- server-initiated requests, relayed both ways over the call's SSE stream ------------------------
async def test_sampling_elicitation_and_roots_are_relayed_to_the_client_and_back(tmp_path: Path) -> None:
    asked: dict[str, Any] = {}

    async def sampling(_: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        asked["prompt"] = params.messages[0].content.text  # type: ignore[union-attr]
        return types.CreateMessageResult(role="assistant", model="fake-llm",
                                         content=types.TextContent(type="text", text="forty-two"))

    async def elicitation(_: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked["question"] = params.message
        return types.ElicitResult(action="accept", content={"answer": "blue"})

    async def roots(_: Any) -> types.ListRootsResult:
        root = types.Root.model_validate({"uri": "file:///work/project", "name": "project"})
        return types.ListRootsResult(roots=[root])

    async with interactive(tmp_path) as (proxy, _, _upstream), interactive_client(
            proxy.mcp_url(), sampling_callback=sampling, elicitation_callback=elicitation,
            list_roots_callback=roots, read_timeout=FAIL_FAST) as client:
        llm = await client.call_tool("ask_llm", {"prompt": "What is 6 x 7?"})
        user = await client.call_tool("ask_user", {"question": "Favourite colour?"})
        listed = await client.call_tool("list_roots", {})
        events = proxy.events()
    assert (_text(llm), _text(user), _text(listed)) == ("forty-two", "accept: blue", "file:///work/project")
    assert asked == {"prompt": "What is 6 x 7?", "question": "Favourite colour?"}
    for method in ("sampling/createMessage", "elicitation/create", "roots/list"):
        asks = _messages(events, method, direction="to_client", kind="request")
        answers = _messages(events, method, direction="to_server", kind="response")
        assert len(asks) == 1 and len(answers) == 1, method
        assert asks[0]["verdict"] == answers[0]["verdict"] == "allow"
        assert asks[0]["jsonrpc"]["id"] == answers[0]["jsonrpc"]["id"]
        assert asks[0]["origin"] == "server" and answers[0]["origin"] == "agent"


# -- content rewrite: a leaked secret never reaches the agent ---------------------------------------
async def test_leaked_secret_is_redacted_and_audited_as_a_rewrite(tmp_path: Path) -> None:
    async with interactive(tmp_path) as (proxy, _, _upstream):
        async with sdk_client(proxy.mcp_url(), mode="legacy", read_timeout=FAIL_FAST) as client:
            result = await client.call_tool("leak", {})
        events = proxy.events()
    text = _text(result)
    assert "region=eu-west-1" in text and "REDACTED" in text
    assert LEAKED_KEY_ID not in text and LEAKED_SECRET not in text
    answer = _messages(events, "tools/call", direction="to_client", kind="response")
    assert len(answer) == 1
    assert answer[0]["verdict"] == "rewrite" and answer[0]["tool"] == "leak" and answer[0]["rewrites"]


# -- containment: a running call is killed at once ---------------------------------------------------
async def test_quarantine_kills_a_running_call_and_cancels_it_upstream(tmp_path: Path) -> None:
    outcome: dict[str, Any] = {}

    async def long_call(proxy: InProcessProxy) -> None:
        async with interactive_client(proxy.mcp_url(), headers=AUTH, read_timeout=8) as client:
            try:
                outcome["result"] = await client.call_tool("slow", {"seconds": 5})
            except MCPError as exc:
                outcome["error"] = exc.error
            outcome["at"] = time.monotonic()

    async with interactive(tmp_path, extra={"identity": IDENTITY}) as (proxy, observed, upstream):
        task = asyncio.create_task(long_call(proxy))
        try:
            assert await _until(lambda: bool(observed.started) or task.done(), 5) and not task.done(), \
                f"slow never started upstream: {outcome}"
            issued = time.monotonic()
            await proxy.runtime.store.put_quarantine(Quarantine("principal", "alice", "block", "runaway agent",
                                                                "test", ticket="IR-7"))
            done, _ = await asyncio.wait({task}, timeout=3)
            assert done, "the running call was not cut short within 3 s of the quarantine"
            task.result()
        finally:
            task.cancel()
        await _until(lambda: bool(upstream.messages("notifications/cancelled") and observed.cancelled), 3)
        call_ids = [m["id"] for m in upstream.messages("tools/call")]
        cancels = upstream.messages("notifications/cancelled")
        events = proxy.events()
    assert "result" not in outcome, "the call ran to completion"
    assert outcome["error"].code == QUARANTINED
    assert "IR-7" in outcome["error"].message and "runaway" not in outcome["error"].message
    assert outcome["at"] - issued < 1.5  # killed at once, not left to run its 5 s
    assert [c["params"]["requestId"] for c in cancels] == call_ids  # the upstream was told
    assert observed.cancelled == [5] and observed.finished == []  # and stopped working
    killed = [e for e in _messages(events, "tools/call", direction="to_client") if e["error_code"] == QUARANTINED]
    assert len(killed) == 1 and killed[0]["origin"] == "proxy"


# -- the admin API of an in-process proxy -------------------------------------------------------------
async def test_admin_quarantine_refuses_new_sessions_until_released(tmp_path: Path) -> None:
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    async with recording(tmp_path, extra={"identity": IDENTITY}, admin=True) as (proxy, upstream), \
            proxy.admin() as admin, httpx.AsyncClient(timeout=10) as http:
        live = await handshake(http, proxy.mcp_url(), AUTH)
        before = await http.post(proxy.mcp_url(), json=_call(1, "echo", text="a"), headers=live)
        stored = await admin.post("/v1/quarantines", json={"kind": "principal", "subject": "alice",
                                                            "reason": "triage", "ticket": "IR-8"})
        # count handshakes, not HTTP requests: containment's own DELETE of the old session may reach it
        inits_then = len(upstream.messages("initialize"))
        during = await http.post(proxy.mcp_url(), json=init, headers={**ACCEPT, **AUTH})
        inits_during = len(upstream.messages("initialize")) - inits_then
        released = await admin.post("/v1/quarantines/release", json={"kind": "principal", "subject": "alice",
                                                                      "reason": "done"})
        fresh = await handshake(http, proxy.mcp_url(), AUTH)
        after = await http.post(proxy.mcp_url(), json=_call(3, "echo", text="c"), headers=fresh)
        unauthorized = await admin.get("/v1/status", headers={"authorization": "Bearer wrong"})
    assert "result" in before.json()
    assert stored.status_code < 300, stored.text
    assert during.json()["error"]["code"] == QUARANTINED and "IR-8" in during.json()["error"]["message"]
    assert inits_during == 0  # the refused handshake never reached the upstream
    assert released.status_code < 300, released.text
    assert after.json()["result"]["content"][0]["text"] == 'echo: {"text": "c"}'
    assert unauthorized.status_code == 401
