"""Admin-API routes for pins: list pending, approve (actor recorded, audited), reject, errors."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from proxy.admin.auth import ACTOR_KEY
from proxy.admin.routes_base import AdminPlane, ApiError, error_response
from proxy.pins.admin import PIN_ENDPOINTS
from proxy.pins.enforcer import PinEnforcer
from proxy.pins.hashing import ServerIdentity
from proxy.pins.lockfile import Lockfile
from proxy.state.model import Store
from tests.pins.conftest import tool, weather

pytestmark = pytest.mark.anyio


def app_for(store: Store, audit: list[dict[str, Any]]) -> ASGIApp:
    plane = AdminPlane(SimpleNamespace(store=store, audit=audit.append))  # type: ignore[arg-type]

    def route(ep: Any) -> Route:
        async def endpoint(request: Request) -> Response:
            return await ep.handler(plane, request)  # type: ignore[no-any-return]
        return Route(ep.path, endpoint, methods=[ep.method])

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message)

    inner = Starlette(routes=[route(ep) for ep in PIN_ENDPOINTS], exception_handlers={ApiError: api_error})

    async def with_actor(scope: Scope, receive: Receive, send: Send) -> None:
        scope[ACTOR_KEY] = "admin:carol"
        await inner(scope, receive, send)

    return with_actor


async def test_pending_approve_reject_over_http(store: Store) -> None:
    lock = Lockfile.build("wx", ServerIdentity.of("s", "1", None), [weather()])
    await PinEnforcer(store, {"wx": "strict"}, {"wx": lock}).review_listing("wx", [weather("New."), tool("x")])
    audit: list[dict[str, Any]] = []
    transport = httpx.ASGITransport(app=app_for(store, audit))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as http:
        pending = (await http.get("/v1/pins/wx/pending")).json()
        assert set(pending["pending"]) == {"weather", "x"}
        assert "{+New.+}" in pending["pending"]["weather"]["diff_text"]

        missing = await http.post("/v1/pins/wx/approve", json={"reason": "r", "tools": ["nope"]})
        assert missing.status_code == 409 and missing.json()["error"]["code"] == "not_approvable"
        bad = await http.post("/v1/pins/wx/approve", json={"reason": "r", "bogus": 1})
        assert bad.status_code == 400

        ok = await http.post("/v1/pins/wx/approve", json={"reason": "ticket 7", "tools": ["weather"]})
        assert ok.status_code == 200
        assert ok.json()["approved"][0]["approver"] == "admin:carol"
        assert audit[-1]["event_type"] == "pin_approved" and audit[-1]["approver"] == "admin:carol"

        gone = await http.post("/v1/pins/wx/reject", json={"reason": "not ours"})
        assert gone.json() == {"upstream": "wx", "rejected": ["x"]}
        assert (await http.get("/v1/pins/wx/pending")).json()["pending"] == {}
