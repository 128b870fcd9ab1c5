"""What one HTTP request to the proxy knows about its caller, and the headers it may forward."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from proxy.exchange import Exchange
from proxy.mcp_methods import HANDSHAKE_VERSIONS, MODERN_VERSIONS
from proxy.types import Direction, Era, Headers, JsonObject, MessageKind, Origin, RequestId, Transport

if TYPE_CHECKING:
    from proxy.tracing.spans import MessageTrace

# Request headers passed to the upstream (allowlist: credentials, cookies and Origin never pass).
FORWARD_REQUEST_HEADERS = frozenset({
    b"accept", b"content-type", b"mcp-protocol-version", b"mcp-session-id", b"last-event-id",
    b"mcp-method", b"mcp-name", b"traceparent", b"tracestate", b"user-agent",
})
# Response headers passed back to the agent.
FORWARD_RESPONSE_HEADERS = frozenset({
    b"content-type", b"mcp-session-id", b"mcp-protocol-version", b"cache-control", b"retry-after",
})
MCP_PARAM_PREFIX = b"mcp-param-"
ROUTING_HEADERS = frozenset({b"mcp-name"})  # derived from the body: regenerated when the body is rewritten


def forwardable(headers: Headers, extra: Headers) -> Headers:
    """The agent's headers an upstream may see, plus the upstream's own configured credentials."""
    out = [(k, v) for k, v in headers if k in FORWARD_REQUEST_HEADERS or k.startswith(MCP_PARAM_PREFIX)]
    out.extend(extra)
    return out


def answer_headers(headers: Headers) -> Headers:
    return [(k, v) for k, v in headers if k in FORWARD_RESPONSE_HEADERS]


def detect_era(version_header: str | None, session_id: str | None, method: str | None) -> Era:
    """Which protocol era a request belongs to."""
    if version_header in MODERN_VERSIONS or method == "server/discover":
        return Era.MODERN
    if session_id is not None or method == "initialize" or version_header in HANDSHAKE_VERSIONS:
        return Era.HANDSHAKE
    return Era.UNKNOWN


@dataclass(slots=True)
class Pending:
    """A request forwarded to the upstream whose answer this HTTP response will carry."""

    message: JsonObject
    call_id: str | None
    trace: MessageTrace | None = None  # its spans (tracing on): carried to the exchange of its answer


@dataclass(slots=True)
class Call:
    """The caller of one HTTP request and the requests it forwarded (to match answers)."""

    upstream: str
    principal: str
    agent: str | None
    credential_hash: str | None
    session_id: str | None
    era: Era
    client: str | None
    client_key: str | None = None
    trace_id: str | None = None
    user_agent: str | None = None
    requests: dict[RequestId, Pending] = field(default_factory=dict)
    traces: list[MessageTrace] | None = None  # the spans of the messages this request carries (tracing on)

    def exchange(self, direction: Direction, message: JsonObject, raw_size: int, pending: Pending | None = None,
                 *, origin: Origin | None = None, kind: MessageKind | None = None) -> Exchange:
        ex = Exchange(
            direction=direction, message=message, raw_size=raw_size, upstream=self.upstream,
            principal=self.principal, agent=self.agent, session_id=self.session_id, era=self.era,
            transport=Transport.HTTP, client_address=self.client, user_agent=self.user_agent,
            request=pending.message if pending is not None else None, credential_hash=self.credential_hash,
            client_key=self.client_key, call_id=pending.call_id if pending is not None else None,
            trace_id=self.trace_id, origin=origin, forced_kind=kind,
        )
        if pending is not None and pending.trace is not None:
            pending.trace.attach(ex)
        return ex
