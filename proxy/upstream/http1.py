"""Lean pooled keep-alive HTTP/1.1 client on asyncio streams, for one upstream origin.

It costs roughly a tenth of ``httpx.AsyncClient``'s CPU per call (see ``bench/upstream_client.py``).
Bodies may be framed by Content-Length, chunked (trailers are read and dropped) or connection
close; 1xx/204/304 and HEAD answers carry none. Interim 1xx answers (100, 103) are skipped.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator
from types import TracebackType
from urllib.parse import urlsplit

from proxy.upstream.errors import (
    BodyTooLarge,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

__all__ = ["UpstreamPool", "UpstreamResponse"]

_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"te", b"trailer", b"transfer-encoding", b"upgrade",
                         b"host", b"content-length"})  # and any proxy-*
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_STATUS_RE = rb"HTTP/1\.([01]) ([1-9][0-9]{2})(?: [\t\x20-\x7e\x80-\xff]*)?\r\n"
_STATUS = re.compile(_STATUS_RE)
# one C-speed pass validates the whole head: status line, token names, no control bytes in values
_HEAD = re.compile(_STATUS_RE + rb"((?:[!#$%&'*+\-.^_`|~0-9A-Za-z]+:[\t\x20-\x7e\x80-\xff]*\r\n)*)\r\n")
_HEX = re.compile(rb"[0-9A-Fa-f]{1,15}")
_NO_BODY_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})
_PIECE = 65536
_MAX_INTERIM = 8
_NONE, _LENGTH, _CHUNKED, _CLOSE, _DONE, _ABORTED = range(6)

_Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class _Stale(Exception):
    """A reused connection failed on write or hit EOF/reset before any response byte."""


def _hop_names(headers: list[tuple[bytes, bytes]]) -> set[bytes]:
    """Header names nominated as hop-by-hop by any ``connection`` header."""
    return {t.strip() for n, v in headers if n == b"connection" for t in v.lower().split(b",")}


def _parse_head(raw: bytes) -> tuple[int, bool, list[tuple[bytes, bytes]]]:
    """Parse a response head ending in CRLFCRLF into (status, is_http11, lowercased headers)."""
    m = _HEAD.fullmatch(raw)
    if m is None:
        bad_status = _STATUS.match(raw) is None
        raise UpstreamProtocolError("malformed status line" if bad_status else "malformed response header")
    headers = []
    if block := m.group(3):
        for line in block[:-2].split(b"\r\n"):
            name, _, value = line.partition(b":")
            headers.append((name.lower(), value.strip(b" \t")))
    return int(m.group(2)), m.group(1) == b"1", headers


def _body_error(e: BaseException, what: str) -> UpstreamError | None:
    """Map a low-level failure while reading a body to an UpstreamError (None: re-raise as is)."""
    if isinstance(e, TimeoutError):
        return UpstreamTimeout(f"timed out {what}")
    if isinstance(e, asyncio.IncompleteReadError):
        return UpstreamProtocolError("connection closed mid-body")
    if isinstance(e, asyncio.LimitOverrunError):
        return UpstreamProtocolError("chunk header too large")
    if isinstance(e, OSError):
        return UpstreamProtocolError("connection lost mid-body")
    return None


class UpstreamPool:
    """Keep-alive connections to one upstream origin, handed out one request at a time."""

    def __init__(self, base_url: str, *, connect_timeout: float = 5.0, max_idle: int = 64,
                 max_header_bytes: int = 65536, ssl_context: ssl.SSLContext | None = None) -> None:
        u = urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("base_url must be http(s)://host[:port][/path]")
        if u.username is not None or u.password is not None or u.query or u.fragment:
            raise ValueError("base_url must not carry credentials, query or fragment")
        default_port = 443 if u.scheme == "https" else 80
        self._host = u.hostname
        self._port = u.port or default_port
        self._ssl = (ssl_context or ssl.create_default_context()) if u.scheme == "https" else None
        host = f"[{self._host}]" if ":" in self._host else self._host
        hostport = host if self._port == default_port else f"{host}:{self._port}"
        self.host_header: bytes = hostport.encode("idna" if not hostport.isascii() else "ascii")
        self.base_path: bytes = (u.path or "/").encode("ascii")
        self._connect_timeout = connect_timeout
        self._max_idle = max_idle
        self.max_header_bytes = max_header_bytes
        self._idle: list[_Conn] = []
        self._closed = False

    async def request(self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes,
                      *, timeout: float) -> UpstreamResponse:  # noqa: ASYNC109 (API: one deadline)
        """Send one request; return once the final response head is read (``timeout`` bounds it all).

        The caller owns the response: read it to the end or ``aclose()`` it.
        """
        head = self._head(method, target, headers, body)
        deadline = asyncio.get_running_loop().time() + timeout
        fresh = False
        while True:
            conn, reused = await self._acquire(deadline, fresh)
            try:
                async with asyncio.timeout_at(deadline):
                    return await self._exchange(conn, reused, method, head, body)
            except _Stale:
                conn[1].close()
                self._drop_idle()  # its siblings are likely dead too (server restart / idle expiry)
                fresh = True
            except TimeoutError:
                conn[1].close()
                raise UpstreamTimeout("timed out waiting for the response head") from None
            except BaseException:
                conn[1].close()
                raise

    async def aclose(self) -> None:
        """Close idle connections; connections still in use close when their response ends."""
        self._closed = True
        self._drop_idle()
        await asyncio.sleep(0)

    def _head(self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes) -> bytes:
        if _TOKEN.fullmatch(method.encode("latin-1")) is None or not target or b" " in target:
            raise ValueError("invalid method or request target")
        parts = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\nHost: ", self.host_header, b"\r\n"]
        lines = 3
        extra = _hop_names(headers) if any(n == b"connection" for n, _ in headers) else ()
        for name, value in headers:
            if name in _HOP_BY_HOP or name.startswith(b"proxy-") or name in extra:
                continue
            parts += (name, b": ", value, b"\r\n")
            lines += 1
        if body or method not in _NO_BODY_METHODS:
            parts += (b"Content-Length: ", b"%d" % len(body), b"\r\n")
            lines += 1
        parts.append(b"\r\n")
        head = b"".join(parts)
        if head.count(b"\n") != lines or head.count(b"\r") != lines or b"\0" in head:
            raise ValueError("CR, LF or NUL in request target or header")
        return head

    async def _acquire(self, deadline: float, fresh: bool) -> tuple[_Conn, bool]:
        if self._closed:
            raise UpstreamUnavailable("upstream pool is closed")
        while self._idle and not fresh:
            conn = self._idle.pop()
            if not (conn[0].at_eof() or conn[1].is_closing()):
                return conn, True
            conn[1].close()
        budget = min(self._connect_timeout, deadline - asyncio.get_running_loop().time())
        try:
            async with asyncio.timeout(budget):
                r, w = await asyncio.open_connection(
                    self._host, self._port, limit=self.max_header_bytes, ssl=self._ssl,
                    server_hostname=self._host if self._ssl else None)
        except TimeoutError as e:
            raise UpstreamTimeout("timed out connecting to upstream") from e
        except OSError as e:
            raise UpstreamUnavailable(f"cannot connect to upstream ({type(e).__name__})") from e
        return (r, w), False

    async def _exchange(self, conn: _Conn, retryable: bool, method: str, head: bytes, body: bytes) -> UpstreamResponse:
        r, w = conn
        try:
            if len(body) <= _PIECE:
                w.write(head + body)
            else:
                w.write(head)
                w.write(body)
            if w.transport.get_write_buffer_size():
                await w.drain()
        except ConnectionError as e:
            if retryable:
                raise _Stale from e
            raise UpstreamUnavailable("connection lost while sending the request") from e
        for _ in range(_MAX_INTERIM):
            try:
                raw = await r.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as e:
                if retryable and not getattr(e, "partial", b""):  # EOF or reset before any response byte
                    raise _Stale from e
                raise UpstreamProtocolError("connection closed before the response head") from e
            except asyncio.LimitOverrunError as e:
                raise UpstreamProtocolError("response head too large") from e
            retryable = False
            status, http11, headers = _parse_head(raw)
            if status == 101:
                raise UpstreamProtocolError("unexpected protocol switch")
            if status >= 200:
                return UpstreamResponse(self, conn, status, http11, headers, method == "HEAD")
        raise UpstreamProtocolError("too many interim responses")

    def _release(self, conn: _Conn, keep: bool) -> None:
        if (keep and not self._closed and len(self._idle) < self._max_idle
                and not conn[1].is_closing() and not conn[0].at_eof()):
            self._idle.append(conn)
        else:
            conn[1].close()

    def _drop_idle(self) -> None:
        idle, self._idle = self._idle, []
        for _, w in idle:
            w.close()


class UpstreamResponse:
    """A response whose head has been read; read the body with :meth:`read` or :meth:`chunks`.

    The connection returns to the pool as soon as the body is consumed (if keep-alive holds);
    :meth:`aclose` closes it otherwise. Errors and cancellation while reading close it.
    """

    __slots__ = ("_conn", "_crlf", "_keep", "_left", "_mode", "_pool", "_r", "content_length", "headers", "status")

    def __init__(self, pool: UpstreamPool, conn: _Conn, status: int, http11: bool,
                 raw_headers: list[tuple[bytes, bytes]], is_head: bool) -> None:
        self._pool, self._r = pool, conn[0]
        self._conn: _Conn | None = conn
        self.status = status
        hop = _hop_names(raw_headers)
        keep = b"close" not in hop and (http11 or b"keep-alive" in hop)
        lengths: set[bytes] = set()
        codings: list[bytes] = []
        for name, value in raw_headers:
            if name == b"content-length":
                lengths.update(v.strip() for v in value.split(b","))
            elif name == b"transfer-encoding":
                codings += (c.strip() for c in value.lower().split(b",") if c.strip())
        self.headers = [(n, v) for n, v in raw_headers
                        if n not in _HOP_BY_HOP and n not in hop and not n.startswith(b"proxy-")]
        length = lengths.pop() if len(lengths) == 1 else None
        if lengths or (length is not None and not (length.isdigit() and len(length) < 19)):
            raise UpstreamProtocolError("invalid content-length")
        self.content_length = int(length) if length is not None else None
        self._left, self._crlf = 0, False
        if is_head or status in (204, 304):
            self._mode = _NONE
        elif codings:
            if codings != [b"chunked"]:
                raise UpstreamProtocolError("unsupported transfer-encoding")
            self._mode, self.content_length = _CHUNKED, None
            keep = keep and length is None  # both framings: smuggling risk, never reuse
        elif self.content_length is not None:
            self._mode, self._left = _LENGTH, self.content_length
        else:
            self._mode, keep = _CLOSE, False
        self._keep = keep
        if self._mode == _NONE or (self._mode == _LENGTH and not self._left):
            self._finish()

    def header(self, name: bytes) -> bytes | None:
        """First value of header ``name`` (lowercase), or None."""
        for n, v in self.headers:
            if n == name:
                return v
        return None

    async def read(self, limit: int, timeout: float) -> bytes:  # noqa: ASYNC109
        """The whole body; BodyTooLarge past ``limit`` bytes, UpstreamTimeout past ``timeout`` s."""
        if self._mode == _LENGTH and self._left > limit:
            self._abort()
            raise BodyTooLarge("response body exceeds the limit")
        parts: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(timeout):
                if self._mode == _LENGTH:
                    data = await self._r.readexactly(self._left)
                    self._left = 0
                    self._finish()
                    return data
                while piece := await self._piece():
                    size += len(piece)
                    if size > limit:
                        raise BodyTooLarge("response body exceeds the limit")
                    parts.append(piece)
        except BaseException as e:
            self._abort()
            if (mapped := _body_error(e, "reading the response body")) is None:
                raise
            raise mapped from e
        return b"".join(parts)

    def chunks(self, idle_timeout: float | None) -> AsyncIterator[bytes]:
        """Body bytes as they arrive (de-chunked); ``idle_timeout`` bounds each wait for more."""
        return _Chunks(self, idle_timeout)

    async def aclose(self) -> None:
        """Release the connection: pooled if the body was consumed, else closed."""
        if self._conn is not None:
            self._abort()

    async def __aenter__(self) -> UpstreamResponse:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    def _finish(self) -> None:
        conn, self._conn, self._mode = self._conn, None, _DONE
        if conn is not None:
            self._pool._release(conn, self._keep)

    def _abort(self) -> None:
        conn, self._conn = self._conn, None
        if self._mode != _DONE:
            self._mode = _ABORTED
        if conn is not None:
            conn[1].close()

    async def _piece(self) -> bytes:
        """Next run of body bytes (at most 64 KiB); b"" once the body is complete."""
        r, mode = self._r, self._mode
        if mode == _DONE:
            return b""
        if mode == _ABORTED:
            raise UpstreamProtocolError("response was closed before its body was read")
        if mode == _CLOSE:
            data = await r.read(_PIECE)
            if not data:
                self._finish()
            return data
        while not self._left:  # chunked, between chunks
            if self._crlf:
                if await r.readexactly(2) != b"\r\n":
                    raise UpstreamProtocolError("bad chunk terminator")
                self._crlf = False
            size = (await r.readuntil(b"\r\n"))[:-2].split(b";", 1)[0].strip(b" \t")
            if _HEX.fullmatch(size) is None:
                raise UpstreamProtocolError("bad chunk size")
            if not (n := int(size, 16)):
                await self._trailers()
                self._finish()
                return b""
            self._left = n
        data = await r.read(min(_PIECE, self._left))
        if not data:
            raise UpstreamProtocolError("connection closed mid-body")
        self._left -= len(data)
        if not self._left:
            if mode == _LENGTH:
                self._finish()
            else:
                self._crlf = True
        return data

    async def _trailers(self) -> None:
        total = 0
        while (line := await self._r.readuntil(b"\r\n")) != b"\r\n":
            total += len(line)
            if total > self._pool.max_header_bytes:
                raise UpstreamProtocolError("chunked trailers too large")


class _Chunks:
    """Async iterator over a response body (see :meth:`UpstreamResponse.chunks`)."""

    __slots__ = ("_idle", "_resp")

    def __init__(self, resp: UpstreamResponse, idle_timeout: float | None) -> None:
        self._resp, self._idle = resp, idle_timeout

    def __aiter__(self) -> _Chunks:
        return self

    async def __anext__(self) -> bytes:
        resp = self._resp
        try:
            async with asyncio.timeout(self._idle):
                piece = await resp._piece()
        except BaseException as e:
            resp._abort()
            if (mapped := _body_error(e, "waiting for streamed body bytes")) is None:
                raise
            raise mapped from e
        if not piece:
            raise StopAsyncIteration
        return piece
