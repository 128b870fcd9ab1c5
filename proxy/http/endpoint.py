"""One MCP endpoint (`/mcp` or `/<upstream>/mcp`): POST, GET and DELETE, both protocol eras.

It moves bytes: every JSON-RPC message goes through the pipeline (and its settlement, which writes the
one audit event), and so do the HTTP operations that carry none (opening the GET stream, DELETE); what
the endpoint answers on its own is recorded as the proxy's message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from proxy.decision import Decision, refusal_response
from proxy.errors import ErrorCode, MessageError
from proxy.exchange import SLOW_DECISION_NOTE, Exchange, client_host
from proxy.http.answers import AnswerInspector
from proxy.http.asgi import ClientGone, Message, Receive, Scope, Send, header_map, read_body, send_bytes, send_json
from proxy.http.call import Call, Pending, answer_headers, detect_era
from proxy.http.context import STORE_DOWN, Plane
from proxy.http.held import KeepAlive
from proxy.http.routing import rewritten_headers
from proxy.http.stream import relay_sse
from proxy.inspections.modern_headers import HEADERS_NOTE, SCHEMA_NOTE
from proxy.jsonrpc import dumps, error_response, parse_body
from proxy.sessions import CLIENT_INFO_META_KEY, stateless_client_key
from proxy.sse import encode_event
from proxy.state.codec import StoreUnavailable
from proxy.tracing import TRACE_NOTE
from proxy.types import Direction, Era, Headers, JsonObject, MessageKind, Verdict
from proxy.upstream import UpstreamError, UpstreamResponse, UpstreamTimeout

log = logging.getLogger("drawbridge.http")
WATCH_AFTER_SECONDS = 0.2  # a call still running after this starts watching for the agent leaving
BATCH_REFUSED = "batch refused: another message in it was refused"
LONG_LIVED_METHODS = frozenset({"subscriptions/listen"})  # answered by a stream with no idle timeout
UNREGISTERED_METHODS = frozenset({"initialize", "server/discover"})  # no conversation to list yet

# HTTP status for refusals the protocol gives a status to; policy refusals travel as JSON-RPC errors.
REFUSAL_STATUS = {ErrorCode.PARSE_ERROR: 400, ErrorCode.INVALID_REQUEST: 400, ErrorCode.HEADER_MISMATCH: 400,
                  ErrorCode.LIMIT_EXCEEDED: 413}


@dataclass(frozen=True, slots=True)
class Forward:
    """The body to forward (the original bytes unless rewritten) and the message(s) it holds."""

    body: bytes
    forwarded: Any
    rewritten: bool


@dataclass(frozen=True, slots=True)
class Answer:
    """What the proxy answers the agent itself (nothing was forwarded); `body` None means 202."""

    status: int
    body: Any
    retry_after: int | None = None  # seconds, sent as `Retry-After` (a rate limit refused the call)


def _client_info(message: JsonObject) -> Any:
    params = message.get("params")
    meta = params.get("_meta") if isinstance(params, dict) else None
    return meta.get(CLIENT_INFO_META_KEY) if isinstance(meta, dict) else None


class McpEndpoint:
    """Raw ASGI app for one upstream. Guardrails act on JSON-RPC messages, not on HTTP."""

    def __init__(self, plane: Plane, upstream: str) -> None:
        self.plane = plane
        self.upstream = plane.upstreams[upstream]
        self.runtime = plane.runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = header_map(scope)
        name = self.upstream.name
        problem = self.plane.guard.problem(headers.get("host"), headers.get("origin"))
        if problem is not None:
            await self.plane.refuse(scope, send, name, None, problem[0], ErrorCode.INVALID_REQUEST, problem[1],
                                    "http_guard")
            return
        method = scope["method"]
        if method not in ("POST", "GET", "DELETE"):
            await self.plane.refuse(scope, send, name, None, 405, ErrorCode.INVALID_REQUEST, "method not allowed",
                                    "http", [(b"allow", b"GET, POST, DELETE")])
            return
        call = await self.plane.identify(scope, headers, name, send)
        if call is None:
            return
        try:
            if method == "POST":
                await self._post(scope, receive, send, headers, call)
            elif method == "GET":
                await self._watched(receive, send, lambda tracked: self._get(scope, tracked, call), call)
            else:
                await self._delete(scope, send, call)
        except ClientGone:
            log.debug("agent disconnected from %s", name)
        finally:
            if call.traces and self.runtime.tracing is not None:
                self.runtime.tracing.finish(call.traces)  # notifications, answers that never came

    # -- POST: one message or a batch ------------------------------------------------------------
    async def _post(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], call: Call) -> None:
        limits = self.runtime.limits
        media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            await self.plane.refuse(scope, send, call.upstream, call, 415, ErrorCode.INVALID_REQUEST,
                                    "unsupported media type: send the body as application/json", "http")
            return
        try:
            raw = await read_body(receive, headers, limits.max_body_bytes)
            parsed: Any = parse_body(raw, limits)
        except MessageError as exc:
            await self.plane.refuse(scope, send, call.upstream, call, REFUSAL_STATUS.get(exc.code, 400), exc.code,
                                    exc.message, "jsonrpc", kind=MessageKind.INVALID)
            return
        messages: list[JsonObject] = parsed if isinstance(parsed, list) else [parsed]
        first_method = messages[0].get("method")
        call.era = detect_era(headers.get("mcp-protocol-version"), call.session_id,
                              first_method if isinstance(first_method, str) else None)
        if call.session_id is None and not await self._stateless(scope, send, call, messages, first_method):
            return
        if call.client_key is not None:
            self.plane.sessions.count(call.upstream, call.client_key, calls=len(messages), bytes_in=len(raw),
                                      stateless=call.session_id is None)
        keepalive = KeepAlive(send) if "text/event-stream" in headers.get("accept", "") else None
        outcome = await self._decide(messages, raw, headers, call, scope.get("http_version"), keepalive)
        if keepalive is not None:
            send = keepalive.done()  # a held call's answer goes into the kept-alive SSE stream
        if isinstance(outcome, Answer):
            if outcome.body is None:
                await send_bytes(send, 202, b"")
            else:
                extra = [(b"retry-after", b"%d" % outcome.retry_after)] if outcome.retry_after else None
                await send_json(send, outcome.status, outcome.body, extra)
            return
        body = outcome.body
        agent_headers: Headers = scope["headers"]
        if outcome.rewritten and call.era is Era.MODERN:
            agent_headers = rewritten_headers(agent_headers, outcome.forwarded,
                                              await self._schema(call, outcome.forwarded))
        long_lived = any(m.get("method") in LONG_LIVED_METHODS for m in messages)
        idle = None if long_lived else self.upstream.timeout
        await self._watched(receive, send, lambda tracked: self._forward_post(tracked, call, agent_headers, body,
                                                                              idle), call)

    async def _stateless(self, scope: Scope, send: Send, call: Call, messages: list[JsonObject],
                         first_method: Any) -> bool:
        """Give a client without a session its client key, and list it (False after refusing)."""
        call.client_key = stateless_client_key(call.credential_hash, call.principal, call.agent,
                                               client_host(call.client), _client_info(messages[0]))
        if first_method in UNREGISTERED_METHODS:
            return True
        try:
            await self.plane.sessions.stateless(call.upstream, call.client_key, call.principal, call.agent,
                                                call.credential_hash, call.client)
        except StoreUnavailable:
            await self.plane.refuse(scope, send, call.upstream, call, 503, ErrorCode.INSPECTION_FAILED, STORE_DOWN,
                                    "sessions")
            return False
        return True

    async def _decide(self, messages: list[JsonObject], raw: bytes, headers: dict[str, str], call: Call,
                      http_version: str | None = None, keepalive: KeepAlive | None = None) -> Forward | Answer:
        """Run every message through the pipeline: what to forward, or what to answer the agent directly.

        A batch is all or nothing: if one message is refused, the others are refused (and audited) too.
        """
        pipeline, tracing = self.runtime.pipeline, self.runtime.tracing
        exchanges = [self._exchange(message, len(raw), headers, call) for message in messages]
        if keepalive is not None:
            for ex in exchanges:
                ex.notes[SLOW_DECISION_NOTE] = keepalive
        if tracing is not None:
            call.traces = tracing.received(exchanges, headers, http_version)
        decisions = [await pipeline.decide(ex) for ex in exchanges]
        batch_refused = any(d.blocks for d in decisions)
        finals = []
        for ex, decision in zip(exchanges, decisions, strict=True):
            if batch_refused and not decision.blocks:
                decision = Decision(Verdict.DENY, reason=BATCH_REFUSED, findings=decision.findings, check="batch")
            finals.append(await pipeline.settle(ex, decision))
        if not any(d.blocks for d in finals):
            rewritten = any(d.verdict is Verdict.REWRITE for d in finals)
            if tracing is not None and call.traces:
                tracing.forwarding(call.traces, call.upstream, rewritten)
            for ex in exchanges:
                if ex.kind is MessageKind.REQUEST and ex.id is not None:
                    trace = ex.notes.get(TRACE_NOTE) if tracing is not None else None
                    call.requests[ex.id] = Pending(ex.message, ex.call_id, trace)
            forwarded: Any = [ex.message for ex in exchanges] if len(exchanges) > 1 else exchanges[0].message
            return Forward(dumps(forwarded) if rewritten else raw, forwarded, rewritten)
        answers = []
        for ex, decision in zip(exchanges, finals, strict=True):
            if ex.kind is MessageKind.REQUEST:
                answers.append(refusal_response(ex.id, decision))
            elif ex.kind in (MessageKind.RESPONSE, MessageKind.ERROR) and ex.request is not None:
                self._answer_in_place(call, ex, decision)
        if not answers:
            return Answer(202, None)
        status = 400 if any(d.code == ErrorCode.HEADER_MISMATCH for d in finals if d.blocks) else 200
        waits = [(d.error_data or {}).get("retry_after_seconds") for d in finals if d.code == ErrorCode.RATE_LIMITED]
        retry_after = max((int(w) for w in waits if isinstance(w, int | float)), default=None)
        return Answer(status, answers if len(messages) > 1 else answers[0], retry_after)

    def _answer_in_place(self, call: Call, ex: Exchange, decision: Decision) -> None:
        """The agent's answer to a server request was refused: the server gets an error instead of waiting."""
        error = error_response(ex.id, decision.code, decision.reason)
        self.plane.side_post(self.upstream, call, error, Decision(
            Verdict.ALLOW, reason="error sent in place of the agent's refused answer", check="proxy"),
            Pending(ex.request or {}, ex.call_id))

    def _exchange(self, message: JsonObject, size: int, headers: dict[str, str], call: Call) -> Exchange:
        ex = call.exchange(Direction.TO_SERVER, message, size)
        if call.era is Era.MODERN:
            ex.notes[HEADERS_NOTE] = {k: v.strip() for k, v in headers.items() if k.startswith("mcp-")}
            tool = self.runtime.catalog.get(call.upstream, ex.tool_name)
            if tool is not None:
                ex.notes[SCHEMA_NOTE] = tool.input_schema
        return ex

    async def _schema(self, call: Call, forwarded: Any) -> Any:
        """The input schema of the tool a rewritten modern-era call names (None if unknown or unreachable)."""
        params = forwarded.get("params") if isinstance(forwarded, dict) else None
        name = params.get("name") if isinstance(params, dict) and forwarded.get("method") == "tools/call" else None
        if not isinstance(name, str):
            return None
        try:
            tool = await self.runtime.catalog.lookup(call.upstream, name)
        except StoreUnavailable:
            return None
        return tool.input_schema if tool is not None else None

    async def _forward_post(self, send: Send, call: Call, agent_headers: Headers, body: bytes,
                            idle: float | None) -> None:
        inspector = AnswerInspector(self.plane, self.upstream, call)
        metrics, started = self.runtime.metrics, time.perf_counter()
        if call.traces and self.runtime.tracing is not None:  # the upstream's spans become children of ours
            agent_headers = self.runtime.tracing.upstream_headers(call.traces, agent_headers)
        try:
            response = await self.upstream.send("POST", agent_headers, body)
        except UpstreamError as exc:
            metrics.upstream_failed(call.upstream, "timeout" if isinstance(exc, UpstreamTimeout) else "unavailable")
            await self._upstream_failed(send, inspector, exc)
            return
        metrics.observe_upstream(call.upstream, time.perf_counter() - started)
        async with response:
            await self._answer(send, response, inspector, call, idle)

    async def _answer(self, send: Send, response: UpstreamResponse, inspector: AnswerInspector, call: Call,
                      idle: float | None) -> None:
        if not await self.plane.note_session(response, call):
            await send_json(send, 503, inspector.garbage(STORE_DOWN, ErrorCode.INSPECTION_FAILED))
            return
        content_type = (response.header(b"content-type") or b"").split(b";")[0].strip().lower()
        headers = answer_headers(response.headers)
        limits = self.runtime.config.limits
        if content_type == b"text/event-stream":
            sent = 0

            async def counted(message: Message) -> None:  # the session's bytes out, event by event
                nonlocal sent
                sent += len(message.get("body", b""))
                await send(message)

            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            try:
                await relay_sse(response, counted, inspector, limits.max_sse_event_bytes, idle)
                await send({"type": "http.response.body", "body": b""})
            finally:
                if call.client_key is not None and sent:
                    self.plane.sessions.count(call.upstream, call.client_key, bytes_out=sent)
            return
        try:
            raw = await response.read(limits.max_body_bytes, self.upstream.timeout)
        except UpstreamError as exc:
            await self._upstream_failed(send, inspector, exc)
            return
        if not raw:
            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if content_type == b"application/json":
            body = await inspector.body(raw)
            if call.client_key is not None:
                self.plane.sessions.count(call.upstream, call.client_key, bytes_out=len(body))
            await send_bytes(send, response.status, body, b"application/json",
                             [h for h in headers if h[0] != b"content-type"])
            return
        reason = f"upstream answered HTTP {response.status} with {content_type.decode('latin-1')[:40] or 'no type'}"
        await send_json(send, response.status if response.status >= 400 else 502,
                        inspector.garbage(reason), [h for h in headers if h[0] == b"mcp-session-id"])

    async def _upstream_failed(self, send: Send, inspector: AnswerInspector, exc: UpstreamError) -> None:
        timeout = isinstance(exc, UpstreamTimeout)
        code = ErrorCode.UPSTREAM_TIMEOUT if timeout else ErrorCode.UPSTREAM_UNAVAILABLE
        reason = f"upstream {self.upstream.name} {'timed out' if timeout else 'unavailable'}"
        log.warning("%s: %s", reason, exc)
        await send_json(send, 504 if timeout else 502, inspector.garbage(reason, code))

    # -- GET (the handshake-era stream) and DELETE ----------------------------------------------
    async def _operation(self, scope: Scope, send: Send, call: Call) -> tuple[Exchange, Decision] | None:
        """Decide an HTTP operation that carries no message (GET stream, DELETE); a refusal is audited and
        answered 403 here (None)."""
        pipeline = self.runtime.pipeline
        ex = self.plane.http_exchange(scope, call.upstream, call)
        decision = await pipeline.decide(ex)
        if not decision.blocks:
            return ex, decision
        ex.http_status = 403
        await send_json(send, 403, refusal_response(None, pipeline.record(ex, decision)))
        return None

    async def _get(self, scope: Scope, send: Send, call: Call) -> None:
        """The standalone server → client stream, opened only if the pipeline allows it, relayed event by event."""
        pipeline = self.runtime.pipeline
        decided = await self._operation(scope, send, call)
        if decided is None:
            return
        ex, decision = decided
        inspector = AnswerInspector(self.plane, self.upstream, call)
        try:
            response = await self.upstream.send("GET", scope["headers"], b"")
        except UpstreamError as exc:
            ex.http_status = 504 if isinstance(exc, UpstreamTimeout) else 502
            pipeline.record(ex, Decision(Verdict.DENY, reason=f"upstream {self.upstream.name} unavailable",
                                         code=ErrorCode.UPSTREAM_UNAVAILABLE, check="upstream"))
            await send_json(send, ex.http_status, error_response(None, ErrorCode.UPSTREAM_UNAVAILABLE,
                                                                 f"upstream {self.upstream.name} unavailable"))
            return
        async with response:
            ex.http_status = response.status
            if (await pipeline.settle(ex, decision)).blocks:
                await send_json(send, 503, error_response(None, ErrorCode.INTERNAL_ERROR, "refused (fail closed)"))
                return
            await self._answer(send, response, inspector, call, None)

    async def _delete(self, scope: Scope, send: Send, call: Call) -> None:
        """End a session (always allowed, even to a contained subject: it only takes capability away)."""
        pipeline = self.runtime.pipeline
        decided = await self._operation(scope, send, call)
        if decided is None:
            return
        ex, decision = decided
        try:
            response = await self.upstream.send("DELETE", scope["headers"], b"")
            async with response:
                await response.read(65536, self.upstream.timeout)
        except UpstreamError as exc:
            ex.http_status = 502
            pipeline.record(ex, Decision(Verdict.DENY, reason=f"upstream {self.upstream.name} unavailable ({exc})",
                                         code=ErrorCode.UPSTREAM_UNAVAILABLE, check="upstream"))
            await send_json(send, 502, error_response(None, ErrorCode.UPSTREAM_UNAVAILABLE, str(exc)))
            return
        ex.http_status = response.status
        decision = await pipeline.settle(ex, decision)
        if call.session_id and response.status < 300:
            try:
                await self.plane.sessions.end(call.upstream, call.session_id)
            except StoreUnavailable as exc:
                log.warning("session binding not removed (it expires when idle): %s", exc)
        await send_bytes(send, response.status, b"", b"application/json")

    # -- calls that containment or a departing agent may cut short -------------------------------
    async def _watched(self, receive: Receive, send: Send, work: Callable[[Send], Coroutine[Any, Any, None]],
                       call: Call) -> None:
        """Run `work` as a live call. If the agent disconnects, or containment kills the call, cancel it
        (closing the upstream request) and tell the upstream that the waiting requests are cancelled;
        a killed call answers the agent with the containment error first (each recorded as the proxy's)."""
        me = asyncio.current_task()
        assert me is not None
        tracked = TrackedSend(send)
        key, live = self.plane.live.add(call, me)
        gone = False
        watcher: asyncio.Task[None] | None = None

        def on_disconnect(watch: asyncio.Future[None]) -> None:
            nonlocal gone
            if not watch.cancelled() and watch.exception() is None:
                gone = True
                me.cancel()

        def start_watching() -> None:
            # Fast calls finish before this fires, so they never pay for a watcher task.
            nonlocal watcher
            watcher = asyncio.ensure_future(_disconnected(receive))
            watcher.add_done_callback(on_disconnect)

        timer = asyncio.get_running_loop().call_later(WATCH_AFTER_SECONDS, start_watching)
        try:
            await work(tracked)
        except asyncio.CancelledError:
            if not gone and live.killed is None:
                raise
            me.uncancel()
            waiting = dict(call.requests)
            self.plane.cancel_upstream(self.upstream, call, "agent disconnected" if gone else "contained")
            if live.killed is not None and not gone:
                refusal = Decision(Verdict.DENY, reason=live.killed, code=ErrorCode.QUARANTINED, check="containment")
                for error, pending in await tracked.refuse(waiting, live.killed):
                    self.plane.emitted(call, Direction.TO_CLIENT, error, refusal, pending)
        finally:
            self.plane.live.remove(key)
            timer.cancel()
            if watcher is not None:
                watcher.remove_done_callback(on_disconnect)
                watcher.cancel()


