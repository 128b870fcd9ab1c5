"""The optional metrics listener (`admin.metrics_listen`): GET /metrics and nothing else, no token."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from proxy.metrics.exposition import CONTENT_TYPE, Scrape


def build_metrics_app(scrape: Scrape) -> Starlette:
    async def metrics(_: Request) -> Response:
        return Response(await scrape.text(), media_type=CONTENT_TYPE)

    async def not_found(_: Request, __: Exception) -> Response:
        return PlainTextResponse("not found: this listener serves GET /metrics only\n", status_code=404)

    return Starlette(routes=[Route("/metrics", metrics, methods=["GET"])], exception_handlers={404: not_found})
