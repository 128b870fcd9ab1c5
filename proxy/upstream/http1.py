"""Lean pooled keep-alive HTTP/1.1 client on asyncio streams, for one upstream origin.

It costs roughly a tenth of ``httpx.AsyncClient``'s CPU per call (see ``bench/upstream_client.py``).
Bodies may be framed by Content-Length, chunked (trailers are read and dropped) or connection
close; 1xx/204/304 and HEAD answers carry none. Interim 1xx answers (100, 103) are skipped.
New connections open in `dial.py` (directly or through an HTTP CONNECT tunnel, then TLS for https://);
a reused one costs nothing more.
"""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

from proxy.upstream._wire import (
    _HOP_BY_HOP,
    _MAX_INTERIM,
    _NO_BODY_METHODS,
    _PIECE,
    _TOKEN,
    _Conn,
    _hop_names,
    _parse_head,
)
from proxy.upstream.dial import CLOSED_AFTER_HANDSHAKE, ConnectFailed, Dialer
from proxy.upstream.errors import (
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from proxy.upstream.proxies import ProxyRoute
from proxy.upstream.response import UpstreamResponse
from proxy.upstream.tls import reason

__all__ = ["UpstreamPool", "UpstreamResponse"]


class _Stale(Exception):
    """A reused connection failed on write or hit EOF/reset before any response byte."""


class UpstreamPool:
    """Keep-alive connections to one upstream origin, handed out one request at a time."""

    def __init__(self, base_url: str, *, connect_timeout: float = 5.0, max_idle: int = 64,
                 max_header_bytes: int = 65536, ssl_context: ssl.SSLContext | None = None,
                 server_name: str | None = None, proxy: ProxyRoute | None = None) -> None:
        """``ssl_context`` and ``server_name`` (SNI and the name verified; default: the URL's host) apply to
        https:// only; ``proxy``: tunnel every connection through this HTTP proxy with CONNECT."""
        u = urlsplit(base_url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("base_url must be http(s)://host[:port][/path]")
        if u.username is not None or u.password is not None or u.query or u.fragment:
            raise ValueError("base_url must not carry credentials, query or fragment")
        default_port = 443 if u.scheme == "https" else 80
        port = u.port or default_port
        tls = (ssl_context or ssl.create_default_context()) if u.scheme == "https" else None
        self._dialer = Dialer(u.hostname, port, tls=tls, server_name=server_name, proxy=proxy,
                              limit=max_header_bytes)
        host = f"[{u.hostname}]" if ":" in u.hostname else u.hostname
        hostport = host if port == default_port else f"{host}:{port}"
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
                conn = await self._dialer.open()
        except TimeoutError as e:
            raise UpstreamTimeout(f"timed out connecting to upstream{self._dialer.via}") from e
        except ConnectFailed as e:
            raise UpstreamUnavailable(f"cannot connect to upstream: {e}") from e
        return conn, False

    async def probe(self) -> str | None:
        """None when a new connection opens (through the proxy, TLS handshake included), else why not.
        The caller bounds it with its own timeout."""
        return await self._dialer.check()

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
        for n in range(_MAX_INTERIM):
            try:
                raw = await r.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as e:
                if retryable and not getattr(e, "partial", b""):  # EOF or reset before any response byte
                    raise _Stale from e
                if not n and not getattr(e, "partial", b"") and w.get_extra_info("ssl_object"):  # a new connection
                    raise UpstreamUnavailable(CLOSED_AFTER_HANDSHAKE) from e  # TLS 1.3: client certificate refused
                raise UpstreamProtocolError("connection closed before the response head") from e
            except ssl.SSLError as e:  # e.g. TLS 1.3: the upstream refuses the client certificate after the handshake
                if retryable:
                    raise _Stale from e
                raise UpstreamUnavailable(f"upstream ended the TLS session ({reason(e)})") from e
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
