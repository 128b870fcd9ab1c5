"""Relay an upstream SSE stream event by event, each JSON-RPC message inspected; never buffered whole."""

from __future__ import annotations

import logging

import orjson

from proxy.errors import ErrorCode, MessageError
from proxy.http.answers import AnswerInspector
from proxy.http.asgi import Send
from proxy.jsonrpc import check_depth, dumps, validate_message
from proxy.sse import SSEEventTooLarge, SSEParser, encode_event
from proxy.upstream import UpstreamError, UpstreamResponse

log = logging.getLogger("drawbridge.stream")


async def relay_sse(response: UpstreamResponse, send: Send, inspector: AnswerInspector,
                    max_event_bytes: int, idle_timeout: float | None) -> None:
    """Forward events as they arrive. A message that fails inspection is replaced or dropped;
    an unparseable or oversized event ends the stream (nothing uninspected is forwarded)."""
    parser = SSEParser(max_event_bytes)
    limits = inspector.runtime.limits
    try:
        async for chunk in response.chunks(idle_timeout):
            out: list[bytes] = []
            for event in parser.feed(chunk):
                if not event.has_data or not event.data:
                    out.append(event.raw)  # comments, keep-alives, priming events with empty data
                    continue
                try:
                    message = orjson.loads(event.data)
                    check_depth(message, limits.max_depth)
                    validate_message(message)
                except (orjson.JSONDecodeError, MessageError):
                    out.append(_error_event(inspector, "upstream sent an invalid message on the stream"))
                    await _flush(send, out)
                    return
                delivered, changed = await inspector.message(message, len(event.data))
                if not changed:
                    out.append(event.raw)
                elif delivered is not None:
                    out.append(encode_event(dumps(delivered).decode(), event=event.event, id=event.id))
            await _flush(send, out)
        if inspector.call.requests:
            await _flush(send, [_error_event(inspector, "upstream ended the stream without answering")])
    except SSEEventTooLarge:
        await _flush(send, [_error_event(inspector, f"upstream stream event exceeds {max_event_bytes} bytes")])
    except UpstreamError as exc:
        log.info("upstream stream ended: %s", exc)
        await _flush(send, [_error_event(inspector, f"upstream stream failed ({exc})")])


def _error_event(inspector: AnswerInspector, reason: str) -> bytes:
    """An SSE event answering the still-waiting requests with an error (or nothing, if none wait)."""
    if not inspector.call.requests:
        inspector.garbage(reason)  # audit the refusal even if nobody waits
        return b""
    errors = inspector.garbage(reason, ErrorCode.UPSTREAM_UNAVAILABLE)
    items = errors if isinstance(errors, list) else [errors]
    return b"".join(encode_event(dumps(e).decode()) for e in items)


async def _flush(send: Send, out: list[bytes]) -> None:
    data = b"".join(out)
    if data:
        await send({"type": "http.response.body", "body": data, "more_body": True})