class TrackedSend:
    """Wraps ASGI `send` to know how far the answer got, so a killed call can still be answered."""

    __slots__ = ("_send", "finished", "sse", "started")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = self.finished = self.sse = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            self.sse = any(k == b"content-type" and v.startswith(b"text/event-stream") for k, v in message["headers"])
        elif not message.get("more_body", False):
            self.finished = True
        await self._send(message)

    async def refuse(self, waiting: dict[Any, Pending], reason: str) -> list[tuple[JsonObject, Pending | None]]:
        """Answer the waiting requests with the containment error, however far the answer got; returns
        what was sent (nothing once the answer is complete, or when a JSON answer already started)."""
        if self.finished:
            return []
        errors: list[tuple[JsonObject, Pending | None]] = [
            (error_response(i, ErrorCode.QUARANTINED, reason), p) for i, p in waiting.items()] or [
            (error_response(None, ErrorCode.QUARANTINED, reason), None)]
        if not self.started:
            bodies = [e for e, _ in errors]
            await send_json(self, 200, bodies[0] if len(bodies) == 1 else bodies)
            return errors
        if not self.sse:
            await self({"type": "http.response.body", "body": b"", "more_body": False})
            return []
        await self({"type": "http.response.body", "more_body": False,
                    "body": b"".join(encode_event(dumps(e).decode()) for e, _ in errors)})
        return errors


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
