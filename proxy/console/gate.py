"""What a request without an `Authorization` header may do on the admin listener: the console's cookie path.

- The login page and the console's static files are public (they hold no data).
- A request with a live console session cookie acts as that session's actor; a state-changing one (any
  method but GET, HEAD, OPTIONS) must also carry the CSRF token in `X-CSRF-Token`, else 403 JSON and a
  `console_access` audit event (`csrf_refused`).
- Anything else: console pages answer the login page (401 HTML), API paths the usual 401 JSON.

Bearer-token clients never reach this module (`BearerAuth` handles them exactly as before).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from proxy.admin.auth import ACTOR_KEY, send_unauthorized

from .sessions import ConsoleSession, ConsoleSessions
from .web import COOKIE, CSRF_COOKIE, CSRF_HEADER, access_event, cookies, header, is_page, is_public, login_page

SESSION_KEY = "drawbridge.console_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class ConsoleGate:
    """The cookie path of the admin middleware."""

    def __init__(self, sessions: ConsoleSessions, audit: Callable[[dict[str, Any]], None]) -> None:
        self.sessions, self.audit = sessions, audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None:
        if is_public(scope["method"], scope["path"]):
            await app(scope, receive, send)
            return
        jar = cookies(scope)
        try:
            session = await self.sessions.find(jar.get(COOKIE))
        except Exception as exc:  # the store is down: nobody is let in
            await _json(send, 503, "store_unavailable", f"state store unavailable ({type(exc).__name__})")
            return
        if session is None:
            await self._unauthenticated(scope, send)
            return
        if scope["method"] not in SAFE_METHODS and not session.csrf_matches(header(scope, CSRF_HEADER),
                                                                              jar.get(CSRF_COOKIE)):
            self.audit(access_event("csrf_refused", scope, session.actor))
            await _json(send, 403, "csrf_required", "a console request that changes state needs the session's "
                        "CSRF token in X-CSRF-Token")
            return
        scope[ACTOR_KEY], scope[SESSION_KEY] = session.actor, session
        await app(scope, receive, send)

    async def _unauthenticated(self, scope: Scope, send: Send) -> None:
        if scope["method"] in SAFE_METHODS and is_page(scope["path"]):
            await login_page(status=401)(scope, _no_receive, send)
            return
        await send_unauthorized(send)


def session_of(scope: Scope) -> ConsoleSession | None:
    found = scope.get(SESSION_KEY)
    return found if isinstance(found, ConsoleSession) else None


async def _no_receive() -> dict[str, Any]:
    return {"type": "http.disconnect"}


async def _json(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps({"error": {"code": code, "message": message}})
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
