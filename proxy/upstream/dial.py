"""Open one connection to an upstream: directly or through an HTTP CONNECT tunnel, then TLS for https://.

Every upstream connection through a proxy is a CONNECT tunnel, http:// upstreams included (the proxy never
sees a request, a header or a credential meant for the upstream). The caller bounds the whole with its
connect timeout; any failure is a `ConnectFailed` carrying a short reason that never holds a secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl

from proxy.upstream._wire import _Conn, _parse_head
from proxy.upstream.errors import UpstreamProtocolError
from proxy.upstream.proxies import ProxyRoute
from proxy.upstream.tls import reason

__all__ = ["CLOSED_AFTER_HANDSHAKE", "ConnectFailed", "Dialer"]

TLS_VERDICT_WAIT = 0.2  # s a check waits after a TLS 1.3 handshake for the upstream to refuse the client certificate
CLOSED_AFTER_HANDSHAKE = ("upstream closed the TLS connection right after the handshake (it may require a client "
                          "certificate, or refuse this one)")

_HINTS = {407: ": proxy authentication required", 403: ": forbidden by the proxy", 502: ": the proxy could not "
          "reach the upstream", 503: ": the proxy could not reach the upstream", 504: ": the proxy timed out"}


class ConnectFailed(Exception):
    """No connection: the message says why (`connection refused`, `TLS handshake failed (...)`, ...)."""


class Dialer:
    """Opens connections to one upstream origin with its TLS context and proxy (both fixed at start-up)."""

    def __init__(self, host: str, port: int, *, tls: ssl.SSLContext | None, server_name: str | None = None,
                 proxy: ProxyRoute | None = None, limit: int = 65536) -> None:
        self.host, self.port, self.tls, self.proxy, self.limit = host, port, tls, proxy, limit
        self.server_name = (server_name or host) if tls is not None else None
        self.via = f" through proxy {proxy.address}" if proxy else ""
        self.authority = (f"[{host}]" if ":" in host else host.encode("idna").decode("ascii")) + f":{port}"
        target = self.authority.encode("ascii")
        auth = b"Proxy-Authorization: " + proxy.authorization + b"\r\n" if proxy and proxy.authorization else b""
        self._connect = b"CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n" % (target, target, auth)

    async def open(self) -> _Conn:
        """A new connection (TLS handshake done); ConnectFailed, or TimeoutError from the caller's deadline."""
        if self.proxy is None:
            try:
                return await asyncio.open_connection(self.host, self.port, limit=self.limit, ssl=self.tls,
                                                     server_hostname=self.server_name)
            except OSError as exc:
                raise ConnectFailed(_why(exc, self.host)) from exc
        r, w = await self._tunnel(self.proxy)
        if self.tls is not None:
            try:
                await w.start_tls(self.tls, server_hostname=self.server_name)
            except BaseException as exc:
                w.close()
                if isinstance(exc, OSError):
                    raise ConnectFailed(f"{_why(exc, self.host)}{self.via}") from exc
                raise
        return r, w

    async def check(self) -> str | None:
        """None when a connection opens, else why not. With TLS 1.3 an upstream judges the client certificate
        after the handshake: wait a moment for its verdict (silence: accepted)."""
        try:
            r, w = await self.open()
        except ConnectFailed as exc:
            return str(exc)
        try:
            ssl_object = w.get_extra_info("ssl_object")
            if ssl_object is not None and ssl_object.version() == "TLSv1.3":
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(TLS_VERDICT_WAIT):
                        if not await r.read(1):
                            return CLOSED_AFTER_HANDSHAKE
        except ssl.SSLError as exc:
            return f"upstream ended the TLS session ({reason(exc)})"
        except ConnectionError:
            return CLOSED_AFTER_HANDSHAKE
        finally:
            w.close()
        return None

    async def _tunnel(self, proxy: ProxyRoute) -> _Conn:
        try:
            r, w = await asyncio.open_connection(proxy.host, proxy.port, limit=self.limit)
        except OSError as exc:
            raise ConnectFailed(f"cannot reach proxy {proxy.address} ({_why(exc, proxy.host)})") from exc
        try:
            w.write(self._connect)
            head = await r.readuntil(b"\r\n\r\n")
            status = _parse_head(head)[0]
        except BaseException as exc:
            w.close()
            if isinstance(exc, asyncio.LimitOverrunError | UpstreamProtocolError):
                raise ConnectFailed(f"proxy {proxy.address} answered CONNECT with malformed HTTP") from exc
            if isinstance(exc, asyncio.IncompleteReadError | OSError):
                raise ConnectFailed(f"proxy {proxy.address} closed the connection before answering "
                                    "CONNECT") from exc
            raise
        if not 200 <= status < 300:
            w.close()
            raise ConnectFailed(f"proxy {proxy.address} refused the tunnel to {self.authority} "
                                f"(HTTP {status}{_HINTS.get(status, '')})")
        return r, w


def _why(exc: OSError, host: str) -> str:
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {host} ({exc.strerror or 'no address'})"
    if isinstance(exc, ssl.SSLError):
        return f"TLS handshake failed ({reason(exc)})"
    if exc.errno is not None and exc.errno > 0:
        return os.strerror(exc.errno).lower()
    return exc.strerror or type(exc).__name__
