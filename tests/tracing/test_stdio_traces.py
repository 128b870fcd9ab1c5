"""Traces of `drawbridge stdio`: the official SDK client launches the proxy, which runs a real stdio server;
trace context travels in `params._meta` (no headers on a pipe), spans reach a real OTLP/HTTP receiver."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path
from typing import cast

import anyio
import pytest
import yaml
from mcp import Client, StdioServerParameters
from mcp_types import RequestParamsMeta

from tests.tracing.receiver import children, otlp_receiver, server_span

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]
REPO = Path(__file__).resolve().parents[2]
DEMO_SERVER = REPO / "tests" / "support" / "servers" / "stdio_demo_server.py"
POLICY = """\
version: 1
settings: {anonymous: false, unknown_methods: deny}
rules:
  - {id: protocol, effect: permit, methods: [initialize, ping, "notifications/*", tools/list]}
  - {id: server-notifications, effect: permit, direction: to_client, methods: ["notifications/*", ping]}
  - {id: echo, effect: permit, methods: [tools/call], names: [echo]}
"""


async def test_stdio_spans_take_their_parent_from_meta_and_are_flushed_when_the_relay_stops(tmp_path: Path) -> None:
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "policy.yaml").write_text(POLICY)
    with otlp_receiver() as receiver:
        config = tmp_path / "drawbridge.yaml"
        config.write_text(yaml.safe_dump({
            "policy": str(tmp_path / "policy"), "audit": {"file": str(tmp_path / "audit.jsonl")},
            "store": f"sqlite:{tmp_path}/state.db",
            "tracing": {"enabled": True, "endpoint": receiver.url, "linger_seconds": 60}}))
        params = StdioServerParameters(command=sys.executable, cwd=str(REPO), args=[
            "-m", "proxy", "stdio", "--config", str(config), "--", sys.executable, str(DEMO_SERVER)])
        with anyio.fail_after(30):
            async with Client(params) as client:
                meta = cast(RequestParamsMeta, {"traceparent": f"00-{trace_id}-{parent}-01"})  # an open bag
                result = await client.call_tool("echo", {"text": "over a pipe"}, meta=meta)
                assert not result.is_error
        # the relay has stopped: its spans were flushed on the way out (linger is 60 s)
        spans = receiver.wait_for(lambda got: server_span(got, trace_id, "tools/call echo") is not None, 10)
    server = server_span(spans, trace_id, "tools/call echo")
    assert server is not None and server.parent_span_id == parent
    assert {k: server.attributes.get(k) for k in ("network.transport", "mcp.method.name", "gen_ai.tool.name",
                                                  "drawbridge.verdict", "drawbridge.upstream")} == {
        "network.transport": "pipe", "mcp.method.name": "tools/call", "gen_ai.tool.name": "echo",
        "drawbridge.verdict": "allow", "drawbridge.upstream": "stdio"}
    [client_span] = children(spans, server)
    assert (client_span.kind, client_span.attributes["network.transport"]) == ("CLIENT", "pipe")
