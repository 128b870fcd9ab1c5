"""Upstream probes (`proxy/http/readiness.py`) against real loopback sockets: what a probe says, and how the
background watch follows an upstream that comes and goes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from proxy.http.readiness import FIRST_RETRY, PROBE_TIMEOUT, Readiness, UpstreamProbe
from proxy.upstream import UpstreamPool
from tests.support.drawbridge import free_port

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def listening(port: int = 0, *, reply: bytes = b"") -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that writes `reply` to each connection and closes it."""
    async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(reply)
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", port)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def probe_of(name: str, url: str, timeout: float = PROBE_TIMEOUT) -> UpstreamProbe:
    """A probe that dials as the upstream's pool does (as the data plane builds it)."""
    return UpstreamProbe(name, url, UpstreamPool(url, connect_timeout=timeout).probe, timeout)


async def test_a_listening_upstream_is_reachable_and_a_closed_port_is_refused() -> None:
    async with listening() as port:
        assert await probe_of("notes", f"http://127.0.0.1:{port}/mcp").probe() is None
    closed = probe_of("notes", f"http://127.0.0.1:{free_port()}/mcp")
    assert await closed.probe() == "connection refused"
    assert closed.address.startswith("127.0.0.1:")
    assert probe_of("v6", "http://[::1]:8000/mcp").address == "[::1]:8000"
    assert probe_of("tls", "https://mcp.example/mcp").address == "mcp.example:443"


async def test_https_needs_the_tls_handshake_not_only_the_connection() -> None:
    async with listening(reply=b"HTTP/1.1 400 Bad Request\r\n\r\n") as port:
        problem = await probe_of("notes", f"https://127.0.0.1:{port}/mcp").probe()
    assert problem is not None and problem.startswith("TLS handshake failed"), problem


async def test_a_name_that_does_not_resolve_says_so() -> None:
    problem = await probe_of("notes", "http://no-such-host.invalid:8000/mcp", 1.0).probe()
    assert problem is not None
    assert problem.startswith("cannot resolve no-such-host.invalid") or problem == "no answer within 1 s", problem


async def test_the_watch_finds_an_upstream_that_appears_and_one_that_goes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "drawbridge")
    port = free_port()
    probe = probe_of("notes", f"http://127.0.0.1:{port}/mcp")
    readiness = Readiness([probe])
    await readiness.start()  # the first round is done when start() returns
    try:
        assert (probe.ready, probe.detail) == (False, "connection refused")
        assert not readiness.any_ready()
        assert readiness.report() == {"notes": {"ready": False, "detail": "connection refused"}}
        [warning] = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warning.startswith(f"upstream notes at http://127.0.0.1:{port}/mcp is unreachable (connection refused)")
        async with listening(port):
            await wait_for(lambda: probe.ready, 10)  # backoff: 0.5, 1, 2… seconds
            assert readiness.report() == {"notes": {"ready": True, "detail": "reachable"}}
            assert any("is reachable again" in r.getMessage() for r in caplog.records)
        # gone again: a call that could not connect asks for a probe at once (no 10 s wait)
        probe.observed(False)
        await wait_for(lambda: not probe.ready, 3)
        assert probe.detail == "connection refused"
        # a call that did connect while the probe said otherwise: probed again at once too
        async with listening(port):
            probe.observed(True)
            await wait_for(lambda: probe.ready, FIRST_RETRY + 3)
    finally:
        await readiness.aclose()


async def test_calls_that_agree_with_the_probe_do_not_wake_it() -> None:
    with socket.socket() as held:  # bound, not listening: connections are refused
        held.bind(("127.0.0.1", 0))
        probe = probe_of("notes", f"http://127.0.0.1:{held.getsockname()[1]}/mcp")
        readiness = Readiness([probe])
        await readiness.start()
        try:
            probe.observed(False)
            assert not probe.wake.is_set()
            probe.observed(True)
            assert probe.wake.is_set()
        finally:
            await readiness.aclose()


async def wait_for(predicate: Callable[[], bool], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110 (state the background probe changes)
            await asyncio.sleep(0.02)
