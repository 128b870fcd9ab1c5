"""Which upstreams answer: probed in the serving event loop, reported by `/readyz`.

An upstream nobody answers at start-up is a warning and a not-ready route, never a refusal to start: the
other routes serve, and its own serves as soon as it answers (a call before that gets the usual JSON-RPC
`upstream unavailable` error, audited like any other answer). Every upstream is probed with a connection
(and a TLS handshake for https://): after a failure again in 0.5 s, doubling up to 30 s; while it answers,
every 10 s. A real call that finds an upstream in another state than its probe said asks for a probe at once
(at most two a second). Each change is a warning in the log (an upstream that answers from the start writes
none); the audit trail already has every call such an upstream failed, as the proxy's error answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from urllib.parse import urlsplit

from proxy.types import JsonObject

log = logging.getLogger("drawbridge")
FIRST_RETRY = 0.5  # seconds after the first failure; also the shortest time between two probes
MAX_RETRY = 30.0
RECHECK = 10.0  # between probes of an upstream that answers
PROBE_TIMEOUT = 3.0  # at most (the upstream's own connect timeout when shorter)
NOT_PROBED = "not probed yet"


class UpstreamProbe:
    """One upstream's reachability, as last probed."""

    def __init__(self, name: str, url: str, check: Callable[[], Awaitable[str | None]],
                 connect_timeout: float = PROBE_TIMEOUT) -> None:
        """``check``: open a connection as calls do (the upstream pool's: its TLS settings and proxy), None or
        why not."""
        parts = urlsplit(url)
        self.check = check
        self.name = name
        self.url = url
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.timeout = min(connect_timeout, PROBE_TIMEOUT)
        self.ready = False
        self.probed = False
        self.detail = NOT_PROBED
        self.since = time.monotonic()  # of the current state
        self.wake = asyncio.Event()

    @property
    def address(self) -> str:
        """`HOST:PORT` (never the URL's path)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def observed(self, reachable: bool) -> None:
        """A real call reached the upstream, or could not: probe again now if that is news."""
        if reachable is not self.ready and self.probed:
            self.wake.set()

    async def probe(self) -> str | None:
        """None when the upstream accepts a connection (and a TLS handshake), else why not."""
        try:
            async with asyncio.timeout(self.timeout):
                return await self.check()
        except TimeoutError:
            return f"no answer within {self.timeout:g} s"

    def state(self) -> JsonObject:
        return {"ready": self.ready, "detail": self.detail}


class Readiness:
    """Probes every upstream in the background (started and stopped with the data plane's lifespan)."""

    def __init__(self, probes: Iterable[UpstreamProbe]) -> None:
        self.probes = {p.name: p for p in probes}
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Probe every upstream once, together (a few seconds at most), then keep watching in the background:
        `/readyz` is right from the first request, and the start-up log names what is down."""
        probes = list(self.probes.values())
        for probe, problem in zip(probes, await asyncio.gather(*(p.probe() for p in probes)), strict=True):
            self._settle(probe, problem)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._watch(p, p.ready), name=f"probe:{p.name}") for p in probes]

    async def aclose(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    def any_ready(self) -> bool:
        return any(p.ready for p in self.probes.values())

    def report(self) -> dict[str, JsonObject]:
        return {name: probe.state() for name, probe in sorted(self.probes.items())}

    async def _watch(self, probe: UpstreamProbe, ready: bool) -> None:
        """Wait (RECHECK while it answers; FIRST_RETRY doubling to MAX_RETRY while it does not, or until a call
        reports news, but at least FIRST_RETRY), probe, repeat."""
        delay = FIRST_RETRY
        while True:
            if ready:
                wait, delay = RECHECK, FIRST_RETRY
            else:
                wait, delay = delay, min(delay * 2, MAX_RETRY)
            await asyncio.sleep(FIRST_RETRY)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait - FIRST_RETRY):
                    await probe.wake.wait()
            probe.wake.clear()
            problem = await probe.probe()
            self._settle(probe, problem)
            ready = problem is None

    def _settle(self, probe: UpstreamProbe, problem: str | None) -> None:
        """Record a probe's result; a change is logged."""
        first, was = not probe.probed, probe.ready
        probe.probed = True
        probe.detail = "reachable" if problem is None else problem
        if problem is None and not was:
            if not first:
                log.warning("upstream %s at %s is reachable again after %.1f s: its route is ready", probe.name,
                            probe.url, time.monotonic() - probe.since)
            probe.ready, probe.since = True, time.monotonic()
        elif problem is not None and (first or was):
            probe.ready, probe.since = False, time.monotonic()
            log.warning("upstream %s at %s is unreachable (%s): its route is not ready; the other routes "
                        "serve, and it is probed again in the background", probe.name, probe.url, problem)
        elif problem is not None:
            log.debug("upstream %s at %s still unreachable (%s)", probe.name, probe.url, problem)
