"""Loopback receivers: a webhook endpoint and an RFC 7009 revocation endpoint that record what they get."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from proxy.containment.webhook import verify_signature


@dataclass
class Received:
    statuses: list[int] = field(default_factory=list)  # answers to give, in order (then 200)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def next_status(self) -> int:
        return self.statuses.pop(0) if self.statuses else 200


def webhook_app(secret: str, received: Received) -> Starlette:
    async def hook(request: Request) -> Response:
        body = await request.body()
        received.requests.append({
            "body": body, "headers": dict(request.headers), "path": request.url.path,
            "valid": verify_signature(secret, body, request.headers.get("x-drawbridge-signature", "")),
        })
        return Response(status_code=received.next_status())

    return Starlette(routes=[Route("/hooks/{rest:path}", hook, methods=["POST"])])


def revocation_app(client_id: str, client_secret: str, received: Received) -> Starlette:
    async def revoke(request: Request) -> Response:
        form = parse_qs((await request.body()).decode())
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        user, _, password = base64.b64decode(encoded).decode().partition(":") if scheme == "Basic" else ("", "", "")
        authed = unquote_plus(user) == client_id and unquote_plus(password) == client_secret
        received.requests.append({"form": form, "authed": authed, "content_type": request.headers["content-type"]})
        if not authed:
            return Response('{"error":"invalid_client"}', status_code=401, media_type="application/json")
        return Response(status_code=received.next_status())

    return Starlette(routes=[Route("/oauth/revoke", revoke, methods=["POST"])])
