"""Traces end to end: the real CLI with the default policy in front of the demo server, a raw MCP agent
sending W3C trace context, and a real OTLP/HTTP receiver taking the spans the proxy exports."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import AUTH, IDENTITY
from tests.support.drawbridge import DEFAULT_POLICY, Drawbridge, run_drawbridge, run_module_server
from tests.support.mcp_http import PROTOCOL, open_session, rpc
from tests.tracing.receiver import OtlpReceiver, ReceivedSpan, children, otlp_receiver, server_span

pytestmark = [pytest.mark.e2e]
TOKEN = "collector-" + secrets.token_hex(8)


def traceparent() -> tuple[str, str, str]:
    """(header value, trace id, parent span id): a fresh sampled context, as an agent's tracer sends it."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as running:
        yield running


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    with run_module_server("proxy.demo.server") as url:
        yield url


@pytest.fixture(scope="module")
def traced(demo_url: str, receiver: OtlpReceiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drawbridge]:
    tracing = {"enabled": True, "endpoint": receiver.url, "linger_seconds": 0.1, "service_name": "drawbridge-e2e",
               "headers": {"authorization": {"env": "DRAWBRIDGE_TRACES_TOKEN"}}}
    with run_drawbridge(tmp_path_factory.mktemp("traced"), {"default": demo_url}, policy=DEFAULT_POLICY,
                        extra={"identity": IDENTITY, "tracing": tracing},
                        env={"DRAWBRIDGE_TRACES_TOKEN": f"Bearer {TOKEN}"}) as proxy:
        yield proxy


@pytest.fixture(scope="module")
def session(traced: Drawbridge) -> dict[str, str]:
    return open_session(traced.mcp_url(), AUTH)


def call(proxy: Drawbridge, headers: dict[str, str], name: str, arguments: dict[str, Any],
         meta: dict[str, str] | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name, "arguments": arguments}
    if meta is not None:
        params["_meta"] = meta
    response, answer = rpc(proxy.mcp_url(), headers, "tools/call", params)
    assert answer is not None, (response.status_code, response.text)
    return answer


def wait_call(receiver: OtlpReceiver, trace_id: str, name: str, *, upstream: bool) -> tuple[ReceivedSpan,
                                                                                            list[ReceivedSpan]]:
    """The SERVER span of a call and its children, once they arrived."""
    def arrived(spans: list[ReceivedSpan]) -> bool:
        found = server_span(spans, trace_id, name)
        return found is not None and (not upstream or bool(children(spans, found)))

    spans = receiver.wait_for(arrived)
    server = server_span(spans, trace_id, name)
    assert server is not None
    return server, children(spans, server)


