"""The data plane's shared state: runtime, identity, upstream pools, and the proxy's own messages.

Every answer the proxy gives on its own (a refusal before any message could be decided, an error in place
of a killed call, a cancellation sent upstream) is recorded through the pipeline as a decision with
`origin: proxy`, in the same event shape as every other message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from proxy.config import Config, UpstreamConfig
from proxy.containment.revocation import TokenRevoker
from proxy.decision import Decision
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.http.asgi import Scope, Send, send_json
from proxy.http.call import Call, Pending, forwardable
from proxy.http.forwarded import TrustedProxies
from proxy.http.guard import HostOriginGuard
from proxy.http.live import LiveCalls
from proxy.http.readiness import Readiness, UpstreamProbe
from proxy.identity import Authenticator, AuthFailure, protected_resources
from proxy.jsonrpc import dumps, error_response
from proxy.runtime import Runtime
from proxy.state.codec import StoreUnavailable
from proxy.tracecontext import trace_id
from proxy.types import Direction, Era, Headers, JsonObject, MessageKind, Origin, Transport, Verdict
from proxy.upstream import UpstreamError, UpstreamPool, UpstreamResponse, UpstreamUnavailable
from proxy.upstream.outbound import outbound_pool

log = logging.getLogger("drawbridge.http")
ANONYMOUS = "anonymous"
SIDE_CALL_TIMEOUT = 5.0
STORE_DOWN = "shared state unavailable; refused (fail closed)"


@dataclass
class Upstream:
    """One configured upstream with its pool and its own credentials (never the agent's)."""

    name: str
    pool: UpstreamPool
    target: bytes
    headers: Headers
    timeout: float
    probe: UpstreamProbe

    @classmethod
    def from_config(cls, cfg: UpstreamConfig) -> Upstream:
        pool = outbound_pool(cfg.name, cfg.url, connect_timeout=cfg.connect_timeout_seconds, tls=cfg.tls,
                             proxy=cfg.proxy)  # its TLS context and proxy: ConfigError (one line) if unusable
        headers = [(k.lower().encode("latin-1"), src.resolve(f"upstream {cfg.name} header {k}").encode("latin-1"))
                   for k, src in cfg.headers.items()]
        return cls(cfg.name, pool, pool.base_path, headers, cfg.timeout_seconds,
                   UpstreamProbe(cfg.name, cfg.url, pool.probe, cfg.connect_timeout_seconds))

    async def send(self, method: str, agent_headers: Headers, body: bytes) -> UpstreamResponse:
        """Forward a request with the agent's allowlisted headers and this upstream's credentials (what it
        tells of the upstream's reachability goes to its probe)."""
        try:
            response = await self.pool.request(method, self.target, forwardable(agent_headers, self.headers), body,
                                               timeout=self.timeout)
        except UpstreamUnavailable:
            self.probe.observed(False)
            raise
        self.probe.observed(True)
        return response


def client_address(scope: Scope) -> str | None:
    """The socket peer, `HOST:PORT` (see `Plane.client_address` for the agent behind trusted proxies)."""
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None


class Plane:
    """Everything the MCP endpoints share. Built once at start-up."""

    def __init__(self, runtime: Runtime, config: Config) -> None:
        self.runtime = runtime
        self.config = config
        self.guard = HostOriginGuard(config.http.allowed_hosts, config.http.allowed_origins)
        self.proxies = TrustedProxies(config.http.trusted_proxies, config.http.forwarded_header)
        self.resources = protected_resources(config.identity, config.listen, config.routes())  # OAuth, per route
        self.authenticator = Authenticator(config.identity, self.resources)
        self.upstreams = {u.name: Upstream.from_config(u) for u in config.upstreams}
        self.readiness = Readiness(u.probe for u in self.upstreams.values())
        self.sessions = runtime.sessions
        self.live = LiveCalls()
        self.revoker: TokenRevoker | None = runtime.revocation.revoker  # set when containment.revocation is on
        self.draining = asyncio.Event()  # set on SIGTERM/SIGINT: GET streams end, calls in flight finish
        self._background: set[asyncio.Task[None]] = set()

    # -- who is calling -----------------------------------------------------------------------
    def client_address(self, scope: Scope) -> str | None:
        """Where the agent is: the socket peer, or behind trusted proxies what their header says (`forwarded.py`)."""
        if not self.proxies:
            return client_address(scope)
        return self.proxies.client(scope.get("client"), scope["headers"])

    async def identify(self, scope: Scope, headers: dict[str, str], upstream: str, send: Send) -> Call | None:
        """Who is calling, or None after answering 401 (no valid identity, or a revoked one), 404 (a session
        the store does not know, or another principal's) or 503 (the store cannot say)."""
        identity = await self.authenticator.authenticate(headers, upstream)
        address = self.client_address(scope)
        session_id = headers.get("mcp-session-id")
        if isinstance(identity, AuthFailure) and identity.missing_credentials \
                and self.runtime.holder.policy.settings.anonymous:
            identity = self.authenticator.anonymous(headers, upstream)
        if isinstance(identity, AuthFailure):
            reason = f"unauthenticated: {identity.reason}"
            await self.refuse(scope, send, upstream, None, 401, ErrorCode.UNAUTHENTICATED, reason, "identity",
                              [(b"www-authenticate", identity.www_authenticate.encode("latin-1"))])
            return None
        call = Call(upstream, identity.principal, identity.agent, identity.credential_hash, session_id,
                    Era.HANDSHAKE if session_id else Era.UNKNOWN, address, client_key=session_id,
                    trace_id=trace_id(headers.get("traceparent")),
                    user_agent=headers.get("user-agent", "")[:256] or None)
        if self.runtime.store.state().is_revoked(identity.credential_hash):
            challenge = self.authenticator.challenge("invalid_token", "token revoked", upstream)
            await self.refuse(scope, send, upstream, call, 401, ErrorCode.UNAUTHENTICATED,
                              "unauthenticated: credential revoked", "revocation",
                              [(b"www-authenticate", challenge.encode("latin-1"))])
            return None
        if self.revoker is not None and identity.method == "jwt":  # held in memory for RFC 7009 revocation
            token = headers.get("authorization", "").partition(" ")[2].strip()
            self.revoker.remember(identity.principal, token, expires_at=identity.expires_at)
        if session_id is not None:
            try:
                owner = await self.sessions.owner(upstream, session_id)
            except StoreUnavailable:
                await self.refuse(scope, send, upstream, call, 503, ErrorCode.INSPECTION_FAILED, STORE_DOWN,
                                  "sessions")
                return None
            if owner is None or owner.principal != identity.principal:
                what = "session not found" if owner is None else "session owned by another principal"
                await self.refuse(scope, send, upstream, call, 404, ErrorCode.INVALID_REQUEST, what, "sessions",
                                  shown="session not found")
                return None
        return call

    async def refuse(self, scope: Scope, send: Send, upstream: str, call: Call | None, status: int,
                     code: ErrorCode, reason: str, check: str, headers: Headers | None = None,
                     *, kind: MessageKind = MessageKind.HTTP, message: JsonObject | None = None,
                     shown: str | None = None) -> None:
        """Refuse an HTTP request before (or instead of) deciding its messages: one decision event, then
        the answer. `shown` is what the agent reads when it must not learn the reason (defaults to it)."""
        ex = self.http_exchange(scope, upstream, call, kind=kind, message=message, status=status)
        self.runtime.pipeline.record(ex, Decision(Verdict.DENY, reason=reason, code=code, check=check))
        await send_json(send, status, error_response(None, code, shown or reason), headers)

    def http_exchange(self, scope: Scope, upstream: str, call: Call | None, *, kind: MessageKind = MessageKind.HTTP,
                      message: JsonObject | None = None, status: int | None = None,
                      origin: Origin = Origin.AGENT, http_method: str | None = None) -> Exchange:
        """An exchange for an HTTP operation that carries no acceptable JSON-RPC message."""
        return Exchange(
            direction=Direction.TO_SERVER, message=message or {}, raw_size=0, upstream=upstream,
            principal=call.principal if call else ANONYMOUS, agent=call.agent if call else None,
            session_id=call.session_id if call else None, era=call.era if call else Era.UNKNOWN,
            transport=Transport.HTTP, client_address=self.client_address(scope),
            user_agent=call.user_agent if call else None, credential_hash=call.credential_hash if call else None,
            client_key=call.client_key if call else None,
            trace_id=call.trace_id if call else None, origin=origin, http_method=http_method or scope.get("method"),
            http_status=status, forced_kind=kind)

    # -- sessions -------------------------------------------------------------------------------
    async def note_session(self, response: UpstreamResponse, call: Call) -> bool:
        """Bind a session the upstream just issued to the principal that opened it, in the store, before the
        agent learns its id. False if the store could not record it (the answer must then be withheld)."""
        issued = response.header(b"mcp-session-id")
        if issued is None:
            return True
        session_id = issued.decode("latin-1")
        if session_id == call.session_id:
            return True
        try:
            await self.sessions.bind(call.upstream, session_id, call.principal, call.agent, Era.HANDSHAKE,
                                     call.credential_hash, call.client)
        except StoreUnavailable as exc:
            log.error("session %s… not bound (%s); ending it", session_id[:8], exc)
            self.end_upstream_session(self.upstreams[call.upstream], session_id, call, "store unavailable")
            return False
        call.session_id = call.client_key = session_id
        return True

    def end_upstream_session(self, upstream: Upstream, session_id: str, call: Call | None, why: str) -> None:
        """DELETE a session at the upstream on the proxy's own behalf (audited as the proxy's message)."""
        async def delete() -> None:
            status: int | None = None
            try:
                response = await upstream.send("DELETE", [(b"mcp-session-id", session_id.encode("latin-1"))], b"")
                async with response:
                    await response.read(65536, SIDE_CALL_TIMEOUT)
                status = response.status
            except UpstreamError as exc:
                log.info("could not end session at upstream %s: %s", upstream.name, exc)
            ex = Exchange(direction=Direction.TO_SERVER, message={}, raw_size=0, upstream=upstream.name,
                          principal=call.principal if call else ANONYMOUS, agent=call.agent if call else None,
                          session_id=session_id, era=Era.HANDSHAKE, transport=Transport.HTTP,
                          client_key=session_id, origin=Origin.PROXY, http_method="DELETE", http_status=status,
                          forced_kind=MessageKind.HTTP)
            self.runtime.pipeline.record(ex, Decision(Verdict.ALLOW, reason=f"session ended by the proxy ({why})",
                                                      check="proxy"))

        self.spawn(delete())

    # -- the proxy's own messages to either side ------------------------------------------------
    def emitted(self, call: Call, direction: Direction, message: JsonObject, decision: Decision,
                pending: Pending | None = None) -> None:
        """Record a message the proxy itself sends (to the agent or to the upstream)."""
        ex = call.exchange(direction, message, len(dumps(message)), pending, origin=Origin.PROXY)
        self.runtime.pipeline.record(ex, decision)

    def reject_server_request(self, upstream: Upstream, call: Call, message: JsonObject, decision: Decision) -> None:
        """Answer a refused server → agent request on the agent's behalf, so the server does not wait."""
        error = error_response(message.get("id"), decision.code, decision.reason)
        self.side_post(upstream, call, error, Decision(Verdict.ALLOW, reason="error sent in place of the agent's "
                                                       "answer to a refused server request", check="proxy"))

    def cancel_upstream(self, upstream: Upstream, call: Call, reason: str) -> None:
        """Send notifications/cancelled for every request of `call` still waiting."""
        for request_id, pending in list(call.requests.items()):
            self.side_post(upstream, call, {"jsonrpc": "2.0", "method": "notifications/cancelled",
                                            "params": {"requestId": request_id, "reason": reason}},
                           Decision(Verdict.ALLOW, reason=f"cancellation sent by the proxy ({reason})", check="proxy"),
                           pending)
        call.requests.clear()

    def side_post(self, upstream: Upstream, call: Call, message: JsonObject, decision: Decision,
                  pending: Pending | None = None) -> None:
        """POST one message of the proxy's own to the upstream (recorded first, sent in the background)."""
        self.emitted(call, Direction.TO_SERVER, message, decision, pending)
        headers: Headers = [(b"content-type", b"application/json"),
                            (b"accept", b"application/json, text/event-stream")]
        if call.session_id:
            headers.append((b"mcp-session-id", call.session_id.encode("latin-1")))
        headers.extend(upstream.headers)

        async def post() -> None:
            try:
                response = await upstream.pool.request("POST", upstream.target, headers, dumps(message),
                                                       timeout=SIDE_CALL_TIMEOUT)
                async with response:
                    await response.read(65536, SIDE_CALL_TIMEOUT)
            except UpstreamError as exc:
                log.info("could not notify upstream %s: %s", upstream.name, exc)

        self.spawn(post())

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def drain(self) -> None:
        """The listener stopped accepting: end the GET streams (an agent resumes them elsewhere); calls in flight
        go on until they end or the drain timeout passes."""
        if not self.draining.is_set():
            log.info("draining: %d calls and streams in flight", len(self.live))
            self.draining.set()

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        for upstream in self.upstreams.values():
            await upstream.pool.aclose()
        await self.authenticator.aclose()
