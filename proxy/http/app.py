"""The data-plane Starlette app: one raw-ASGI MCP endpoint per upstream, plus health probes."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from proxy.config import DEFAULT_UPSTREAM
from proxy.http.context import Plane
from proxy.http.endpoint import McpEndpoint


def endpoint_path(name: str) -> str:
    """`/mcp` for the default upstream, `/<name>/mcp` for the others."""
    return "/mcp" if name == DEFAULT_UPSTREAM else f"/{name}/mcp"


def build_app(plane: Plane) -> Starlette:
    runtime = plane.runtime

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ready", "policy_version": runtime.holder.policy.version,
                             "upstreams": sorted(plane.upstreams)})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        watcher = None
        if runtime.config.policy_reload.watch:
            watcher = loop.create_task(runtime.holder.watch(runtime.config.policy_reload.interval_seconds))
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, runtime.holder.reload)
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGHUP)
            await plane.aclose()

    routes = [Route(endpoint_path(name), McpEndpoint(plane, name), methods=["GET", "POST", "DELETE"])
              for name in plane.upstreams]
    routes += [Route("/healthz", healthz), Route("/readyz", readyz)]
    return Starlette(routes=routes, lifespan=lifespan)
