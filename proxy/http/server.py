"""`drawbridge serve`: check the configuration, then run uvicorn (every upstream probed in the background)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import uvicorn

from proxy.admin.auth import split_listen as split_admin_listen
from proxy.audit import system_event
from proxy.config import Config, split_listen
from proxy.errors import ConfigError
from proxy.http.admin_plane import build_admin
from proxy.http.app import build_app, endpoint_path
from proxy.http.containment import PlaneContainment
from proxy.http.context import Plane
from proxy.http.workers import STOP_SIGNALS, Supervisor, worker_count
from proxy.metrics.app import build_metrics_app
from proxy.runtime import Runtime

log = logging.getLogger("drawbridge")


def serve(config: Config) -> int:
    """Run the data plane (and the admin API, when configured) until interrupted; returns the exit code.
    With `workers` > 1, a supervisor forks that many worker processes on one listener (`workers.py`).
    An upstream nobody answers does not stop it: its route is not ready until it does (`readiness.py`)."""
    if not config.upstreams:
        raise ConfigError("no upstream configured: give --upstream URL or upstreams: in the config file")
    count = worker_count(config.workers)
    if count > 1:
        return Supervisor(config, count, serve_worker).run()
    return serve_worker(config, None)


def serve_worker(config: Config, sock: socket.socket | None) -> int:
    """One data-plane process: on `sock` (a listener shared with the other workers) or on its own. A stop
    signal that comes while it starts is obeyed once it serves (it drains at once); one that comes while it
    writes `proxy_stopped` and flushes the audit sinks waits for that."""
    requested: list[int] = []

    def note(signum: int, _: FrameType | None) -> None:
        requested.append(signum)

    previous = {signum: signal.signal(signum, note) for signum in STOP_SIGNALS}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # a worker is forked with them blocked
    try:
        _serve(config, sock, requested, note)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 0


def _serve(config: Config, sock: socket.socket | None, requested: list[int],
           note: Callable[[int, FrameType | None], None]) -> None:
    host, port = split_listen(config.listen)
    runtime = Runtime.build(config)
    plane = Plane(runtime, config)
    PlaneContainment(plane, runtime.store)
    admin = build_admin(runtime, config)
    servers = [Listener(_uvicorn_config(build_app(plane), host, port, config), on_drain=plane.drain)]
    if admin is not None:
        servers.append(Listener(_uvicorn_config(admin[0], admin[1], admin[2], config)))
        log.info("admin API at http://%s:%d/v1/", admin[1], admin[2])
    if config.admin is not None and config.admin.metrics_listen is not None:
        metrics_host, metrics_port = split_admin_listen(config.admin.metrics_listen)
        servers.append(Listener(_uvicorn_config(build_metrics_app(runtime.scrape()), metrics_host, metrics_port,
                                                config)))
        log.info("metrics at http://%s:%d/metrics", metrics_host, metrics_port)
    for name in plane.upstreams:
        log.info("serving %s -> %s at http://%s%s", name, plane.upstreams[name].pool.host_header.decode(),
                 config.listen, endpoint_path(name))
    runtime.auditor.emit(system_event("proxy_started", listen=config.listen, upstreams=sorted(plane.upstreams),
                                      policy_version=runtime.holder.policy.version, store=_store_kind(config.store),
                                      admin=config.admin.listen if config.admin else None))
    try:
        _run(servers, sock, config.drain_timeout_seconds, requested)
    finally:
        for signum in STOP_SIGNALS:
            signal.signal(signum, note)  # the loop's handlers are gone: the last events are not cut short
        runtime.close(listen=config.listen)  # writes proxy_stopped, then flushes every audit sink


def _store_kind(url: str) -> str:
    return url.split(":", 1)[0]  # never the URL itself: it may carry a password


def _uvicorn_config(app: Any, host: str, port: int, config: Config) -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, loop="none", http="httptools", lifespan="on",
                          access_log=False, log_config=None, log_level=config.log_level, server_header=False,
                          date_header=False, proxy_headers=False,
                          timeout_graceful_shutdown=config.drain_timeout_seconds)


class Listener(uvicorn.Server):
    """A uvicorn server that leaves the stop signals to `_run` (one handler for every listener of the process,
    so none of them re-raises a signal uvicorn caught: that would end the process before `proxy_stopped`), and
    calls `on_drain` when it stops accepting."""

    def __init__(self, config: uvicorn.Config, on_drain: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self.on_drain = on_drain

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.on_drain is not None:
            self.on_drain()
        await super().shutdown(sockets=sockets)


def _run(servers: list[Listener], sock: socket.socket | None = None, drain: int = 25,
         requested: list[int] | None = None) -> None:
    """Serve every listener on one event loop (uvloop when installed); the first on `sock` when given.

    SIGTERM or SIGINT (once; another is noted, not obeyed) stops them all together: each stops accepting and
    waits up to `drain` seconds for its requests in flight, then the data plane's lifespan ends. A listener
    that ends on its own ends the others. `requested`: stop signals that came before the loop ran."""
    async def main() -> None:
        loop = asyncio.get_running_loop()

        def stop(signum: int) -> None:
            name = signal.Signals(signum).name
            if all(server.should_exit for server in servers):
                log.warning("%s: already draining (at most %d s)", name, drain)
                return
            log.warning("%s: draining: no new connections; calls in flight have up to %d s to finish", name, drain)
            for server in servers:
                server.should_exit = True

        async def serve(n: int, server: Listener) -> None:
            try:
                await server.serve(sockets=[sock] if sock is not None and n == 0 else None)
            finally:
                for other in servers:
                    other.should_exit = True

        for signum in STOP_SIGNALS:
            loop.add_signal_handler(signum, stop, signum)
        for early in requested or ():
            stop(early)
        try:
            await asyncio.gather(*(serve(n, server) for n, server in enumerate(servers)))
        finally:
            for signum in STOP_SIGNALS:
                loop.remove_signal_handler(signum)

    try:
        import uvloop
    except ImportError:
        asyncio.run(main())
    else:
        uvloop.run(main())
