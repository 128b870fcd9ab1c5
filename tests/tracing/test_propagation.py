"""Trace context handed on to the upstream, sampling and shutdown: an in-process proxy in front of a
recording upstream (the exact headers and bytes it received), a real OTLP/HTTP receiver for the spans."""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.inprocess import InProcessProxy, RecordingUpstream, handshake, inprocess_proxy, serve_asgi
from tests.tracing.receiver import OtlpReceiver, ReceivedSpan, otlp_receiver

pytestmark = [pytest.mark.anyio]
STRIP_ARGUMENTS = """\
settings:
  anonymous: true
  unknown_methods: policy
  content:
    surfaces:
      tool_arguments: {unicode: strip}
rules:
  - {id: everything, effect: permit, methods: ["*"]}
  - {id: everything-back, effect: permit, direction: to_client, methods: ["*"]}
"""


def traceparent(flags: str = "01") -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-{flags}", trace_id, span_id


def tool_call(request_id: int, text: str, meta: dict[str, str] | None = None) -> bytes:
    params: dict[str, Any] = {"name": "echo", "arguments": {"text": text}}
    if meta is not None:
        params["_meta"] = meta
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}).encode()


@contextlib.asynccontextmanager
async def traced(tmp_path: Path, receiver: OtlpReceiver, **tracing: Any) -> AsyncIterator[
        tuple[InProcessProxy, RecordingUpstream]]:
    """A recording upstream behind an in-process proxy exporting to `receiver`; closing it flushes the spans."""
    policy = tmp_path / "policy"
    policy.mkdir(exist_ok=True)
    (policy / "policy.yaml").write_text(STRIP_ARGUMENTS)
    upstream = RecordingUpstream()
    config = {"enabled": True, "endpoint": receiver.url, "linger_seconds": 60, **tracing}
    async with serve_asgi(upstream.app) as base, inprocess_proxy(tmp_path, f"{base}/mcp", policy=policy,
                                                                 extra={"tracing": config}) as proxy:
        yield proxy, upstream


def upstream_call(upstream: RecordingUpstream, request_id: int) -> tuple[dict[str, str], bytes]:
    """Headers and body of the POST that carried tools/call `request_id` to the upstream."""
    for request in upstream.requests:
        if request.body.strip() and any(m.get("id") == request_id and m.get("method") == "tools/call"
                                        for m in _messages(request.body)):
            return request.headers, request.body
    raise AssertionError(f"tools/call {request_id} never reached the upstream")


def _messages(body: bytes) -> list[dict[str, Any]]:
    parsed = json.loads(body)
    return parsed if isinstance(parsed, list) else [parsed]


def span_of(spans: list[ReceivedSpan], kind: str, request_id: int) -> ReceivedSpan:
    [found] = [s for s in spans if s.kind == kind and s.attributes.get("jsonrpc.request.id") == str(request_id)
               and s.name == "tools/call echo"]
    return found


async def test_upstream_gets_the_agents_trace_with_the_proxys_client_span_as_parent(tmp_path: Path) -> None:
    header, trace_id, parent = traceparent()
    with otlp_receiver() as receiver:
        async with traced(tmp_path, receiver) as (proxy, upstream), httpx.AsyncClient(timeout=10) as http:
            live = await handshake(http, proxy.mcp_url())
            plain = tool_call(41, "plain text")
            answer = await http.post(proxy.mcp_url(), content=plain,
                                     headers={**live, "traceparent": header, "tracestate": "agent=1"})
            assert answer.json()["result"]["content"][0]["text"] == 'echo: {"text": "plain text"}'
            seen_headers, seen_body = upstream_call(upstream, 41)
        # the proxy is closed: its last spans were flushed on the way out (linger is 60 s)
        spans = receiver.received()
    server, client = span_of(spans, "SERVER", 41), span_of(spans, "CLIENT", 41)
    assert (server.trace_id, server.parent_span_id) == (trace_id, parent)
    assert (client.trace_id, client.parent_span_id) == (trace_id, server.span_id)
    # the agent's traceparent is replaced by the client span's: the upstream's own spans nest under ours
    assert seen_headers["traceparent"] == f"00-{trace_id}-{client.span_id}-01"
    assert seen_headers["tracestate"] == "agent=1"
    assert seen_body == plain  # not re-serialised for tracing: the original bytes, no `_meta` added


