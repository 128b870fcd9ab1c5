"""UpstreamPool against real loopback servers: scripted raw HTTP/1.1 servers and uvicorn + Starlette."""

from __future__ import annotations

import asyncio
import datetime
import functools
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from proxy.sse import SSEEvent, SSEParser, encode_event
from proxy.upstream import (
    BodyTooLarge,
    UpstreamError,
    UpstreamPool,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

pytestmark = pytest.mark.anyio

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


def bounded(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    """Fail a test that runs longer than 10 s instead of hanging the suite."""

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> None:
        async with asyncio.timeout(10):
            await fn(*args, **kwargs)

    return wrapper


class Script:
    """Raw asyncio TCP server on 127.0.0.1; ``handler(reader, writer, conn_index)`` per connection."""

    def __init__(self, handler: Handler, tls: ssl.SSLContext | None = None) -> None:
        self.handler, self.tls = handler, tls
        self.accepted = 0
        self.requests: list[tuple[bytes, dict[bytes, bytes], bytes]] = []
        self.eof = asyncio.Event()  # set when a handler saw the client close its side
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pools: list[UpstreamPool] = []

    def pool(self, **kw: Any) -> UpstreamPool:
        """A pool for this server, closed when the server stops."""
        self._pools.append(UpstreamPool(self.url, **kw))
        return self._pools[-1]

    async def __aenter__(self) -> Script:
        self._server = await asyncio.start_server(self._on_conn, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}/mcp"
        return self

    async def __aexit__(self, *exc: object) -> None:
        for pool in self._pools:
            await pool.aclose()
        self._server.close()
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _on_conn(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.accepted += 1
        try:
            await self.handler(r, w, self.accepted)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            w.close()

    async def read_request(self, r: asyncio.StreamReader) -> tuple[bytes, dict[bytes, bytes], bytes]:
        head = await r.readuntil(b"\r\n\r\n")
        line, *rest = head[:-4].split(b"\r\n")
        headers = {}
        for h in rest:
            k, _, v = h.partition(b":")
            headers[k.strip().lower()] = v.strip()
        body = await r.readexactly(int(headers.get(b"content-length", b"0")))
        self.requests.append((line, headers, body))
        return line, headers, body

    async def wait_eof(self, r: asyncio.StreamReader) -> None:
        if await r.read() == b"":
            self.eof.set()


def ok(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def echo_forever(srv: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    while True:
        _, _, body = await srv.read_request(r)
        w.write(ok(b"echo:" + body))


async def scripted(handler: Callable[..., Awaitable[None]], tls: ssl.SSLContext | None = None) -> Script:
    srv: Script = Script(lambda r, w, i: handler(srv, r, w, i), tls)
    return srv


async def get(pool: UpstreamPool, body: bytes = b"") -> bytes:
    resp = await pool.request("POST", pool.base_path, [], body, timeout=5.0)
    return await resp.read(1 << 20, 5.0)


# ---------------------------------------------------------------- keep-alive, request head
@bounded
async def test_keep_alive_reuses_one_connection() -> None:
    async with await scripted(lambda s, r, w, i: echo_forever(s, r, w)) as srv:
        pool = srv.pool()
        assert [await get(pool, b"%d" % n) for n in range(5)] == [b"echo:%d" % n for n in range(5)]
        assert srv.accepted == 1
        await pool.aclose()


@pytest.mark.parametrize("answer", [ok(b"x", b"Connection: close\r\n"),
                                    b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx"])
@bounded
async def test_connection_close_response_is_not_reused(answer: bytes) -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        while True:  # the server keeps the socket open: only the client's decision prevents reuse
            await s.read_request(r)
            w.write(answer)

    async with await scripted(handler) as srv:
        pool = srv.pool()
        assert [await get(pool), await get(pool)] == [b"x", b"x"]
        assert srv.accepted == 2


@bounded
async def test_http10_keep_alive_is_honoured() -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        while True:
            await s.read_request(r)
            w.write(b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 1\r\n\r\nx")

    async with await scripted(handler) as srv:
        pool = srv.pool()
        assert [await get(pool), await get(pool)] == [b"x", b"x"]
        assert srv.accepted == 1


@bounded
async def test_request_head_sets_host_and_length_and_drops_hop_by_hop() -> None:
    async with await scripted(lambda s, r, w, i: echo_forever(s, r, w)) as srv:
        pool = srv.pool()
        assert pool.host_header == f"127.0.0.1:{srv.port}".encode() and pool.base_path == b"/mcp"
        sent = [(b"connection", b"keep-alive, x-nominated"), (b"keep-alive", b"5"), (b"te", b"trailers"),
                (b"trailer", b"x"), (b"transfer-encoding", b"chunked"), (b"upgrade", b"h2c"),
                (b"proxy-authorization", b"secret"), (b"host", b"evil"), (b"content-length", b"999"),
                (b"x-nominated", b"1"), (b"x-test", b"kept"), (b"mcp-session-id", b"abc")]
        resp = await pool.request("POST", b"/mcp?a=1", sent, b"{}", timeout=5)
        assert await resp.read(100, 5) == b"echo:{}"
        resp = await pool.request("GET", b"/mcp", [], b"", timeout=5)
        await resp.read(100, 5)
        (line, headers, _), (line2, headers2, _) = srv.requests
        assert line == b"POST /mcp?a=1 HTTP/1.1"
        assert headers == {b"host": pool.host_header, b"content-length": b"2", b"x-test": b"kept",
                           b"mcp-session-id": b"abc"}
        assert line2 == b"GET /mcp HTTP/1.1" and b"content-length" not in headers2


@pytest.mark.parametrize("bad", [
    {"headers": [(b"x", b"a\r\nInjected: 1")]}, {"headers": [(b"x", b"a\nb")]}, {"headers": [(b"x", b"a\0")]},
    {"target": b"/a b"}, {"target": b"/a\r\nX: y"}, {"method": "GE T"},
])
@bounded
async def test_request_injection_is_refused_before_connecting(bad: dict[str, Any]) -> None:
    async with await scripted(lambda s, r, w, i: echo_forever(s, r, w)) as srv:
        pool = srv.pool()
        args = {"method": "POST", "target": b"/mcp", "headers": [], **bad}
        with pytest.raises(ValueError):
            await pool.request(args["method"], args["target"], args["headers"], b"", timeout=5)
        await asyncio.sleep(0.05)
        assert srv.accepted == 0


def test_base_url_parsing() -> None:
    assert UpstreamPool("http://localhost/").host_header == b"localhost"
    assert UpstreamPool("https://example.test:443/x/").host_header == b"example.test"
    assert UpstreamPool("https://example.test:8443").base_path == b"/"
    assert UpstreamPool("http://[::1]:3001/mcp").host_header == b"[::1]:3001"
    for bad in ("ftp://h/", "http:///x", "http://u:p@h/", "http://h/?q=1"):
        with pytest.raises(ValueError):
            UpstreamPool(bad)


# ---------------------------------------------------------------- response framing
@bounded
async def test_response_headers_filtered_and_lowercased() -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)
        w.write(b"HTTP/1.1 201 Created\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\n"
                b"Content-Type: application/json\r\nProxy-Thing: 1\r\nContent-Length: 2\r\nMcp-Session-Id:  s1 \r\n"
                b"\r\n{}")

    async with await scripted(handler) as srv:
        resp = await srv.pool().request("POST", b"/mcp", [], b"", timeout=5)
        assert resp.status == 201 and resp.content_length == 2
        assert resp.headers == [(b"content-type", b"application/json"), (b"mcp-session-id", b"s1")]
        assert resp.header(b"mcp-session-id") == b"s1" and resp.header(b"x-hop") is None
        assert await resp.read(10, 5) == b"{}"


CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5;ext=1\r\nhello\r\nA\r\n world!!!!\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n")


@bounded
async def test_chunked_body_with_extensions_and_trailers_then_reuse() -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        while True:
            await s.read_request(r)
            w.write(CHUNKED)

    async with await scripted(handler) as srv:
        pool = srv.pool()
        assert await get(pool) == b"hello world!!!!"
        resp = await pool.request("POST", b"/mcp", [], b"", timeout=5)
        assert resp.content_length is None and resp.header(b"transfer-encoding") is None
        assert [c async for c in resp.chunks(5)] == [b"hello", b" world!!!!"]
        assert await get(pool) == b"hello world!!!!"
        assert srv.accepted == 1  # trailers fully consumed, so the connection stayed usable


@pytest.mark.parametrize("head", [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n",
                                  b"HTTP/1.0 200 OK\r\n\r\n"])
@bounded
async def test_close_delimited_body_then_new_connection(head: bytes) -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)
        w.write(head + b"part1,")
        await w.drain()
        await asyncio.sleep(0.02)
        w.write(b"part2")

    async with await scripted(handler) as srv:
        pool = srv.pool()
        assert await get(pool) == b"part1,part2"
        assert await get(pool) == b"part1,part2"
        assert srv.accepted == 2


@pytest.mark.parametrize(("method", "answer"), [
    ("POST", b"HTTP/1.1 204 No Content\r\n\r\n"),
    ("POST", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 40\r\n\r\n"),
    ("HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n"),
    ("POST", b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 OK\r\n\r\n"),
    ("POST", b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"),
])
@bounded
async def test_no_body_responses_keep_the_connection(method: str, answer: bytes) -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        while True:
            await s.read_request(r)
            w.write(answer)

    async with await scripted(handler) as srv:
        pool = srv.pool()
        for _ in range(3):
            resp = await pool.request(method, b"/mcp", [], b"", timeout=5)
            assert resp.status in (200, 202, 204, 304)
            assert await resp.read(10, 1) == b""
        assert srv.accepted == 1


@bounded
async def test_large_bodies_both_ways() -> None:
    big = bytes(range(256)) * 8192  # 2 MiB

    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        _, _, body = await s.read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        for k in range(0, len(body), 300_000):
            part = body[k : k + 300_000]
            w.write(b"%x\r\n%s\r\n" % (len(part), part))
            await w.drain()
        w.write(b"0\r\n\r\n")
        _, _, body = await s.read_request(r)
        w.write(ok(body))

    async with await scripted(handler) as srv:
        pool = srv.pool()
        resp = await pool.request("POST", b"/mcp", [], big, timeout=5)
        assert await resp.read(len(big), 5) == big
        resp = await pool.request("POST", b"/mcp", [], big[::-1], timeout=5)
        assert resp.content_length == len(big)
        assert await resp.read(len(big), 5) == big[::-1]
        assert srv.accepted == 1


# ---------------------------------------------------------------- limits and malformed answers
@pytest.mark.parametrize("answer", [
    ok(b"x" * 100),
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"a\r\n0123456789\r\n" * 3 + b"0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\n" + b"y" * 100,
])
@bounded
async def test_body_too_large_closes_connection(answer: bytes) -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)
        w.write(answer)
        await s.wait_eof(r)

    async with await scripted(handler) as srv:
        resp = await srv.pool().request("POST", b"/mcp", [], b"", timeout=5)
        with pytest.raises(BodyTooLarge):
            await resp.read(25, 5)
        await asyncio.wait_for(srv.eof.wait(), 2)


@pytest.mark.parametrize("answer", [
    b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    b"HTTP/1.1 2000 OK\r\n\r\n",
    b"HTTP/2 200 OK\r\n\r\n",
    b"HTTP/1.1 099 Low\r\n\r\n",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nSecret: hunter2\r\nno colon here\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nSecret: hunter2\r\n folded: hunter2\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nBad Name: hunter2\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nSecret: hunter2\nInjected: 1\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nSecret: hunter2\x00\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nX: " + b"h" * 5000 + b"\r\n\r\n",
])
@bounded
async def test_malformed_head_is_protocol_error(answer: bytes) -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)
        w.write(answer)
        await s.wait_eof(r)

    async with await scripted(handler) as srv:
        pool = srv.pool(max_header_bytes=4096)
        with pytest.raises(UpstreamProtocolError) as ei:
            await pool.request("POST", b"/mcp", [], b"", timeout=5)
        assert "hunter2" not in str(ei.value) and "hhhh" not in str(ei.value) and len(str(ei.value)) < 80
        await asyncio.wait_for(srv.eof.wait(), 2)  # the broken connection was closed, not pooled


@pytest.mark.parametrize("body", [
    b"zz\r\nhello\r\n0\r\n\r\n", b"0x5\r\nhello\r\n0\r\n\r\n", b"5\r\nhelloXX0\r\n\r\n",
    b"5\r\nhel", b"-1\r\n", b"1_0\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n",
])
@bounded
async def test_bad_chunking_is_protocol_error(body: bytes) -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        w.write_eof()
        await s.wait_eof(r)

    async with await scripted(handler) as srv:
        resp = await srv.pool().request("POST", b"/mcp", [], b"", timeout=5)
        with pytest.raises(UpstreamProtocolError):
            await resp.read(1000, 5)
        await asyncio.wait_for(srv.eof.wait(), 2)


@bounded
async def test_truncated_content_length_body_is_protocol_error() -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort")

    async with await scripted(handler) as srv:
        resp = await srv.pool().request("POST", b"/mcp", [], b"", timeout=5)
        with pytest.raises(UpstreamProtocolError):
            await resp.read(100, 5)


# ---------------------------------------------------------------- failures: refused, timeouts
@bounded
async def test_connection_refused_is_unavailable() -> None:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    t0 = time.monotonic()
    with pytest.raises(UpstreamUnavailable):
        await UpstreamPool(f"http://127.0.0.1:{port}/mcp").request("POST", b"/mcp", [], b"", timeout=5)
    assert time.monotonic() - t0 < 1


@pytest.mark.parametrize("partial", [b"", b"HTTP/1.1 200 OK\r\n", b"HTTP/1.1 200 OK\r\nContent-Type: x"])
@bounded
async def test_slow_head_times_out_within_bound(partial: bytes) -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)
        w.write(partial)
        await s.wait_eof(r)

    async with await scripted(handler) as srv:
        pool = srv.pool()
        t0 = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            await pool.request("POST", b"/mcp", [], b"", timeout=0.3)
        assert 0.25 <= time.monotonic() - t0 < 1.0
        await asyncio.wait_for(srv.eof.wait(), 2)


@bounded
async def test_body_read_and_stream_idle_timeouts() -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)
        if i == 1:
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf.")
        else:
            w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await s.wait_eof(r)

    async with await scripted(handler) as srv:
        pool = srv.pool()
        resp = await pool.request("POST", b"/mcp", [], b"", timeout=5)
        t0 = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            await resp.read(100, 0.3)
        assert 0.25 <= time.monotonic() - t0 < 1.0
        resp = await pool.request("POST", b"/mcp", [], b"", timeout=5)
        assert srv.accepted == 2  # the timed-out connection was not reused
        it = resp.chunks(idle_timeout=0.3)
        assert await anext(it) == b"first"
        t0 = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            await anext(it)
        assert 0.25 <= time.monotonic() - t0 < 1.0
        with pytest.raises(UpstreamProtocolError):  # a failed response cannot be read on
            await resp.read(100, 1)


# ---------------------------------------------------------------- stale connections
@bounded
async def test_stale_pooled_connection_is_retried_once_on_a_fresh_one() -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        if i == 1:
            await s.read_request(r)
            w.write(ok(b"first"))
            await s.read_request(r)  # the keep-alive race: the server drops it unanswered
            return
        await echo_forever(s, r, w)

    async with await scripted(handler) as srv:
        pool = srv.pool()
        assert await get(pool, b"1") == b"first"
        assert await get(pool, b"2") == b"echo:2"
        assert srv.accepted == 2 and [b for _, _, b in srv.requests] == [b"1", b"2", b"2"]


@bounded
async def test_eof_after_partial_answer_or_on_fresh_connection_is_not_retried() -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)
        w.write(ok(b"first"))
        await s.read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\n")  # partial head, then close

    async with await scripted(handler) as srv:
        pool = srv.pool()
        assert await get(pool) == b"first"
        with pytest.raises(UpstreamProtocolError):
            await get(pool)
        assert srv.accepted == 1

    async def silent(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)

    async with await scripted(silent) as srv:
        with pytest.raises(UpstreamProtocolError):
            await get(srv.pool())
        assert srv.accepted == 1


@bounded
async def test_idle_connection_closed_by_server_is_discarded() -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)
        w.write(ok(b"%d" % i))

    async with await scripted(handler) as srv:
        pool = srv.pool()
        assert await get(pool) == b"1"
        await asyncio.sleep(0.05)  # the server's FIN arrives while the connection is idle
        assert await get(pool) == b"2"
        assert len(srv.requests) == 2  # no request was sent to the dead connection


# ---------------------------------------------------------------- cancellation, release, streaming
@bounded
async def test_cancel_while_waiting_for_head_closes_connection() -> None:
    got = asyncio.Event()

    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        if i == 1:
            await s.read_request(r)
            got.set()
            await s.wait_eof(r)
        else:
            await echo_forever(s, r, w)

    async with await scripted(handler) as srv:
        pool = srv.pool()
        task = asyncio.create_task(pool.request("POST", b"/mcp", [], b"", timeout=10))
        await got.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(srv.eof.wait(), 2)
        assert await get(pool, b"x") == b"echo:x" and srv.accepted == 2


@bounded
async def test_cancel_while_streaming_closes_connection() -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n")
        await s.wait_eof(r)

    async with await scripted(handler) as srv:
        resp = await srv.pool().request("GET", b"/mcp", [], b"", timeout=5)
        it = resp.chunks(None)
        assert await anext(it) == b"one"
        task = asyncio.ensure_future(anext(it))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(srv.eof.wait(), 2)


@pytest.mark.parametrize("consume", [True, False])
@bounded
async def test_aclose_pools_only_fully_read_responses(consume: bool) -> None:
    async with await scripted(lambda s, r, w, i: echo_forever(s, r, w)) as srv:
        pool = srv.pool()
        async with await pool.request("POST", b"/mcp", [], b"abc", timeout=5) as resp:
            if consume:
                assert [c async for c in resp.chunks(5)] == [b"echo:abc"]
        assert await get(pool) == b"echo:"
        assert srv.accepted == (1 if consume else 2)


@bounded
async def test_pool_aclose_closes_idle_and_refuses_new_requests() -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)
        w.write(ok(b"x"))
        await s.wait_eof(r)

    async with await scripted(handler) as srv:
        pool = srv.pool()
        assert await get(pool) == b"x"
        await pool.aclose()
        await asyncio.wait_for(srv.eof.wait(), 2)
        with pytest.raises(UpstreamUnavailable):
            await get(pool)


@bounded
async def test_chunks_arrive_before_the_response_ends() -> None:
    release = asyncio.Event()

    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)
        event = encode_event('{"n":1}', id="1")
        w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"%x\r\n%s\r\n" % (len(event), event))
        await release.wait()
        w.write(b"6\r\n: ka\n\n\r\n0\r\n\r\n")

    async with await scripted(handler) as srv:
        resp = await srv.pool().request("GET", b"/mcp", [], b"", timeout=5)
        it = resp.chunks(idle_timeout=2)
        parser = SSEParser()
        assert [e.data for e in parser.feed(await anext(it))] == ['{"n":1}']
        release.set()
        assert [e.comment_only for c in [c async for c in it] for e in parser.feed(c)] == [True]


