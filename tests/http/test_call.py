"""What one HTTP request forwards upstream, which era it is in, and the exchanges it builds."""

from __future__ import annotations

import pytest

from proxy.http.call import Call, Pending, answer_headers, detect_era, forwardable
from proxy.testing import request_message
from proxy.types import Direction, Era, Headers, MessageKind, Transport

AGENT_HEADERS: Headers = [
    (b"host", b"127.0.0.1:8080"),
    (b"authorization", b"Bearer agent-token"),
    (b"cookie", b"session=abc"),
    (b"x-api-key", b"dbk_agent"),
    (b"origin", b"http://localhost:3000"),
    (b"proxy-authorization", b"Basic xyz"),
    (b"content-length", b"10"),
    (b"x-forwarded-for", b"1.2.3.4"),
    (b"accept", b"application/json, text/event-stream"),
    (b"content-type", b"application/json"),
    (b"mcp-protocol-version", b"2026-07-28"),
    (b"mcp-session-id", b"sess-1"),
    (b"mcp-method", b"tools/call"),
    (b"mcp-name", b"get_weather"),
    (b"mcp-param-region", b"eu"),
    (b"last-event-id", b"42"),
    (b"traceparent", b"00-abc-def-01"),
    (b"user-agent", b"agent/1.0"),
]
UPSTREAM_CREDENTIALS: Headers = [(b"authorization", b"Bearer upstream-secret")]


def test_credentials_cookies_and_origin_never_forwarded() -> None:
    out = forwardable(AGENT_HEADERS, [])
    names = {k for k, _ in out}
    for refused in (b"authorization", b"cookie", b"x-api-key", b"origin", b"proxy-authorization", b"host",
                    b"content-length", b"x-forwarded-for"):
        assert refused not in names
    assert b"agent-token" not in b"".join(v for _, v in out)


def test_protocol_headers_forwarded() -> None:
    out = dict(forwardable(AGENT_HEADERS, []))
    for name in (b"accept", b"content-type", b"mcp-protocol-version", b"mcp-session-id", b"mcp-method",
                 b"mcp-name", b"mcp-param-region", b"last-event-id", b"traceparent", b"user-agent"):
        assert name in out
    assert out[b"mcp-param-region"] == b"eu"


def test_configured_upstream_credentials_are_added() -> None:
    out = forwardable(AGENT_HEADERS, UPSTREAM_CREDENTIALS)
    assert [v for k, v in out if k == b"authorization"] == [b"Bearer upstream-secret"]


def test_answer_headers_allowlist() -> None:
    upstream: Headers = [(b"content-type", b"text/event-stream"), (b"mcp-session-id", b"s"),
                         (b"set-cookie", b"a=b"), (b"www-authenticate", b"Bearer"), (b"cache-control", b"no-cache"),
                         (b"server", b"x"), (b"retry-after", b"5"), (b"mcp-protocol-version", b"2025-11-25")]
    assert answer_headers(upstream) == [(b"content-type", b"text/event-stream"), (b"mcp-session-id", b"s"),
                                        (b"cache-control", b"no-cache"), (b"retry-after", b"5"),
                                        (b"mcp-protocol-version", b"2025-11-25")]


@pytest.mark.parametrize(("version", "session", "method", "era"), [
    ("2026-07-28", None, "tools/list", Era.MODERN),
    (None, None, "server/discover", Era.MODERN),
    ("2026-07-28", "s", "tools/list", Era.MODERN),
    (None, None, "initialize", Era.HANDSHAKE),
    (None, "sess-1", "tools/list", Era.HANDSHAKE),
    ("2025-11-25", None, "tools/list", Era.HANDSHAKE),
    ("2024-11-05", None, None, Era.HANDSHAKE),
    ("2025-03-26", None, "ping", Era.HANDSHAKE),
    ("2025-06-18", None, "ping", Era.HANDSHAKE),
    (None, None, "tools/list", Era.UNKNOWN),
    ("1999-01-01", None, "ping", Era.UNKNOWN),
    (None, None, None, Era.UNKNOWN),
])
def test_detect_era(version: str | None, session: str | None, method: str | None, era: Era) -> None:
    assert detect_era(version, session, method) is era


def test_call_builds_exchanges_with_its_identity() -> None:
    call = Call(upstream="notes", principal="alice", agent="claude", credential_hash="h", session_id="s-1",
                era=Era.HANDSHAKE, client="10.0.0.1")
    request = request_message("tools/call", {"name": "t"}, 5)
    ex = call.exchange(Direction.TO_SERVER, request, 99)
    assert (ex.upstream, ex.principal, ex.agent, ex.session_id, ex.era) == ("notes", "alice", "claude", "s-1",
                                                                            Era.HANDSHAKE)
    assert ex.client_address == "10.0.0.1"
    assert ex.credential_hash == "h"
    assert ex.transport is Transport.HTTP
    assert ex.raw_size == 99
    assert ex.kind is MessageKind.REQUEST
    answer = call.exchange(Direction.TO_CLIENT, {"jsonrpc": "2.0", "id": 5, "result": {}}, 10,
                           Pending(request, "call-5"))
    assert answer.call_id == "call-5" and answer.client_key is None
    assert answer.method == "tools/call"
    assert answer.tool_name == "t"
    assert call.requests == {}
