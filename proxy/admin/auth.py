"""Admin authentication: bearer tokens compared by SHA-256 digest, and the listen-address rule."""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Collection, Mapping
from typing import Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from proxy.errors import ConfigError
from proxy.identity.apikeys import hash_api_key

ACTOR_KEY = "drawbridge.admin_actor"
_LISTEN = re.compile(r"\[([0-9a-fA-F:.]+)\]:(\d{1,5})|([A-Za-z0-9._-]+):(\d{1,5})")


def split_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT` or `[V6]:PORT` → (host, port); ConfigError otherwise."""
    match = _LISTEN.fullmatch(listen)
    port = int(match.group(2) or match.group(4)) if match else 0
    if not match or not 0 < port < 65536:
        raise ConfigError(f"admin listen address must be HOST:PORT, got {listen!r}")
    return match.group(1) or match.group(3), port


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen(listen: str, tokens: Collection[str]) -> tuple[str, int]:
    """Refuse a non-loopback admin listener without tokens; returns (host, port)."""
    host, port = split_listen(listen)
    if not tokens and not is_loopback(host):
        raise ConfigError(f"refusing to serve the admin API on non-loopback {listen} without admin tokens "
                          "(set admin.token_sha256 or DRAWBRIDGE_ADMIN_TOKEN)")
    return host, port


def actor_for(digest: str, labels: Mapping[str, str]) -> str:
    """The audit actor of a token: its configured label, else a hash prefix."""
    return labels.get(digest) or f"admin:{digest[:12]}"


def authenticate(authorization: str | None, tokens: Collection[str]) -> str | None:
    """The digest of a valid `Bearer` token in `authorization`, else None (constant-time compare)."""
    if not authorization:
        return None
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        return None
    digest = hash_api_key(credential)
    found = None
    for known in tokens:
        if hmac.compare_digest(known, digest):
            found = known
    return found


class ConsolePath(Protocol):
    """Serves a request that carries no `Authorization` header (the console's cookie path)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> None: ...


async def send_unauthorized(send: Send) -> None:
    """The 401 JSON every API request without valid credentials gets."""
    body = (b'{"error":{"code":"unauthorized","message":"missing or invalid admin token"}}')
    await send({"type": "http.response.start", "status": 401, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"www-authenticate", b'Bearer realm="drawbridge-admin"')]})
    await send({"type": "http.response.body", "body": body})


class BearerAuth:
    """ASGI middleware: every HTTP request needs a valid admin token (401 JSON otherwise).

    With `console`, a request that has no `Authorization` header at all goes to it instead (login page,
    session cookie, CSRF); one that has the header is judged by the token alone, as without it.
    """

    def __init__(self, app: ASGIApp, tokens: Collection[str], labels: Mapping[str, str],
                 console: ConsolePath | None = None) -> None:
        self.app, self.tokens, self.labels, self.console = app, frozenset(tokens), dict(labels), console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets on the admin plane
            await send({"type": "websocket.close", "code": 1008})
            return
        header = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                header = value.decode("latin-1")
                break
        if header is None and self.console is not None:
            await self.console(scope, receive, send, self.app)
            return
        digest = authenticate(header, self.tokens)
        if digest is None:
            await send_unauthorized(send)
            return
        scope[ACTOR_KEY] = actor_for(digest, self.labels)
        await self.app(scope, receive, send)
