"""HTTP pieces the console's gate and pages share: names, security headers, cookies, the login page."""

from __future__ import annotations

import html
from typing import Any

from starlette.requests import cookie_parser
from starlette.responses import Response
from starlette.types import Scope

from proxy.admin.auth import is_loopback
from proxy.audit.event import system_event

CONSOLE_PREFIX = "/console"
LOGIN_PATH = "/console/login"
STATIC_PREFIX = "/console/static/"
COOKIE = "drawbridge_console"
CSRF_COOKIE = "drawbridge_csrf"
CSRF_HEADER = b"x-csrf-token"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {"content-security-policy": CSP, "x-content-type-options": "nosniff",
                    "referrer-policy": "no-referrer", "cache-control": "no-store", "x-frame-options": "DENY"}
_MAX_COOKIE_HEADER = 8192
_LOGIN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Drawbridge console: log in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/console/static/console.css"></head>
<body class="login"><main class="login-box">
<h1>Drawbridge responder console</h1>
<p>Paste an admin token. The console acts as that token's actor; every action is audited.</p>
{message}<form method="post" action="/console/login">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="off" required maxlength="1024">
<button type="submit" id="login">Log in</button>
</form></main></body></html>
"""


def is_public(method: str, path: str) -> bool:
    """The login page and the static files need no session."""
    return (path == LOGIN_PATH and method in ("GET", "HEAD", "POST")) or (
        path.startswith(STATIC_PREFIX) and method in ("GET", "HEAD"))


def is_page(path: str) -> bool:
    return path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/")


def console_response(body: bytes | str, status: int = 200, media_type: str = "text/html; charset=utf-8",
                     headers: dict[str, str] | None = None) -> Response:
    """A response with the console's security headers."""
    return Response(body, status_code=status, media_type=media_type, headers={**SECURITY_HEADERS, **(headers or {})})


def login_page(status: int = 200, message: str | None = None) -> Response:
    note = f'<p class="error" role="alert">{html.escape(message)}</p>\n' if message else ""
    return console_response(_LOGIN.format(message=note), status)


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def cookies(scope: Scope) -> dict[str, str]:
    raw = header(scope, b"cookie") or ""
    return cookie_parser(raw[:_MAX_COOKIE_HEADER]) if raw else {}


def set_cookie(name: str, value: str, *, secure: bool, http_only: bool, max_age: int) -> str:
    """A `Set-Cookie` value: `Path=/`, `SameSite=Strict`, `Max-Age`, and `HttpOnly` / `Secure` as asked."""
    parts = [f"{name}={value}", "Path=/", "SameSite=Strict", f"Max-Age={max_age}"]
    return "; ".join(parts + (["HttpOnly"] if http_only else []) + (["Secure"] if secure else []))


def cookie_secure(scope: Scope) -> bool:
    """Cookies are `Secure` unless the request came in plain HTTP to a loopback listener (a browser on the same
    host, or an SSH tunnel to it). Behind a reverse proxy that terminates TLS, the scheme uvicorn reports is
    what counts: configure uvicorn's proxy headers there, or the cookie would lack `Secure`."""
    server = scope.get("server")
    return not (scope.get("scheme") == "http" and server is not None and is_loopback(str(server[0])))


def client_address(scope: Scope) -> str | None:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else None


def access_event(action: str, scope: Scope, actor: str | None) -> dict[str, Any]:
    """The `console_access` audit event: a login, a refused login, a logout, or a refused CSRF token."""
    return system_event("console_access", action=action, actor=actor, client_address=client_address(scope),
                        method=scope["method"], path=scope["path"][:512])