@bounded
async def test_concurrent_requests_share_the_pool() -> None:
    async with await scripted(lambda s, r, w, i: echo_forever(s, r, w)) as srv:
        pool = srv.pool(max_idle=4)
        got = await asyncio.gather(*(get(pool, b"%d" % n) for n in range(20)))
        assert got == [b"echo:%d" % n for n in range(20)]
        before = srv.accepted
        assert await get(pool, b"z") == b"echo:z" and srv.accepted == before  # reused an idle one


@pytest.mark.parametrize("framing", [b"Content-Length: 10\r\n\r\n", b"Transfer-Encoding: chunked\r\n\r\na\r\n"])
@bounded
async def test_partial_body_bytes_are_yielded_as_they_arrive(framing: bytes) -> None:
    release = asyncio.Event()

    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        await s.read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\n" + framing + b"01234")
        await release.wait()
        w.write(b"56789" + (b"\r\n0\r\n\r\n" if b"chunked" in framing else b""))

    async with await scripted(handler) as srv:
        resp = await srv.pool().request("GET", b"/mcp", [], b"", timeout=5)
        it = resp.chunks(idle_timeout=2)
        assert await anext(it) == b"01234"  # half of one chunk / of the declared length
        release.set()
        assert [c async for c in it] == [b"56789"]


