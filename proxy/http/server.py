"""`drawbridge serve`: check the configuration, then run uvicorn (every upstream probed in the background)."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import uvicorn

from proxy.audit import system_event
from proxy.config import Config, split_listen
from proxy.errors import ConfigError
from proxy.http.admin_plane import build_admin
from proxy.http.app import build_app, endpoint_path
from proxy.http.containment import PlaneContainment
from proxy.http.context import Plane
from proxy.http.workers import Supervisor, worker_count
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
    """One data-plane process: on `sock` (a listener shared with the other workers) or on its own."""
    host, port = split_listen(config.listen)
    runtime = Runtime.build(config)
    plane = Plane(runtime, config)
    PlaneContainment(plane, runtime.store)
    admin = build_admin(runtime, config)
    servers = [uvicorn.Server(_uvicorn_config(build_app(plane), host, port, config))]
    if admin is not None:
        servers.append(uvicorn.Server(_uvicorn_config(admin[0], admin[1], admin[2], config)))
        log.info("admin API at http://%s:%d/v1/", admin[1], admin[2])
    for name in plane.upstreams:
        log.info("serving %s -> %s at http://%s%s", name, plane.upstreams[name].pool.host_header.decode(),
                 config.listen, endpoint_path(name))
    runtime.auditor.emit(system_event("proxy_started", listen=config.listen, upstreams=sorted(plane.upstreams),
                                      policy_version=runtime.holder.policy.version, store=_store_kind(config.store),
                                      admin=config.admin.listen if config.admin else None))
    try:
        _run(servers, sock)
    finally:
        runtime.close(listen=config.listen)  # writes proxy_stopped, then flushes every audit sink
    return 0


def _store_kind(url: str) -> str:
    return url.split(":", 1)[0]  # never the URL itself: it may carry a password


def _uvicorn_config(app: Any, host: str, port: int, config: Config) -> uvicorn.Config:
    return uvicorn.Config(app, host=host, port=port, loop="none", http="httptools", lifespan="on",
                          access_log=False, log_level=config.log_level, server_header=False,
                          date_header=False, proxy_headers=False, timeout_graceful_shutdown=5)


def _run(servers: list[uvicorn.Server], sock: socket.socket | None = None) -> None:
    """Serve every listener on one event loop (uvloop when installed); the first on `sock` when given."""
    async def main() -> None:
        await asyncio.gather(*(server.serve(sockets=[sock] if sock is not None and n == 0 else None)
                               for n, server in enumerate(servers)))

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:
        asyncio.run(main())
