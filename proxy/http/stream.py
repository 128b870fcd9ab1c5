"""Relay an upstream SSE stream event by event, each JSON-RPC message inspected; never buffered whole.

An answer stream that stays silent longer than its idle timeout is ended: the requests still waiting get
a timeout error and the upstream a cancellation. Long-lived streams (the handshake-era GET stream,
`subscriptions/listen`) have no idle timeout.
"""

from __future__ import annotations

import logging

import orjson

from proxy.decision import Decision
from proxy.errors import ErrorCode, MessageError
from proxy.http.answers import AnswerInspector
from proxy.http.asgi import Send
from proxy.jsonrpc import check_depth, dumps, validate_message
from proxy.sse import SSEEventTooLarge, SSEParser, encode_event
from proxy.state.codec import StoreUnavailable
from proxy.types import Direction, MessageKind, Verdict
from proxy.upstream import UpstreamError, UpstreamResponse, UpstreamTimeout

log = logging.getLogger("drawbridge.stream")


async def relay_sse(response: UpstreamResponse, send: Send, inspector: AnswerInspector,
                    max_event_bytes: int, idle_timeout: float | None) -> None:
    """Forward events as they arrive. A message that fails inspection is replaced or dropped;
    an unparseable or oversized event ends the stream (nothing uninspected is forwarded)."""
    parser = SSEParser(max_event_bytes)
    limits = inspector.runtime.limits
    resumable = False  # an event carried an id: the agent may resume the stream with Last-Event-ID
    try:
        async for chunk in response.chunks(idle_timeout):
            out: list[bytes] = []
            for event in parser.feed(chunk):
                resumable = resumable or bool(event.id)
                if not event.has_data or not event.data:
                    out.append(event.raw)  # comments, keep-alives, priming events with empty data
                    continue
                try:
                    message = orjson.loads(event.data)
                    check_depth(message, limits.max_depth)
                    validate_message(message)
                except (orjson.JSONDecodeError, MessageError):
                    out.append(_refuse_stream(inspector, "upstream sent an invalid message on the stream",
                                              len(event.data)))
                    await _flush(send, out)
                    return
                delivered, changed = await inspector.message(message, len(event.data))
                if not changed:
                    out.append(event.raw)
                elif delivered is not None:
                    out.append(encode_event(dumps(delivered).decode(), event=event.event, id=event.id))
            await _flush(send, out)
        if inspector.call.requests and not (resumable and await _park(inspector)):
            await _flush(send, [_errors(inspector, "upstream ended the stream without answering",
                                        ErrorCode.UPSTREAM_UNAVAILABLE)])
    except SSEEventTooLarge:
        await _flush(send, [_refuse_stream(inspector, f"upstream stream event exceeds {max_event_bytes} bytes",
                                           max_event_bytes)])
    except UpstreamTimeout:
        log.info("upstream %s stream idle for more than %s s", inspector.upstream.name, idle_timeout)
        waiting = dict(inspector.call.requests)
        errors = _errors(inspector, f"upstream {inspector.upstream.name} stream idle for more than "
                         f"{idle_timeout or 0:g} s", ErrorCode.UPSTREAM_TIMEOUT)
        inspector.call.requests = waiting
        inspector.plane.cancel_upstream(inspector.upstream, inspector.call, "timed out")
        await _flush(send, [errors])
    except UpstreamError as exc:
        log.info("upstream stream ended: %s", exc)
        if not (resumable and await _park(inspector)):
            await _flush(send, [_errors(inspector, f"upstream stream failed ({exc})",
                                        ErrorCode.UPSTREAM_UNAVAILABLE)])


async def _park(inspector: AnswerInspector) -> bool:
    """Hand the still-waiting requests to the store for the resumed stream; False if the store refused."""
    call = inspector.call
    try:
        await inspector.runtime.pairing.park(call.upstream, call.client_key, [
            (request_id, pending.message, pending.call_id) for request_id, pending in call.requests.items()])
    except StoreUnavailable as exc:
        log.warning("waiting requests not kept for a resumed stream: %s", exc)
        return False
    call.requests.clear()
    return True


def _refuse_stream(inspector: AnswerInspector, reason: str, size: int) -> bytes:
    """Record the upstream's unacceptable message as refused, then answer the waiting requests."""
    ex = inspector.call.exchange(Direction.TO_CLIENT, {}, size, kind=MessageKind.INVALID)
    inspector.runtime.pipeline.record(ex, Decision(Verdict.DENY, reason=reason, code=ErrorCode.UPSTREAM_UNAVAILABLE,
                                                   check="jsonrpc"))
    return _errors(inspector, reason, ErrorCode.UPSTREAM_UNAVAILABLE)


def _errors(inspector: AnswerInspector, reason: str, code: ErrorCode) -> bytes:
    """SSE events answering the still-waiting requests with an error (nothing if none wait)."""
    if not inspector.call.requests:
        return b""
    errors = inspector.garbage(reason, code)
    items = errors if isinstance(errors, list) else [errors]
    return b"".join(encode_event(dumps(e).decode()) for e in items)


async def _flush(send: Send, out: list[bytes]) -> None:
    data = b"".join(out)
    if data:
        await send({"type": "http.response.body", "body": data, "more_body": True})
