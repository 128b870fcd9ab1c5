"""The data plane's shared state: runtime, identity, upstream pools and sessions."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from cachetools import TTLCache

from proxy.audit import system_event
from proxy.config import Config, UpstreamConfig
from proxy.containment.revocation import TokenRevoker
from proxy.decision import Decision
from proxy.errors import ErrorCode
from proxy.http.answers import RejectServerRequest
from proxy.http.asgi import Scope, Send, send_json
from proxy.http.call import Call, forwardable
from proxy.http.guard import HostOriginGuard
from proxy.http.live import LiveCalls
from proxy.http.sessions import SessionTable
from proxy.identity import Authenticator, AuthFailure
from proxy.jsonrpc import dumps, error_response
from proxy.runtime import Runtime
from proxy.types import Era, Headers, JsonObject
from proxy.upstream import UpstreamError, UpstreamPool, UpstreamResponse

log = logging.getLogger("drawbridge.http")
ANONYMOUS = "anonymous"
SIDE_CALL_TIMEOUT = 5.0


@dataclass
class Upstream:
    """One configured upstream with its pool and its own credentials (never the agent's)."""

    name: str
    pool: UpstreamPool
    target: bytes
    headers: Headers
    timeout: float

    @classmethod
    def from_config(cls, cfg: UpstreamConfig) -> Upstream:
        pool = UpstreamPool(cfg.url, connect_timeout=cfg.connect_timeout_seconds)
        headers = [(k.lower().encode("latin-1"), src.resolve(f"upstream {cfg.name} header {k}").encode("latin-1"))
                   for k, src in cfg.headers.items()]
        return cls(cfg.name, pool, pool.base_path, headers, cfg.timeout_seconds)

    async def send(self, method: str, agent_headers: Headers, body: bytes) -> UpstreamResponse:
        """Forward a request with the agent's allowlisted headers and this upstream's credentials."""
        return await self.pool.request(method, self.target, forwardable(agent_headers, self.headers), body,
                                       timeout=self.timeout)


class Plane:
    """Everything the MCP endpoints share. Built once at start-up."""

    def __init__(self, runtime: Runtime, config: Config) -> None:
        self.runtime = runtime
        self.config = config
        self.guard = HostOriginGuard(config.http.allowed_hosts, config.http.allowed_origins)
        self.authenticator = Authenticator(config.identity)
        self.upstreams = {u.name: Upstream.from_config(u) for u in config.upstreams}
        self.sessions = SessionTable()
        self.live = LiveCalls()
        self.revoker: TokenRevoker | None = None  # set when containment.revocation is configured
        self.killed_sessions: TTLCache[tuple[str, str], bool] = TTLCache(100_000, 24 * 3600)
        self._background: set[asyncio.Task[None]] = set()

    async def identify(self, scope: Scope, headers: dict[str, str], upstream: str, send: Send) -> Call | None:
        """Who is calling, or None after answering 401 (no valid identity) or 404 (foreign session)."""
        identity = await self.authenticator.authenticate(headers)
        client = scope.get("client")
        address = f"{client[0]}:{client[1]}" if client else None
        session_id = headers.get("mcp-session-id")
        if isinstance(identity, AuthFailure):
            if not identity.missing_credentials or not self.runtime.holder.policy.settings.anonymous:
                self.refusal(scope, upstream, f"unauthenticated: {identity.reason}")
                await send_json(send, 401, error_response(None, ErrorCode.UNAUTHENTICATED,
                                                          f"unauthenticated: {identity.reason}"),
                                [(b"www-authenticate", identity.www_authenticate.encode("latin-1"))])
                return None
            principal, agent, credential = ANONYMOUS, headers.get(self.config.identity.agent_header or ""), None
        else:
            principal, agent, credential = identity.principal, identity.agent, identity.credential_hash
            if self.revoker is not None and identity.method == "jwt":  # held in memory for RFC 7009 revocation
                self.revoker.remember(principal, headers.get("authorization", "").partition(" ")[2].strip())
        call = Call(upstream, principal, agent, credential, session_id, Era.UNKNOWN, address)
        if session_id is not None and ((upstream, session_id) in self.killed_sessions
                                       or (call_session := self.sessions.check(upstream, session_id, principal,
                                                                               agent)) is None):
            self.refusal(scope, upstream, "session ended or owned by another principal", call)
            await send_json(send, 404, error_response(None, ErrorCode.INVALID_REQUEST, "session not found"))
            return None
        if session_id is not None:
            call.session = call_session
        return call

    def refusal(self, scope: Scope, upstream: str, reason: str, call: Call | None = None) -> None:
        """Audit a refusal that happened before any JSON-RPC message could be decided."""
        client = scope.get("client")
        self.runtime.auditor.emit(system_event(
            "request_refused", upstream=upstream, reason=reason, http_method=scope.get("method"),
            client_address=f"{client[0]}:{client[1]}" if client else None,
            principal=call.principal if call else None, agent=call.agent if call else None,
            session_id=call.session_id if call else None, verdict="deny",
            policy_version=self.runtime.holder.policy.version,
        ))

    def note_session(self, response: UpstreamResponse, call: Call) -> None:
        """Bind a session the upstream just issued to the principal that opened it."""
        issued = response.header(b"mcp-session-id")
        if issued is not None:
            session_id = issued.decode("latin-1")
            if session_id != call.session_id:
                call.session = self.sessions.bind(call.upstream, session_id, call.principal, call.agent)
                call.session_id = session_id

    def end_session(self, call: Call) -> None:
        if call.session_id:
            self.sessions.drop(call.upstream, call.session_id)
            self.runtime.auditor.emit(system_event("session_closed", upstream=call.upstream,
                                                   session_id=call.session_id, principal=call.principal))

    def rejector(self, upstream: Upstream, call: Call) -> RejectServerRequest:
        """Answer a refused server→client request on the agent's behalf so the server does not wait."""
        async def reject(message: JsonObject, decision: Decision) -> None:
            error = error_response(message.get("id"), decision.code, decision.reason)
            self._side_post(upstream, call, error)
        return reject

    def cancel_upstream(self, upstream: Upstream, call: Call, reason: str) -> None:
        """Send notifications/cancelled for every request of `call` still waiting (handshake era)."""
        for request_id in list(call.requests):
            self._side_post(upstream, call, {"jsonrpc": "2.0", "method": "notifications/cancelled",
                                             "params": {"requestId": request_id, "reason": reason}})
        call.requests.clear()

    def _side_post(self, upstream: Upstream, call: Call, message: JsonObject) -> None:
        headers: Headers = [(b"content-type", b"application/json"), (b"accept", b"application/json, text/event-stream")]
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

        task = asyncio.get_running_loop().create_task(post())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def aclose(self) -> None:
        for task in list(self._background):
            task.cancel()
        for upstream in self.upstreams.values():
            await upstream.pool.aclose()
        await self.authenticator.aclose()
