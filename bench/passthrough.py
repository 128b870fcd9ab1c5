"""The floor of any Python hop: a raw asyncio TCP splice that never parses HTTP or JSON.

Each accepted connection gets its own upstream connection; bytes are copied both ways by
asyncio Protocols (no StreamReader buffering), with flow control so a slow side pauses the
other. Whatever Drawbridge costs above this is the price of understanding the messages.

Usage: python -m bench.passthrough LISTEN_PORT UPSTREAM_PORT [--no-uvloop]
Both sides are 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import cast

HOST = "127.0.0.1"


class _Side(asyncio.Protocol):
    """One end of a splice; forwards what it receives to its peer's transport."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.pending: list[bytes] = []  # bytes that arrived before the peer was connected

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is None or peer.transport is None:
            self.pending.append(data)
        else:
            peer.transport.write(data)

    def eof_received(self) -> bool:
        if self.peer is not None and self.peer.transport is not None and self.peer.transport.can_write_eof():
            self.peer.transport.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()

    def pause_writing(self) -> None:  # our send buffer is full: stop reading from the peer
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class _Client(_Side):
    """The agent's side: opens the upstream connection, then splices."""

    def __init__(self, upstream_port: int) -> None:
        super().__init__()
        self.upstream_port = upstream_port

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        assert self.transport is not None
        try:
            _, up = await asyncio.get_running_loop().create_connection(_Side, HOST, self.upstream_port)
        except OSError:
            self.transport.close()
            return
        up.peer, self.peer = self, up
        for data in self.pending:
            up.transport.write(data)  # type: ignore[union-attr]
        self.pending.clear()
        if self.transport.is_closing():
            up.transport.close()  # type: ignore[union-attr]


async def serve(listen_port: int, upstream_port: int) -> None:
    """Accept on 127.0.0.1:listen_port and splice each connection to 127.0.0.1:upstream_port."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Client(upstream_port), HOST, listen_port, backlog=1024)
    print(f"bench passthrough: {HOST}:{listen_port} -> {HOST}:{upstream_port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("listen_port", type=int)
    ap.add_argument("upstream_port", type=int)
    ap.add_argument("--no-uvloop", action="store_true")
    args = ap.parse_args(argv)
    runner = asyncio.run
    if not args.no_uvloop:
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            pass
    with contextlib.suppress(KeyboardInterrupt):
        runner(serve(args.listen_port, args.upstream_port))


if __name__ == "__main__":
    main()