@bounded
async def test_stale_connection_makes_the_pool_drop_its_other_idle_connections() -> None:
    async def handler(s: Script, r: asyncio.StreamReader, w: asyncio.StreamWriter, i: int) -> None:
        if i > 2:
            return await echo_forever(s, r, w)
        await s.read_request(r)
        w.write(ok(b"old"))
        try:
            await s.read_request(r)  # dropped unanswered (stale)
        except asyncio.IncompleteReadError:
            s.eof.set()  # closed by the client without a second request

    async with await scripted(handler) as srv:
        pool = srv.pool()
        assert list(await asyncio.gather(get(pool), get(pool))) == [b"old", b"old"]
        assert srv.accepted == 2
        assert await get(pool, b"n") == b"echo:n"  # one stale connection, retried on a fresh one
        await asyncio.wait_for(srv.eof.wait(), 2)  # its idle sibling was closed, not tried
        assert [b for _, _, b in srv.requests].count(b"n") == 2


# ---------------------------------------------------------------- TLS
def _tls_pair(tmp: Any) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """(server context, client context trusting it) for a throwaway self-signed 127.0.0.1 cert."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (tmp / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(tmp / "c.pem", tmp / "k.pem")
    return server, ssl.create_default_context(cafile=str(tmp / "c.pem"))


@bounded
async def test_https_with_trusted_context_and_untrusted_refusal(tmp_path: Any) -> None:
    server_ctx, client_ctx = _tls_pair(tmp_path)
    async with await scripted(lambda s, r, w, i: echo_forever(s, r, w), server_ctx) as srv:
        pool = srv.pool(ssl_context=client_ctx)
        assert [await get(pool, b"a"), await get(pool, b"b")] == [b"echo:a", b"echo:b"]
        assert srv.accepted == 1
        with pytest.raises(UpstreamUnavailable):  # default trust store: self-signed cert rejected
            await get(srv.pool())


# ---------------------------------------------------------------- uvicorn + Starlette
_released: dict[str, asyncio.Event] = {}


async def _echo(request: Request) -> Response:
    client = request.scope["client"]
    return JSONResponse({"got": await request.json(), "host": request.headers["host"], "client_port": client[1]})


async def _sse(request: Request) -> Response:
    ev = _released["sse"] = asyncio.Event()

    async def gen() -> AsyncIterator[bytes]:
        yield encode_event("one", id="1")
        try:
            await asyncio.wait_for(ev.wait(), 3)
            yield encode_event("two", id="2")
        except TimeoutError:
            yield encode_event("never released")

    return StreamingResponse(gen(), media_type="text/event-stream")


async def _release(request: Request) -> Response:
    _released["sse"].set()
    return Response(status_code=202)


@pytest.fixture(scope="module")
def uvicorn_url() -> Iterator[str]:
    app = Starlette(routes=[Route("/mcp/echo", _echo, methods=["POST"]), Route("/mcp/sse", _sse),
                            Route("/mcp/release", _release, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    thread.join(10)
    sock.close()


@bounded
async def test_uvicorn_json_round_trip_and_reuse(uvicorn_url: str) -> None:
    pool = UpstreamPool(uvicorn_url)
    ports = []
    for n in range(3):
        resp = await pool.request("POST", b"/mcp/echo", [(b"content-type", b"application/json")],
                                  b'{"n": %d}' % n, timeout=5)
        assert resp.status == 200 and resp.header(b"content-type") == b"application/json"
        assert resp.content_length is not None
        body = await resp.read(10_000, 5)
        assert body.startswith(b'{"got":{"n":%d},"host":"127.0.0.1:' % n)
        ports.append(body.rsplit(b":", 1)[1])
    assert len(set(ports)) == 1  # same client port: one kept-alive connection
    await pool.aclose()


@bounded
async def test_uvicorn_sse_streams_event_by_event(uvicorn_url: str) -> None:
    pool = UpstreamPool(uvicorn_url)
    resp = await pool.request("GET", b"/mcp/sse", [(b"accept", b"text/event-stream")], b"", timeout=5)
    assert resp.status == 200 and (resp.header(b"content-type") or b"").startswith(b"text/event-stream")
    it = resp.chunks(idle_timeout=2)
    parser = SSEParser()
    events: list[SSEEvent] = []
    while not events:
        events += parser.feed(await anext(it))
    assert [(e.id, e.data) for e in events] == [("1", "one")]  # before the server could finish
    rel = await pool.request("POST", b"/mcp/release", [], b"", timeout=5)
    assert rel.status == 202 and await rel.read(10, 5) == b""
    events += [e for c in [c async for c in it] for e in parser.feed(c)]
    assert [(e.id, e.data) for e in events] == [("1", "one"), ("2", "two")]
    await pool.aclose()


def test_error_tree() -> None:
    for cls in (UpstreamUnavailable, UpstreamTimeout, UpstreamProtocolError, BodyTooLarge):
        assert issubclass(cls, UpstreamError)
