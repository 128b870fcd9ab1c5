"""The console's own routes: the login page, log in and out, the console page, its static files, `whoami`.

Every response carries the console's security headers (`web.SECURITY_HEADERS`). The login form posts the
admin token once; the answer sets the session cookie (HttpOnly) and the CSRF cookie (read by the page's
script and echoed in `X-CSRF-Token`), both `SameSite=Strict`, `Path=/`, and `Secure` unless the listener is
plain-HTTP loopback (`web.cookie_secure`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from proxy.admin.auth import ACTOR_KEY, authenticate
from proxy.evidence.snapshot import rfc3339

from .gate import session_of
from .sessions import ConsoleSessions
from .web import (
    CONSOLE_PREFIX,
    COOKIE,
    CSRF_COOKIE,
    LOGIN_PATH,
    STATIC_PREFIX,
    access_event,
    console_response,
    cookie_secure,
    cookies,
    login_page,
    set_cookie,
)

STATIC_TYPES = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
MAX_LOGIN_BODY = 4096


@cache
def static_file(name: str) -> bytes:
    return (files("proxy.console") / "static" / name).read_bytes()


def _same_origin(request: Request) -> bool:
    """A login form posted from another site is refused: by `Sec-Fetch-Site` where the browser sends it (its
    Origin is `null` under `Referrer-Policy: no-referrer`), else by `Origin` (none: not a browser)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is None or origin == f"{request.url.scheme}://{request.headers.get('host', '')}"


async def _form_token(request: Request) -> str | None:
    """The `token` field of the login form; None when the body is over the limit."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_LOGIN_BODY:
            return None
    return (parse_qs(body.decode("utf-8", "replace")).get("token") or [""])[0].strip()


def console_mount(sessions: ConsoleSessions, audit: Callable[[dict[str, Any]], None],
                  upstreams: Sequence[str]) -> Mount:
    """The console's routes under `/console` for the admin app (the gate in front checks sessions and CSRF).
    A mount, not API routes: the OpenAPI document lists the API only."""

    async def login_form(request: Request) -> Response:
        return login_page()

    async def log_in(request: Request) -> Response:
        token = await _form_token(request)
        if token is None:
            return login_page(413, "The form is too large.")
        digest = authenticate(f"Bearer {token}", sessions.tokens) if token and _same_origin(request) else None
        if digest is None:
            audit(access_event("login_refused", request.scope, None))
            return login_page(401, "That is not an admin token of this Drawbridge.")
        new = await sessions.create(digest)
        audit(access_event("login", request.scope, new.session.actor))
        secure, age = cookie_secure(request.scope), int(sessions.lifetime_seconds)
        response = console_response(b"", 303, headers={"location": f"{CONSOLE_PREFIX}/"})
        response.headers.append("set-cookie", set_cookie(COOKIE, new.cookie, secure=secure, http_only=True,
                                                         max_age=age))
        response.headers.append("set-cookie", set_cookie(CSRF_COOKIE, new.csrf, secure=secure, http_only=False,
                                                         max_age=age))
        return response

    async def log_out(request: Request) -> Response:
        session = session_of(request.scope)
        await sessions.end(cookies(request.scope).get(COOKIE))
        audit(access_event("logout", request.scope, session.actor if session else None))
        secure = cookie_secure(request.scope)
        response = console_response(b'{"logged_out":true}', media_type="application/json")
        for name, http_only in ((COOKIE, True), (CSRF_COOKIE, False)):
            response.headers.append("set-cookie", set_cookie(name, "", secure=secure, http_only=http_only,
                                                             max_age=0))
        return response

    async def page(request: Request) -> Response:
        return console_response(static_file("console.html"))

    async def whoami(request: Request) -> Response:
        session = session_of(request.scope)
        data = {"actor": request.scope.get(ACTOR_KEY), "upstreams": list(upstreams),
                "expires": rfc3339(session.expires) if session else None}
        return console_response(orjson.dumps(data), media_type="application/json")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_TYPES:
            return console_response(b"not found", 404, "text/plain; charset=utf-8")
        return console_response(static_file(name), media_type=STATIC_TYPES[name])

    inside = len(CONSOLE_PREFIX)
    return Mount(CONSOLE_PREFIX, routes=[
        Route(LOGIN_PATH[inside:], login_form, methods=["GET"]),
        Route(LOGIN_PATH[inside:], log_in, methods=["POST"]),
        Route("/logout", log_out, methods=["POST"]),
        Route("/", page, methods=["GET"]),
        Route("/session", whoami, methods=["GET"]),
        Route(STATIC_PREFIX[inside:] + "{name}", static, methods=["GET"]),
    ])