async def test_a_rewritten_message_carries_the_context_in_meta_too(tmp_path: Path) -> None:
    meta, trace_id, parent = traceparent()
    with otlp_receiver() as receiver:
        async with traced(tmp_path, receiver) as (proxy, upstream), httpx.AsyncClient(timeout=10) as http:
            live = await handshake(http, proxy.mcp_url())
            answer = await http.post(proxy.mcp_url(), content=tool_call(42, "zero\u200bwidth", {"traceparent": meta,
                                                                                              "app": "kept"}),
                                     headers=live)
            assert "result" in answer.json()
            seen_headers, seen_body = upstream_call(upstream, 42)
        spans = receiver.received()
    server, client = span_of(spans, "SERVER", 42), span_of(spans, "CLIENT", 42)
    assert (server.trace_id, server.parent_span_id, server.attributes["drawbridge.verdict"]) == (
        trace_id, parent, "rewrite")
    [forwarded] = _messages(seen_body)
    assert forwarded["params"]["arguments"] == {"text": "zerowidth"}  # the rewrite itself
    assert forwarded["params"]["_meta"] == {"traceparent": f"00-{trace_id}-{client.span_id}-01", "app": "kept"}
    assert seen_headers["traceparent"] == forwarded["params"]["_meta"]["traceparent"]


async def test_sampling_follows_the_parent_and_the_ratio_for_new_traces(tmp_path: Path) -> None:
    sampled, sampled_trace, _ = traceparent("01")
    with otlp_receiver() as receiver:
        async with traced(tmp_path, receiver, sample_ratio=0.0) as (proxy, upstream), \
                httpx.AsyncClient(timeout=10) as http:
            live = await handshake(http, proxy.mcp_url())
            await http.post(proxy.mcp_url(), content=tool_call(43, "root"), headers=live)
            await http.post(proxy.mcp_url(), content=tool_call(44, "child"), headers={**live, "traceparent": sampled})
            root_headers, _ = upstream_call(upstream, 43)
            event = next(e for e in proxy.events() if e["jsonrpc"]["id"] == 43 and e["direction"] == "to_server")
        spans = receiver.received()
    assert [s.kind for s in spans if s.trace_id == sampled_trace] == ["CLIENT", "SERVER"]  # the parent sampled it
    assert not [s for s in spans if s.attributes.get("jsonrpc.request.id") == "43"]  # ratio 0: a new trace is not
    # even unsampled, the upstream and the audit event learn the trace (the sampled flag is off)
    version, trace_id, _, flags = root_headers["traceparent"].split("-")
    assert (version, trace_id, int(flags, 16) & 1) == ("00", event["trace_id"], 0)


async def test_disabled_tracing_exports_nothing_starts_no_thread_and_forwards_the_agents_context(
        tmp_path: Path) -> None:
    header, _, _ = traceparent()
    before = {t.ident for t in threading.enumerate()}
    with otlp_receiver() as receiver:
        async with traced(tmp_path, receiver, enabled=False) as (proxy, upstream), \
                httpx.AsyncClient(timeout=10) as http:
            assert proxy.runtime.tracing is None
            live = await handshake(http, proxy.mcp_url())
            await http.post(proxy.mcp_url(), content=tool_call(45, "quiet"), headers={**live, "traceparent": header})
            seen_headers, _ = upstream_call(upstream, 45)
            started = [t.name for t in threading.enumerate() if t.ident not in before]
        assert receiver.received() == [] and receiver.export_headers == []
    assert not [name for name in started if name.startswith("OtelBatch")]
    assert seen_headers["traceparent"] == header  # passed through as the agent sent it
