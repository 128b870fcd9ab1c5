"""Graceful drain of the data plane, request by request (the listener side is in `server.py`).

On SIGTERM or SIGINT uvicorn stops accepting and lets every request in flight finish, up to the drain
timeout. Two kinds of request would hold it needlessly or end it badly, and are handled here:

- a GET stream (server → agent messages, which an agent resumes elsewhere) ends cleanly as soon as the
  drain begins: its handler sees the agent leave, and the HTTP response is completed;
- a call still running when the drain timeout passes is cancelled by uvicorn; its agent then gets a
  503 JSON-RPC error (audited), or the end of the stream already started, not a reset.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from proxy.errors import ErrorCode
from proxy.http.asgi import Message, Receive, Scope, Send
from proxy.http.context import Plane

log = logging.getLogger("drawbridge.http")
CUT_SHORT = "the proxy is stopping: the drain timeout passed before the answer"
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


class TrackedSend:
    """Wraps ASGI `send` to know whether the response started and ended."""

    __slots__ = ("_send", "finished", "opened", "started")

    def __init__(self, send: Send, opened: asyncio.Event | None = None) -> None:
        self._send = send
        self.started = self.finished = False
        self.opened = opened

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            if self.opened is not None:
                self.opened.set()
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.finished = True
        await self._send(message)

    async def end(self) -> None:
        """Complete a response that started and did not end (an empty last chunk)."""
        if self.started and not self.finished:
            await self({"type": "http.response.body", "body": b"", "more_body": False})


async def call(plane: Plane, upstream: str, handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
    """A POST or DELETE: runs to its end, unless the drain timeout passes first (see the module's docstring)."""
    tracked = TrackedSend(send)
    try:
        await handler(scope, receive, tracked)
    except asyncio.CancelledError:
        if not _drain_cancelled(plane):
            raise
        await _cut_short(plane, upstream, scope, tracked)


async def stream(plane: Plane, upstream: str, handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
    """A GET: once the drain begins (and its response has started) the handler reads that the agent left."""
    opened = asyncio.Event()
    tracked = TrackedSend(send, opened)

    async def drained() -> None:
        await plane.draining.wait()
        await opened.wait()

    async def receive_until_drained() -> Message:
        if plane.draining.is_set() and opened.is_set():
            return {"type": "http.disconnect"}
        message = asyncio.ensure_future(receive())
        drain = asyncio.ensure_future(drained())
        try:
            await asyncio.wait((message, drain), return_when=asyncio.FIRST_COMPLETED)
        finally:
            drain.cancel()
            if not message.done():
                message.cancel()
        return message.result() if not message.cancelled() else {"type": "http.disconnect"}

    try:
        await handler(scope, receive_until_drained, tracked)
    except asyncio.CancelledError:
        if not _drain_cancelled(plane):
            raise
        await _cut_short(plane, upstream, scope, tracked)
        return
    if plane.draining.is_set():
        await tracked.end()


def _drain_cancelled(plane: Plane) -> bool:
    """Was this cancellation the drain timeout's? Then it is absorbed (the request is ended by us)."""
    task = asyncio.current_task()
    if not plane.draining.is_set() or task is None:
        return False
    task.uncancel()
    return True


async def _cut_short(plane: Plane, upstream: str, scope: Scope, tracked: TrackedSend) -> None:
    log.warning("drain timeout passed: %s %s cut short", scope.get("method"), scope.get("path"))
    try:
        if not tracked.started:
            await plane.refuse(scope, tracked, upstream, None, 503, ErrorCode.UPSTREAM_UNAVAILABLE, CUT_SHORT,
                               "drain")
        else:
            await tracked.end()
    except Exception as exc:  # the agent may be gone, or the answer half sent: the connection closes anyway
        log.info("could not end a request cut short: %s", type(exc).__name__)
