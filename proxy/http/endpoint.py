"""One MCP endpoint (`/mcp` or `/<upstream>/mcp`): POST, GET and DELETE, both protocol eras."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from proxy.decision import Decision, refusal_response
from proxy.errors import ErrorCode, MessageError
from proxy.exchange import Exchange
from proxy.http.answers import AnswerInspector
from proxy.http.asgi import ClientGone, Message, Receive, Scope, Send, header_map, read_body, send_bytes, send_json
from proxy.http.call import Call, answer_headers, detect_era
from proxy.http.context import Plane
from proxy.http.stream import relay_sse
from proxy.inspections.modern_headers import HEADERS_NOTE, SCHEMA_NOTE
from proxy.jsonrpc import dumps, error_response, kind_of, parse_body
from proxy.sse import encode_event
from proxy.types import Direction, Era, JsonObject, MessageKind, Verdict
from proxy.upstream import UpstreamError, UpstreamResponse, UpstreamTimeout

log = logging.getLogger("drawbridge.http")
WATCH_AFTER_SECONDS = 0.2  # a call still running after this starts watching for the agent leaving
BATCH_REFUSED = Decision(Verdict.DENY, reason="batch refused: another message in it was refused", check="batch")

# HTTP status for refusals the protocol gives a status to; policy refusals travel as JSON-RPC errors.
REFUSAL_STATUS = {ErrorCode.PARSE_ERROR: 400, ErrorCode.INVALID_REQUEST: 400, ErrorCode.HEADER_MISMATCH: 400,
                  ErrorCode.LIMIT_EXCEEDED: 413}


class McpEndpoint:
    """Raw ASGI app for one upstream. Guardrails act on JSON-RPC messages, not on HTTP."""

    def __init__(self, plane: Plane, upstream: str) -> None:
        self.plane = plane
        self.upstream = plane.upstreams[upstream]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = header_map(scope)
        problem = self.plane.guard.problem(headers.get("host"), headers.get("origin"))
        if problem is not None:
            self.plane.refusal(scope, self.upstream.name, problem[1])
            await send_json(send, problem[0], error_response(None, ErrorCode.INVALID_REQUEST, problem[1]))
            return
        method = scope["method"]
        if method not in ("POST", "GET", "DELETE"):
            await send_json(send, 405, error_response(None, ErrorCode.INVALID_REQUEST, "method not allowed"),
                            [(b"allow", b"GET, POST, DELETE")])
            return
        call = await self.plane.identify(scope, headers, self.upstream.name, send)
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
            log.debug("agent disconnected from %s", self.upstream.name)

    async def _post(self, scope: Scope, receive: Receive, send: Send, headers: dict[str, str], call: Call) -> None:
        limits = self.plane.runtime.limits
        try:
            raw = await read_body(receive, headers.get("content-length"), limits.max_body_bytes)
            parsed: Any = parse_body(raw, limits)
        except MessageError as exc:
            self.plane.refusal(scope, call.upstream, exc.message, call)
            await send_json(send, REFUSAL_STATUS.get(exc.code, 400), error_response(None, exc.code, exc.message))
            return
        messages: list[JsonObject] = parsed if isinstance(parsed, list) else [parsed]
        call.count(len(messages), bytes_in=len(raw))
        first_method = messages[0].get("method")
        call.era = detect_era(headers.get("mcp-protocol-version"), call.session_id,
                              first_method if isinstance(first_method, str) else None)
        outcome = await self._decide(messages, raw, headers, call)
        if not isinstance(outcome, bytes):
            status, body = outcome
            if body is None:
                await send_bytes(send, 202, b"")
            else:
                await send_json(send, status, body)
            return
        body = outcome
        await self._watched(receive, send, lambda tracked: self._forward_post(scope, tracked, call, body), call)

    async def _decide(self, messages: list[JsonObject], raw: bytes, headers: dict[str, str],
                      call: Call) -> tuple[int, Any] | bytes:
        """Run every message through the pipeline: the body to forward, or (status, answer or None).

        A batch is all or nothing: if one message is refused, the others are audited as refused too.
        """
        pipeline = self.plane.runtime.pipeline
        exchanges = [self._exchange(message, len(raw), headers, call) for message in messages]
        decisions = [await pipeline.decide(ex) for ex in exchanges]
        blocked = [d for d in decisions if d.blocks]
        final = [d if d.blocks or not blocked else BATCH_REFUSED for d in decisions]
        answers = []
        for ex, decision in zip(exchanges, final, strict=True):
            decision = pipeline.record(ex, decision)  # an audit failure turns the decision into a refusal
            if decision.blocks:
                blocked.append(decision)
                if ex.kind is MessageKind.REQUEST:
                    answers.append(refusal_response(ex.id, decision))
        if not blocked:
            forwarded = [ex.message for ex in exchanges]
            for message in forwarded:
                if kind_of(message) is MessageKind.REQUEST:
                    call.requests[message["id"]] = message
            if all(d.verdict is not Verdict.REWRITE for d in decisions):
                return raw
            return dumps(forwarded if len(forwarded) > 1 else forwarded[0])
        if not answers:
            return 202, None
        status = 400 if blocked[0].code == ErrorCode.HEADER_MISMATCH else 200
        return status, answers if len(messages) > 1 else answers[0]

    def _exchange(self, message: JsonObject, size: int, headers: dict[str, str], call: Call) -> Exchange:
        ex = call.exchange(Direction.TO_SERVER, message, size)
        if call.era is Era.MODERN:
            ex.notes[HEADERS_NOTE] = {k: v.strip() for k, v in headers.items() if k.startswith("mcp-")}
            tool = self.plane.runtime.catalog.get(call.upstream, ex.tool_name)
            if tool is not None:
                ex.notes[SCHEMA_NOTE] = tool.input_schema
        return ex

    async def _forward_post(self, scope: Scope, send: Send, call: Call, body: bytes) -> None:
        upstream = self.upstream
        inspector = AnswerInspector(self.plane.runtime, call, self.plane.rejector(upstream, call))
        try:
            response = await upstream.send("POST", scope["headers"], body)
        except UpstreamError as exc:
            await self._upstream_failed(send, inspector, exc)
            return
        async with response:
            await self._answer(send, response, inspector, call)

    async def _answer(self, send: Send, response: UpstreamResponse, inspector: AnswerInspector, call: Call) -> None:
        self.plane.note_session(response, call)
        content_type = (response.header(b"content-type") or b"").split(b";")[0].strip().lower()
        headers = answer_headers(response.headers)
        limits = self.plane.runtime.config.limits
        if content_type == b"text/event-stream":
            await send({"type": "http.response.start", "status": response.status, "headers": headers})
            await relay_sse(response, send, inspector, limits.max_sse_event_bytes, None)
            await send({"type": "http.response.body", "body": b""})
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
            call.count(0, bytes_out=len(body))
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

    async def _get(self, scope: Scope, send: Send, call: Call) -> None:
        """The handshake-era standalone stream (server → client), relayed event by event."""
        upstream = self.upstream
        inspector = AnswerInspector(self.plane.runtime, call, self.plane.rejector(upstream, call))
        try:
            response = await upstream.send("GET", scope["headers"], b"")
        except UpstreamError as exc:
            await self._upstream_failed(send, inspector, exc)
            return
        async with response:
            await self._answer(send, response, inspector, call)

    async def _delete(self, scope: Scope, send: Send, call: Call) -> None:
        upstream = self.upstream
        try:
            response = await upstream.send("DELETE", scope["headers"], b"")
            async with response:
                await response.read(65536, upstream.timeout)
        except UpstreamError as exc:
            await send_json(send, 502, error_response(None, ErrorCode.UPSTREAM_UNAVAILABLE, str(exc)))
            return
        if call.session_id and response.status < 300:
            self.plane.end_session(call)
        await send_bytes(send, response.status, b"", b"application/json")

    async def _watched(self, receive: Receive, send: Send, work: Callable[[Send], Coroutine[Any, Any, None]],
                       call: Call) -> None:
        """Run `work` as a live call. If the agent disconnects, or containment kills the call, cancel it
        (closing the upstream request) and tell the upstream that the waiting requests are cancelled;
        a killed call answers the agent with the containment error first."""
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
            waiting = list(call.requests)
            self.plane.cancel_upstream(self.upstream, call, "agent disconnected" if gone else "contained")
            if live.killed is not None and not gone:
                await tracked.refuse(waiting, live.killed)
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

    async def refuse(self, request_ids: list[Any], reason: str) -> None:
        """Answer the waiting requests with the containment error, however far the answer got."""
        if self.finished:
            return
        errors = [error_response(i, ErrorCode.QUARANTINED, reason) for i in request_ids] or [
            error_response(None, ErrorCode.QUARANTINED, reason)]
        if not self.started:
            await send_json(self, 200, errors[0] if len(errors) == 1 else errors)
            return
        body = b"".join(encode_event(dumps(e).decode()) for e in errors) if self.sse else b""
        await self({"type": "http.response.body", "body": body, "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
