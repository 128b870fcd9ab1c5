"""The data-plane Starlette app: one raw-ASGI MCP endpoint per upstream, plus health probes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from proxy.config import DEFAULT_UPSTREAM
from proxy.http import drain
from proxy.http.asgi import Receive, Scope, Send
from proxy.http.context import Plane
from proxy.http.endpoint import McpEndpoint
from proxy.http.resource_metadata import ResourceMetadata, is_metadata_path
from proxy.state.codec import StoreUnavailable

log = logging.getLogger("drawbridge")


def endpoint_path(name: str) -> str:
    """`/mcp` for the default upstream, `/<name>/mcp` for the others."""
    return "/mcp" if name == DEFAULT_UPSTREAM else f"/{name}/mcp"


class DataPlane:
    """Dispatch MCP paths straight to their endpoint, the OAuth metadata paths to theirs; everything else (probes,
    lifespan) to Starlette. Each MCP request runs under the drain rules (`drain.py`)."""

    def __init__(self, plane: Plane, endpoints: dict[str, McpEndpoint], fallback: Starlette) -> None:
        self._plane = plane
        self._endpoints = endpoints
        self._fallback = fallback
        self._metadata = ResourceMetadata.of(plane.guard, plane.resources)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = self._endpoints.get(scope["path"].rstrip("/"))
            if endpoint is not None:
                run = drain.stream if scope["method"] == "GET" else drain.call
                await run(self._plane, endpoint.upstream.name, endpoint, scope, receive, send)
                return
            if is_metadata_path(scope["path"]):
                await self._metadata(scope, receive, send)
                return
        await self._fallback(scope, receive, send)


def build_app(plane: Plane) -> DataPlane:
    runtime = plane.runtime

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        """200 while the store is healthy and at least one upstream answers (one upstream down must not take
        the whole pod out of its Service); `degraded` when some do not. The body says which."""
        store = runtime.store.healthy
        upstreams = plane.readiness.report()
        ready = store and plane.readiness.any_ready()
        every = all(u["ready"] for u in upstreams.values())
        return JSONResponse({"status": ("ready" if every else "degraded") if ready else "unready",
                             "store": "ok" if store else "unavailable",
                             "policy_version": runtime.holder.policy.version, "upstreams": upstreams},
                            status_code=200 if ready else 503)

    async def readyz_upstream(request: Request) -> JSONResponse:
        """One route alone: 200 while the store is healthy and this upstream answers."""
        name = request.path_params["name"]
        probe = plane.readiness.probes.get(name)
        if probe is None:
            return JSONResponse({"status": "unknown", "detail": f"no upstream named {name[:64]!r}"},
                                status_code=404)
        store = runtime.store.healthy
        ready = store and probe.ready
        return JSONResponse({"status": "ready" if ready else "unready", "store": "ok" if store else "unavailable",
                             "upstream": name, **probe.state()}, status_code=200 if ready else 503)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        try:
            await runtime.start()
        except StoreUnavailable as exc:
            log.error("state store unavailable at start-up: %s", exc)
            raise
        await plane.readiness.start()
        watcher = None
        if runtime.config.policy_reload.watch:
            watcher = loop.create_task(runtime.holder.watch(runtime.config.policy_reload.interval_seconds))
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, runtime.holder.reload)
            loop.add_signal_handler(signal.SIGUSR1, runtime.auditor.reopen)  # logrotate: reopen the audit files
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGHUP)
                loop.remove_signal_handler(signal.SIGUSR1)
            await plane.readiness.aclose()
            await plane.aclose()
            await runtime.aclose()

    endpoints = {endpoint_path(name): McpEndpoint(plane, name) for name in plane.upstreams}
    probes = Starlette(routes=[Route("/healthz", healthz), Route("/readyz", readyz),
                               Route("/readyz/{name}", readyz_upstream)], lifespan=lifespan)
    return DataPlane(plane, endpoints, probes)
