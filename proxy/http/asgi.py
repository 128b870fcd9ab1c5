"""Minimal raw-ASGI helpers for the hot path (no framework request objects)."""

from __future__ import annotations

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


async def read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    """Read the whole request body, refusing more than `limit` bytes (before reading, if declared)."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise MessageError(ErrorCode.LIMIT_EXCEEDED, f"request body exceeds {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise MessageError(ErrorCode.LIMIT_EXCEEDED, f"request body exceeds {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


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
