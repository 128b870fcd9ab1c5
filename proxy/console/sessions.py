"""Console login sessions, kept in the shared store so that every replica behind a balancer accepts them.

The browser holds a random session cookie (HttpOnly) and a random CSRF token (a readable cookie that the
page echoes in `X-CSRF-Token`). The store keeps neither: a record is keyed by the SHA-256 of the cookie and
holds the admin token's digest, the actor label at login and the CSRF token's SHA-256. A session ends at
its expiry, at logout, or as soon as its admin token is no longer configured.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from proxy.admin.auth import actor_for
from proxy.state.model import Store

NAMESPACE = "console_sessions"
LIFETIME_SECONDS = 8 * 3600
_MAX_COOKIE = 128  # a cookie value longer than this is no session of ours


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """A live login: who (the actor label the audit trail names), with which token, until when."""

    actor: str
    token_sha256: str
    csrf_sha256: str
    expires: float

    def csrf_matches(self, header: str | None, cookie: str | None) -> bool:
        """Double submit bound to this session: the header equals the CSRF cookie and is this session's token
        (both compared in constant time)."""
        if not header or not cookie or len(header) > _MAX_COOKIE:
            return False
        same = hmac.compare_digest(header.encode(), cookie.encode())
        return hmac.compare_digest(_sha256(header), self.csrf_sha256) and same


@dataclass(frozen=True, slots=True)
class NewSession:
    """What the browser is given at login (the store holds only digests)."""

    cookie: str
    csrf: str
    session: ConsoleSession


class ConsoleSessions:
    """Create, find and end console sessions in `store`, for the admin tokens configured now."""

    def __init__(self, store: Store, tokens: Collection[str], labels: Mapping[str, str],
                 lifetime_seconds: float = LIFETIME_SECONDS) -> None:
        self.store, self.tokens, self.labels = store, frozenset(tokens), dict(labels)
        self.lifetime_seconds = lifetime_seconds

    async def create(self, token_sha256: str) -> NewSession:
        """A new session for an authenticated admin token (its digest)."""
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        session = ConsoleSession(actor_for(token_sha256, self.labels), token_sha256, _sha256(csrf),
                                 time.time() + self.lifetime_seconds)
        await self.store.rec_put(NAMESPACE, _sha256(cookie), {
            "actor": session.actor, "token_sha256": token_sha256, "csrf_sha256": session.csrf_sha256,
            "expires": session.expires}, self.lifetime_seconds)
        return NewSession(cookie, csrf, session)

    async def find(self, cookie: str | None) -> ConsoleSession | None:
        """The live session of a cookie; None when it is unknown, expired, or its token is gone."""
        if not cookie or len(cookie) > _MAX_COOKIE:
            return None
        record = await self.store.rec_get(NAMESPACE, _sha256(cookie))
        if record is None:
            return None
        digest, expires = str(record.get("token_sha256", "")), record.get("expires")
        if not isinstance(expires, int | float) or expires <= time.time() or not self._configured(digest):
            return None
        return ConsoleSession(actor_for(digest, self.labels), digest, str(record.get("csrf_sha256", "")),
                              float(expires))

    async def end(self, cookie: str | None) -> bool:
        """Log out: the record is deleted on every replica at once."""
        if not cookie or len(cookie) > _MAX_COOKIE:
            return False
        return await self.store.rec_delete(NAMESPACE, _sha256(cookie))

    def _configured(self, digest: str) -> bool:
        found = False
        for known in self.tokens:
            found |= hmac.compare_digest(known, digest)
        return found
