"""Minimal raw-ASGI helpers for the hot path (no framework request objects)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from proxy.errors import ErrorCode, MessageError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_TYPE = b"application/json"


class ClientGone(Exception):
    """The agent disconnected before the request body arrived."""


def header_map(scope: Scope) -> dict[str, str]:
    """Request headers as a lowercase-name → latin-1 value map (a later duplicate wins)."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


DRAIN_BYTES = 64 * 1024 * 1024  # read and discard at most this much of an over-limit body
DRAIN_SECONDS = 10.0


async def read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    """Read the whole request body, refusing more than `limit` bytes (before reading, if declared).

    The rest of an over-limit body is read and discarded (bounded) before the refusal, so an agent that
    is still sending reads the 413 instead of a reset connection; one that asked `Expect: 100-continue`
    is refused before it sends anything.
    """
    declared = headers.get("content-length")
    too_large = MessageError(ErrorCode.LIMIT_EXCEEDED, f"request body exceeds {limit} bytes")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        if headers.get("expect", "").lower() != "100-continue" and int(declared) <= DRAIN_BYTES:
            await _drain(receive, DRAIN_BYTES)
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        more = message.get("more_body", False)
        if size > limit:
            if more:
                await _drain(receive, DRAIN_BYTES - size)
            raise too_large
        chunks.append(chunk)
        if not more:
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _drain(receive: Receive, budget: int) -> None:
    """Discard the rest of the body, up to `budget` bytes and DRAIN_SECONDS."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_SECONDS):
            while budget > 0:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise ClientGone
                budget -= len(message.get("body", b""))
                if not message.get("more_body", False):
                    return


async def send_bytes(send: Send, status: int, body: bytes, content_type: bytes = JSON_TYPE,
                     headers: list[tuple[bytes, bytes]] | None = None) -> None:
    """Send a complete response."""
    out = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if headers:
        out.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, value: Any, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send_bytes(send, status, orjson.dumps(value), JSON_TYPE, headers)
