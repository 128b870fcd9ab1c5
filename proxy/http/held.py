"""Keep an agent's connection alive while its request waits for a decision (a human's approval).

A decision normally takes microseconds. When a check is about to wait long (it awaits the exchange's
`proxy.exchange.SLOW_DECISION_NOTE`) and the agent accepts `text/event-stream`, the answer becomes an SSE
stream at once and carries a comment every `KEEPALIVE_EVERY_SECONDS`, so load balancers and clients do not
give up on a silent connection. Whatever the endpoint sends afterwards is written into that stream: an SSE
answer's events as they come, a JSON answer (or refusal) as one `message` event. This module only moves
bytes; it decides nothing.
"""

from __future__ import annotations

import asyncio
import contextlib

from proxy.http.asgi import Message, Send
from proxy.sse import encode_event

KEEPALIVE_EVERY_SECONDS = 5.0
COMMENT = b": drawbridge: waiting for a decision\n\n"


class HeldResponse:
    """An ASGI `send` for a response whose SSE stream was already started to keep the connection open."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._streaming = False  # the late response is itself SSE: its body is events already
        self._json: list[bytes] = []
        self.finished = False

    async def open(self) -> None:
        await self._send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")]})
        await self.beat()

    async def beat(self) -> None:
        await self._send({"type": "http.response.body", "body": COMMENT, "more_body": True})

    async def __call__(self, message: Message) -> None:
        if self.finished:
            return
        if message["type"] == "http.response.start":
            types = [v for k, v in message.get("headers", []) if k == b"content-type"]
            self._streaming = bool(types) and types[0].split(b";")[0].strip().lower() == b"text/event-stream"
            return
        body, more = message.get("body", b""), message.get("more_body", False)
        if self._streaming:
            if body or not more:
                await self._send({"type": "http.response.body", "body": body, "more_body": more})
        else:
            self._json.append(body)
            if not more:
                data = b"".join(self._json)
                event = encode_event(data.decode("utf-8", "replace"), event="message") if data else b""
                await self._send({"type": "http.response.body", "body": event, "more_body": False})
        self.finished = not more


class KeepAlive:
    """Given to the exchanges of a POST whose agent accepts SSE (`ex.notes[SLOW_DECISION_NOTE]`): a check that
    is about to wait long (a hold for approval) calls it, and the answer becomes a kept-alive SSE stream.
    Costs nothing until called."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self._held: HeldResponse | None = None
        self._beats: asyncio.Task[None] | None = None

    async def __call__(self) -> None:
        if self._held is not None:
            return
        self._held = HeldResponse(self._send)
        try:
            await self._held.open()
        except OSError:  # the agent left; the decision still completes and is audited
            return
        self._beats = asyncio.create_task(self._beat(self._held))

    @staticmethod
    async def _beat(held: HeldResponse) -> None:
        with contextlib.suppress(OSError):
            while not held.finished:
                await asyncio.sleep(KEEPALIVE_EVERY_SECONDS)
                await held.beat()

    def done(self) -> Send:
        """The decision is made: the `send` the rest of the response must use."""
        if self._beats is not None:
            self._beats.cancel()
        return self._held if self._held is not None else self._send
