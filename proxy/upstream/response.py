"""An upstream response: status and headers read, body streamed or read whole."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import TYPE_CHECKING

from proxy.upstream._wire import (
    _ABORTED,
    _CHUNKED,
    _CLOSE,
    _DONE,
    _HEX,
    _HOP_BY_HOP,
    _LENGTH,
    _NONE,
    _PIECE,
    _body_error,
    _Conn,
    _hop_names,
)
from proxy.upstream.errors import (
    BodyTooLarge,
    UpstreamProtocolError,
)

if TYPE_CHECKING:
    from proxy.upstream.http1 import UpstreamPool

__all__ = ["UpstreamResponse"]


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