def test_allowed_call_is_a_server_span_under_the_agents_parent_with_a_client_span_to_the_upstream(
        traced: Drawbridge, session: dict[str, str], receiver: OtlpReceiver, demo_url: str) -> None:
    header, trace_id, parent = traceparent()
    answer = call(traced, {**session, "traceparent": header, "tracestate": "agent=t61rcWkgMzE"}, "get_weather",
                  {"city": "Paris"})
    assert "result" in answer

    server, kids = wait_call(receiver, trace_id, "tools/call get_weather", upstream=True)
    assert (server.parent_span_id, server.status) == (parent, "UNSET")
    attrs = server.attributes
    assert {k: attrs[k] for k in ("mcp.method.name", "gen_ai.tool.name", "gen_ai.operation.name",
                                  "jsonrpc.request.id", "mcp.session.id",
                                  "mcp.protocol.version", "network.transport", "network.protocol.name",
                                  "client.address", "drawbridge.upstream", "drawbridge.verdict",
                                  "drawbridge.rule_ids", "drawbridge.findings.count")} == {
        "mcp.method.name": "tools/call", "gen_ai.tool.name": "get_weather", "gen_ai.operation.name": "execute_tool",
        "jsonrpc.request.id": str(answer["id"]), "mcp.session.id": session["mcp-session-id"],
        "mcp.protocol.version": PROTOCOL, "network.transport": "tcp",
        "network.protocol.name": "http", "client.address": "127.0.0.1", "drawbridge.upstream": "default",
        "drawbridge.verdict": "allow", "drawbridge.rule_ids": ["read-only-tools"], "drawbridge.findings.count": 0}
    assert isinstance(attrs["client.port"], int) and attrs["drawbridge.policy_version"]
    assert "jsonrpc.protocol.version" not in attrs  # recorded only when it is not 2.0
    assert "Paris" not in repr(server.attributes)  # argument values never go into spans

    [client] = kids
    port = int(demo_url.rsplit(":", 1)[1].split("/")[0])
    assert (client.kind, client.name, client.status) == ("CLIENT", "tools/call get_weather", "UNSET")
    assert {k: client.attributes[k] for k in ("server.address", "server.port", "mcp.method.name",
                                              "gen_ai.tool.name", "jsonrpc.request.id")} == {
        "server.address": "127.0.0.1", "server.port": port, "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "get_weather", "jsonrpc.request.id": str(answer["id"])}
    assert server.resource["service.name"] == "drawbridge-e2e"
    assert all(h.get("authorization") == f"Bearer {TOKEN}" for h in receiver.export_headers)  # from the secret

    event = next(e for e in traced.events() if e["jsonrpc"]["id"] == answer["id"] and e["direction"] == "to_server")
    assert event["trace_id"] == trace_id  # the audit event names the same trace


def test_policy_refusal_is_an_error_span_and_nothing_goes_upstream(
        traced: Drawbridge, session: dict[str, str], receiver: OtlpReceiver) -> None:
    header, trace_id, parent = traceparent()
    answer = call(traced, {**session, "traceparent": header}, "delete_note", {"note_id": 1})
    assert answer["error"]["code"] == -32050

    server, kids = wait_call(receiver, trace_id, "tools/call delete_note", upstream=False)
    assert (server.parent_span_id, server.status) == (parent, "ERROR")
    assert {k: server.attributes.get(k) for k in ("drawbridge.verdict", "drawbridge.rule_ids", "error.type",
                                                  "rpc.response.status_code", "drawbridge.check")} == {
        "drawbridge.verdict": "deny", "drawbridge.rule_ids": ["default-deny"], "error.type": "-32050",
        "rpc.response.status_code": "-32050", "drawbridge.check": "policy"}
    assert kids == []  # refused on the way in: no upstream call


def test_refused_answer_marks_the_server_span_while_the_upstream_call_succeeded(
        traced: Drawbridge, session: dict[str, str], receiver: OtlpReceiver) -> None:
    header, trace_id, _ = traceparent()
    answer = call(traced, {**session, "traceparent": header}, "search_notes", {"query": "vendor"})
    assert "error" in answer  # the note carries an injection: the content check refuses the answer

    server, [client] = wait_call(receiver, trace_id, "tools/call search_notes", upstream=True)
    attrs = server.attributes
    assert (attrs["drawbridge.verdict"], server.status, attrs["error.type"]) == (
        "deny", "ERROR", str(answer["error"]["code"]))
    assert attrs["drawbridge.findings.count"] >= 1 and attrs["drawbridge.severity"].startswith("SEV-")
    assert "read-only-tools" in attrs["drawbridge.rule_ids"]  # the request's permit, and the answer's verdict
    assert (client.status, "error.type" in client.attributes) == ("UNSET", False)


def test_meta_traceparent_is_the_parent_when_no_header_carries_one(
        traced: Drawbridge, session: dict[str, str], receiver: OtlpReceiver) -> None:
    meta, trace_id, parent = traceparent()
    call(traced, session, "get_weather", {"city": "Oslo"}, meta={"traceparent": meta})

    server, _ = wait_call(receiver, trace_id, "tools/call get_weather", upstream=True)
    assert server.parent_span_id == parent


def test_header_wins_over_meta_which_is_linked(
        traced: Drawbridge, session: dict[str, str], receiver: OtlpReceiver) -> None:
    header, trace_id, parent = traceparent()
    meta, meta_trace, meta_span = traceparent()
    call(traced, {**session, "traceparent": header}, "get_weather", {"city": "Rome"}, meta={"traceparent": meta})

    server, _ = wait_call(receiver, trace_id, "tools/call get_weather", upstream=True)
    assert (server.parent_span_id, server.links) == (parent, ((meta_trace, meta_span),))
    assert not [s for s in receiver.received() if s.trace_id == meta_trace]
