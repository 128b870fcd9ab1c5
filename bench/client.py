"""A minimal MCP client over raw HTTP/1.1 (asyncio streams, no HTTP library), for the load client.

One `Session` is one MCP session (handshake era) on one keep-alive connection: `initialize` +
`notifications/initialized`, then `tools/call` with pre-encoded params. Answers may be JSON or SSE;
`check_answer` insists on the exact text expected. Loopback URLs only.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from typing import Any
from urllib.parse import urlsplit

import orjson

PROTOCOL_VERSION = "2025-11-25"


class CallError(Exception):
    """An answer that is not the one expected."""


def loopback_target(url: str) -> tuple[str, int, str]:
    """(host, port, path) of an http:// URL on a loopback address; ValueError otherwise."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        ok = parts.scheme == "http" and (host == "localhost" or ipaddress.ip_address(host).is_loopback)
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"refusing non-loopback target {url!r} (http://127.0.0.1:PORT/... only)")
    return host, parts.port or 80, (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def find_answer(content_type: bytes, body: bytes, want_id: int) -> dict[str, Any] | None:
    """The JSON-RPC answer with id `want_id` in a JSON or SSE body."""
    ctype = content_type.split(b";", 1)[0].strip().lower()
    if ctype == b"application/json":
        msg = orjson.loads(body)
        for item in msg if isinstance(msg, list) else [msg]:
            if isinstance(item, dict) and item.get("id") == want_id:
                return item
        return None
    if ctype == b"text/event-stream":
        for event in body.replace(b"\r\n", b"\n").split(b"\n\n"):
            data = b"\n".join(line[5:].removeprefix(b" ") for line in event.split(b"\n") if line.startswith(b"data:"))
            if data:
                item = orjson.loads(data)
                if isinstance(item, dict) and item.get("id") == want_id and ("result" in item or "error" in item):
                    return item
        return None
    raise CallError(f"unexpected content-type {content_type[:60]!r}")


def check_answer(msg: dict[str, Any] | None, expected: str) -> None:
    """Raise CallError unless `msg` is a successful tool result whose first text block is `expected`."""
    if msg is None:
        raise CallError("no answer with the request's id")
    if "error" in msg:
        raise CallError(f"JSON-RPC error {str(msg['error'])[:160]}")
    result = msg.get("result")
    if not isinstance(result, dict) or result.get("isError"):
        raise CallError(f"tool error {str(result)[:160]}")
    content = result.get("content") or [{}]
    text = content[0].get("text") if isinstance(content[0], dict) else None
    if text != expected:
        got = len(text.encode()) if isinstance(text, str) else None
        raise CallError(f"wrong text ({got} bytes, want {len(expected.encode())})")


class Session:
    """One MCP session on one keep-alive connection."""

    def __init__(self, url: str, headers: tuple[tuple[str, str], ...], timeout: float) -> None:
        self.host, self.port, path = loopback_target(url)
        self.head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
                     "Accept: application/json, text/event-stream\r\n"
                     + "".join(f"{k}: {v}\r\n" for k, v in headers)).encode()
        self.timeout = timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.next_id = 0

    async def request(self, body: bytes, method: bytes = b"POST") -> tuple[int, dict[bytes, bytes], bytes]:
        """Send one HTTP request; return (status, lower-cased headers, body)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=1 << 23)
        assert self.reader is not None
        head = self.head if method == b"POST" else method + self.head[4:]
        self.writer.write(b"%s%s\r\n\r\n%s" % (head, b"Content-Length: %d" % len(body), body))
        try:
            async with asyncio.timeout(self.timeout):
                return await self._response(self.reader)
        except BaseException:
            self.close()  # the connection's state is unknown now
            raise

    async def _response(self, r: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
        lines = (await r.readuntil(b"\r\n\r\n")).split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(b":")
            if key:
                headers[key.strip().lower()] = value.strip()
        if b"content-length" in headers:
            body = await r.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while size := int((await r.readuntil(b"\r\n")).split(b";", 1)[0], 16):
                parts.append(await r.readexactly(size + 2))
            while await r.readuntil(b"\r\n") != b"\r\n":  # trailers
                pass
            body = b"".join(p[:-2] for p in parts)
        elif status in (202, 204, 304):
            body = b""
        else:
            body = await r.read()
            self.close()
        if headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return status, headers, body

    async def rpc(self, method: str, params: dict[str, Any] | None) -> dict[str, Any] | None:
        """A request (answer returned) or, for notifications/*, a notification (None returned)."""
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method, **({"params": params} if params else {})}
        notify = method.startswith("notifications/")
        if not notify:
            self.next_id += 1
            msg["id"] = self.next_id
        status, headers, body = await self.request(orjson.dumps(msg))
        if status >= 400:
            raise CallError(f"HTTP {status} {body[:160]!r}")
        if b"mcp-session-id" in headers:
            self.head += b"Mcp-Session-Id: %s\r\n" % headers[b"mcp-session-id"]
        return None if notify else find_answer(headers.get(b"content-type", b""), body, self.next_id)

    async def initialize(self) -> None:
        answer = await self.rpc("initialize", {"protocolVersion": PROTOCOL_VERSION, "capabilities": {},
                                               "clientInfo": {"name": "drawbridge-bench", "version": "1"}})
        if not answer or "result" not in answer:
            raise CallError(f"initialize failed: {str(answer)[:200]}")
        version = answer["result"].get("protocolVersion", PROTOCOL_VERSION)
        self.head += b"MCP-Protocol-Version: %s\r\n" % str(version).encode()
        await self.rpc("notifications/initialized", None)

    async def call_tool(self, params_json: bytes) -> dict[str, Any] | None:
        """tools/call with pre-encoded params; returns the answer for its id."""
        self.next_id += 1
        body = b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":%s}' % (self.next_id, params_json)
        status, headers, raw = await self.request(body)
        if status >= 400:
            raise CallError(f"HTTP {status} {raw[:160]!r}")
        return find_answer(headers.get(b"content-type", b""), raw, self.next_id)

    async def end(self) -> None:
        """DELETE the MCP session (best effort) and close the connection."""
        if self.writer is not None and b"Mcp-Session-Id" in self.head:
            with contextlib.suppress(OSError, TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError):
                await asyncio.wait_for(self.request(b"", b"DELETE"), 2.0)
        self.close()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = self.reader = None
