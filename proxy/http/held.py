"""Keep an agent's connection alive while its request waits for a decision (a human's approval).

A decision normally takes microseconds. When it takes longer than `KEEPALIVE_AFTER_SECONDS` and the agent
accepts `text/event-stream`, the answer becomes an SSE stream at once and carries a comment every
`KEEPALIVE_EVERY_SECONDS`, so load balancers and clients do not give up on a silent connection. Whatever
the endpoint sends afterwards is written into that stream: an SSE answer's events as they come, a JSON
answer (or refusal) as one `message` event. This module only moves bytes; it decides nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from proxy.http.asgi import Message, Send
from proxy.sse import encode_event

KEEPALIVE_AFTER_SECONDS = 1.0
KEEPALIVE_EVERY_SECONDS = 5.0
COMMENT = b": drawbridge: waiting for a decision\n\n"
T = TypeVar("T")


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


async def decided_while_alive(decision: Awaitable[T], send: Send) -> tuple[T, Send]:
    """Await `decision`; if it is slow, start an SSE answer and keep it alive until it comes. Returns the
    decision and the `send` the rest of the response must use."""
    task = asyncio.ensure_future(decision)
    done, _ = await asyncio.wait({task}, timeout=KEEPALIVE_AFTER_SECONDS)
    if done:
        return task.result(), send
    held = HeldResponse(send)
    try:
        await held.open()
        while not (await asyncio.wait({task}, timeout=KEEPALIVE_EVERY_SECONDS))[0]:
            await held.beat()
    except OSError:  # the agent left: the decision still completes (and is audited); its answer goes nowhere
        pass
    except asyncio.CancelledError:  # the proxy is stopping: the decision goes with it
        task.cancel()
        raise
    return await task, held
