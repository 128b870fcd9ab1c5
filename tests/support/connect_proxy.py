"""A small real HTTP CONNECT proxy on 127.0.0.1, for the upstream proxy tests.

It runs its own event loop in a thread (so a `drawbridge serve` subprocess and in-process pools can both use
it), tunnels only to loopback targets, and records what it saw: every CONNECT target it tunnelled and every
`Proxy-Authorization` value. It can require Basic credentials (407 otherwise), refuse every tunnel with a
status, or never answer (a CONNECT that times out).

    with ConnectProxy(credentials=("svc", "s3cret")) as proxy:
        ...  # HTTPS_PROXY=proxy.url_with("svc", "s3cret")
        assert proxy.tunnels == ["127.0.0.1:8443"]
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import threading
from types import TracebackType

_LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


class ConnectProxy:
    """Tunnels CONNECT requests to loopback; see the module docstring."""

    def __init__(self, *, credentials: tuple[str, str] | None = None, refuse: int | None = None,
                 silent: bool = False) -> None:
        self.credentials, self.refuse, self.silent = credentials, refuse, silent
        self.tunnels: list[str] = []  # targets tunnelled, in order
        self.requests: list[str] = []  # every request line received
        self.authorizations: list[str | None] = []  # the Proxy-Authorization of each request
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="connect-proxy", daemon=True)
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url_with(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the CONNECT proxy did not start")
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self._loop.call_soon_threadsafe(self._stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._server.wait_closed())
        self._loop.close()

    def _stop(self) -> None:
        self._server.close()
        for task in self._tasks:
            task.cancel()
        self._loop.call_later(0.05, self._loop.stop)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        line, *lines = head[:-4].split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
        self.requests.append(line)
        self.authorizations.append(headers.get("proxy-authorization"))
        if self.silent:
            await reader.read()
            return
        method, target, _ = [*line.split(" "), "", ""][:3]
        if method != "CONNECT":
            return await _answer(writer, 405)
        if self.refuse is not None:
            return await _answer(writer, self.refuse)
        if self.credentials is not None:
            expected = "Basic " + base64.b64encode(":".join(self.credentials).encode()).decode()
            if headers.get("proxy-authorization") != expected:
                return await _answer(writer, 407, b"Proxy-Authenticate: Basic realm=\"test\"\r\n")
        host, _, port = target.rpartition(":")
        if host not in _LOOPBACK:
            return await _answer(writer, 403)
        try:
            up_reader, up_writer = await asyncio.open_connection(host.strip("[]"), int(port))
        except OSError:
            return await _answer(writer, 502)
        self.tunnels.append(target)
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            up_writer.close()


async def _answer(writer: asyncio.StreamWriter, status: int, extra: bytes = b"") -> None:
    writer.write(b"HTTP/1.1 %d Refused\r\n%sContent-Length: 0\r\nConnection: close\r\n\r\n" % (status, extra))
    with contextlib.suppress(ConnectionError):
        await writer.drain()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
