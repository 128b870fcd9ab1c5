"""No message of any kind, in either direction, crosses the stdio relay without a decision and exactly one
audit event. The relay runs in process with line sinks on both sides, so the test knows every line the
agent and the server sent and every line that reached each of them; `tests.support.one_path.account`
holds the audit trail to that.

Kinds and directions enumerated: agent → server requests (permitted, refused, invalid params), notifications
(permitted, refused, cancellations), the agent's answers to server requests (result, error, unsolicited),
batches (forwarded, refused whole), unparseable lines; server → agent answers (result, rewritten, error,
stray), server requests (sampling, elicitation, roots), notifications, log lines written to stdout, an
over-long answer (replaced by the proxy's own error, which has its own event).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from proxy.config import AuditConfig, Config
from proxy.runtime import Runtime
from proxy.stdio.lines import TooLong
from proxy.stdio.relay import Relay
from tests.stdio.test_relay import Collect, events, request
from tests.support.drawbridge import PERMIT_ALL
from tests.support.one_path import account, key_of, messages_in

pytestmark = pytest.mark.anyio
GITHUB_TOKEN = "ghp_R8dUv3xW1qL9zT6yK2mN5pB7cF4hJ0sA1eG3"


class Sides:
    """The relay with a record of what each side sent (lines fed in) besides what reached it (the sinks)."""

    def __init__(self, relay: Relay, agent: Collect, child: Collect) -> None:
        self.relay, self.agent, self.child = relay, agent, child
        self.agent_sent: list[Any] = []
        self.server_sent: list[Any] = []

    async def agent_says(self, message: Any) -> None:
        line = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.agent_sent.extend(messages_in(line, "application/json"))
        await self.relay.from_agent(line)

    async def server_says(self, message: Any) -> None:
        if isinstance(message, TooLong):
            self.server_sent.append(None)  # an unreadable line is one invalid message
            await self.relay.from_child(message)
            return
        line = message if isinstance(message, bytes) else json.dumps(message).encode()
        self.server_sent.extend(messages_in(line, "application/json"))
        await self.relay.from_child(line)

    def reached(self, sink: Collect) -> list[Any]:
        return [m for line in sink.lines for m in messages_in(line, "application/json")]


@pytest.fixture
async def sides(tmp_path: Path) -> AsyncIterator[tuple[Sides, Path]]:
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "policy.yaml").write_text((PERMIT_ALL / "permit-all.yaml").read_text().replace(
        "unknown_methods: policy", "unknown_methods: deny"))
    audit = tmp_path / "audit.jsonl"
    runtime = Runtime.build(Config(policy=policy, audit=AuditConfig(file=audit), store="sqlite::memory:"),
                            stdout_is_protocol=True)
    await runtime.store.start()
    agent, child = Collect(), Collect()
    yield Sides(Relay(runtime, runtime.config.stdio, agent, child), agent, child), audit
    await runtime.aclose()
    runtime.close()


def call(request_id: int, name: str | None, **arguments: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"arguments": arguments}
    if name is not None:
        params["name"] = name
    return request(request_id, "tools/call", params)


def answer(request_id: int | str, result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def error(request_id: int | str, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32000, "message": message}}


async def test_every_kind_in_both_directions_has_exactly_one_event(sides: tuple[Sides, Path]) -> None:
    s, audit = sides
    await s.agent_says(request(1, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                                 "clientInfo": {"name": "t", "version": "1"}}))
    await s.server_says(answer(1, {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                                   "serverInfo": {"name": "s", "version": "1"}}))
    await s.agent_says({"jsonrpc": "2.0", "method": "notifications/initialized"})
    await s.agent_says(request(2, "tools/list"))
    await s.server_says(answer(2, {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}))
    # a call during which the server asks the agent things back
    await s.agent_says(call(3, "echo", text="a"))
    await s.server_says(request("s1", "sampling/createMessage", {"messages": [], "maxTokens": 5}))
    await s.agent_says(answer("s1", {"role": "assistant", "model": "m", "content": {"type": "text", "text": "hi"}}))
    await s.server_says(request("s2", "elicitation/create", {"message": "ok?", "requestedSchema": {
        "type": "object", "properties": {}}}))
    await s.agent_says(error("s2", "the user closed the dialog"))
    await s.server_says(request("s3", "roots/list"))
    await s.agent_says(answer("s3", {"roots": []}))
    await s.server_says({"jsonrpc": "2.0", "method": "notifications/progress",
                         "params": {"progressToken": 3, "progress": 0.5}})
    await s.server_says({"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "x"}})
    await s.server_says(answer(3, {"content": [{"type": "text", "text": f"token {GITHUB_TOKEN}"}]}))  # redacted
    await s.agent_says(call(4, "echo", text="b"))
    await s.server_says(error(4, "the tool failed"))
    # what the proxy refuses from the agent
    await s.agent_says(request(5, "debug/eval", {"code": "1"}))
    await s.agent_says(call(6, None))
    await s.agent_says({"jsonrpc": "2.0", "method": "notifications/made_up"})
    await s.agent_says(answer("s9", {}))
    await s.agent_says(b"{not json")
    await s.agent_says(b'{"hello": "world"}')
    await s.agent_says([call(7, "echo", text="c"), {"jsonrpc": "2.0", "method": "notifications/progress",
                                                      "params": {"progressToken": 7, "progress": 1}}])
    await s.agent_says([call(8, "echo", text="d"), call(9, None)])  # refused whole
    await s.server_says(answer(7, {"content": []}))
    # what the proxy refuses from the server, and what it says itself
    await s.server_says(answer(77, {}))  # answers nothing in flight
    await s.server_says(b"INFO starting the flux capacitor")  # a log line on stdout
    await s.agent_says(call(10, "echo", text="e"))
    await s.agent_says({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 10}})
    await s.agent_says(call(11, "echo", text="f"))
    await s.server_says(TooLong(10_000_000, b'{"jsonrpc":"2.0","id":11,"result":{"content":[{"type":"text"'))

    trail = events(audit)
    problems = account(trail, agent_sent=s.agent_sent, server_sent=s.server_sent,
                       reached_server=s.reached(s.child), reached_agent=s.reached(s.agent))
    assert problems == [], "\n".join(problems)
    assert GITHUB_TOKEN not in b"".join(s.agent.lines).decode()
    kinds = {(e["direction"], e["origin"], e["jsonrpc"]["kind"], e["verdict"]) for e in trail}
    assert {("to_server", "agent", "request", "allow"), ("to_server", "agent", "request", "deny"),
            ("to_server", "agent", "notification", "allow"), ("to_server", "agent", "notification", "deny"),
            ("to_server", "agent", "response", "allow"), ("to_server", "agent", "response", "deny"),
            ("to_server", "agent", "error", "allow"), ("to_server", "agent", "invalid", "deny"),
            ("to_client", "server", "request", "allow"), ("to_client", "server", "notification", "allow"),
            ("to_client", "server", "response", "allow"), ("to_client", "server", "response", "rewrite"),
            ("to_client", "server", "response", "deny"), ("to_client", "server", "error", "allow"),
            ("to_client", "server", "invalid", "deny"), ("to_client", "proxy", "error", "allow")} <= kinds
    assert {key_of(m)[:2] for m in s.reached(s.child)} >= {("request", "tools/call"), ("response", None),
                                                          ("error", None), ("notification", "notifications/cancelled")}
