"""OAuth 2.0 token revocation (RFC 7009) for a contained principal, and a deny-list that outlasts it.

The data plane calls `remember(principal, token, expires_at)` for tokens it has seen; they are held in
each replica's memory only (bounded count, TTL), never logged or persisted, and `repr` shows counts.
Revoking a principal is broadcast to every replica (`RevocationAgent`): each one writes the SHA-256 of
every token it holds for the principal to the store's revoked list, where it stays until the token would
have expired (every replica refuses it from then on, whatever happens to the quarantine), then posts
each token to the revocation endpoint with HTTP Basic client authentication (RFC 6749 §2.3.1).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote_plus

import httpx
from cachetools import TTLCache

from proxy.audit import system_event
from proxy.state.codec import StoreUnavailable
from proxy.state.model import RevokedCredential, Store

if TYPE_CHECKING:
    from proxy.admin.config import RevocationConfig

log = logging.getLogger("drawbridge.containment")
TokenHint = Literal["access_token", "refresh_token"]
REVOKE_EVENT = "revoke_principal"
DEFAULT_DENY_SECONDS = 24 * 3600  # a token whose expiry is unknown stays refused this long


@dataclass(frozen=True, slots=True)
class HeldToken:
    token: str
    hint: TokenHint
    expires_at: float | None  # the token's own expiry (epoch seconds), when known

    def __repr__(self) -> str:
        return f"HeldToken(<{self.hint}>, expires_at={self.expires_at})"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.token.encode()).hexdigest()


class TokenRevoker:
    """Remembers recent tokens per principal and revokes them at an RFC 7009 endpoint."""

    def __init__(self, endpoint: str, client_id: str, client_secret: str, *, max_tokens_per_principal: int = 32,
                 ttl: float = 3600, max_principals: int = 10_000, timeout: float = 5, attempts: int = 2) -> None:
        self.endpoint, self.max_tokens_per_principal, self.ttl = endpoint, max_tokens_per_principal, ttl
        self.timeout, self.attempts = timeout, attempts
        self._auth = httpx.BasicAuth(quote_plus(client_id), quote_plus(client_secret))
        self._tokens: TTLCache[str, OrderedDict[str, tuple[TokenHint, float, float | None]]] = TTLCache(
            max_principals, ttl)
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: RevocationConfig) -> TokenRevoker:
        """Build from `containment.revocation` (resolves the client secret; ConfigError if missing)."""
        return cls(config.endpoint, config.client_id, config.client_secret.resolve("containment.revocation"),
                   max_tokens_per_principal=config.max_tokens_per_principal, ttl=config.ttl_seconds,
                   timeout=config.timeout_seconds)

    def __repr__(self) -> str:
        with self._lock:
            counts = [len(tokens) for tokens in self._tokens.values()]
        return f"TokenRevoker(<{len(counts)} principals, {sum(counts)} tokens>)"

    def remember(self, principal: str, token: str, token_type_hint: TokenHint = "access_token",  # noqa: S107
                 expires_at: float | None = None) -> None:
        """Hold `token` for later revocation (the oldest is dropped beyond the per-principal bound)."""
        if not token:
            return
        now = time.monotonic()
        with self._lock:
            tokens = self._tokens.get(principal)
            if tokens is None:
                tokens = OrderedDict()
            tokens.pop(token, None)
            tokens[token] = (token_type_hint, now + self.ttl, expires_at)
            while len(tokens) > self.max_tokens_per_principal:
                tokens.popitem(last=False)
            self._tokens[principal] = tokens  # (re)inserting refreshes the principal's TTL

    def held(self, principal: str) -> int:
        """How many live tokens are held for `principal` (for status and tests)."""
        now = time.monotonic()
        with self._lock:
            return sum(1 for _, expiry, _ in self._tokens.get(principal, {}).values() if expiry > now)

    def take(self, principal: str) -> list[HeldToken]:
        """Forget and return the live tokens held for `principal`."""
        now = time.monotonic()
        with self._lock:
            tokens = self._tokens.pop(principal, None) or OrderedDict()
        return [HeldToken(token, hint, exp) for token, (hint, held, exp) in tokens.items() if held > now]

    def _take(self, principal: str) -> list[tuple[str, TokenHint]]:
        return [(held.token, held.hint) for held in self.take(principal)]

    async def _revoke_one(self, client: httpx.AsyncClient, token: str, hint: TokenHint) -> bool:
        for _ in range(self.attempts):
            try:
                response = await client.post(self.endpoint, data={"token": token, "token_type_hint": hint},
                                             auth=self._auth)
            except httpx.HTTPError:
                continue
            if response.status_code == 200:  # RFC 7009 §2.2: also for tokens already invalid
                return True
            if response.status_code < 500:
                return False
        return False

    async def revoke_principal(self, principal: str) -> tuple[int, int]:
        """Revoke and forget every held token of `principal`; returns (revoked, failed)."""
        return await self.revoke_tokens(self.take(principal))

    async def revoke_tokens(self, tokens: list[HeldToken]) -> tuple[int, int]:
        """Post each token to the revocation endpoint; returns (revoked, failed)."""
        if not tokens:
            return 0, 0
        revoked = 0
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            for held in tokens:
                revoked += await self._revoke_one(client, held.token, held.hint)
        return revoked, len(tokens) - revoked


class RevocationAgent:
    """Each replica's part in revoking a principal: deny-list by hash in the store, then RFC 7009."""

    def __init__(self, store: Store, audit: Callable[[dict[str, Any]], None],
                 revoker: TokenRevoker | None = None) -> None:
        self._store = store
        self._audit = audit
        self.revoker = revoker
        self._tasks: set[asyncio.Task[None]] = set()
        store.on_event(self._on_event)

    async def revoke(self, principals: set[str], actor: str, ticket: str | None) -> str:
        """Ask every replica (this one included) to revoke what it holds; what happened, for the response."""
        if self.revoker is None:
            return "not_configured"
        for principal in sorted(principals):
            await self._store.broadcast({"event": REVOKE_EVENT, "principal": principal, "actor": actor,
                                         "ticket": ticket})
        return "scheduled" if principals else "none"

    def _on_event(self, event: dict[str, Any]) -> None:
        if event.get("event") != REVOKE_EVENT or self.revoker is None or not isinstance(event.get("principal"), str):
            return
        task = asyncio.get_running_loop().create_task(self._revoke_here(
            event["principal"], str(event.get("actor", "unknown")), event.get("ticket")))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _revoke_here(self, principal: str, actor: str, ticket: Any) -> None:
        assert self.revoker is not None
        tokens = self.revoker.take(principal)
        if not tokens:
            return
        now = time.time()
        listed = 0
        try:
            for held in tokens:
                until = held.expires_at if held.expires_at is not None else now + DEFAULT_DENY_SECONDS
                if until > now:
                    await self._store.put_revoked(RevokedCredential(
                        held.sha256, principal, f"revoked at containment{f' ({ticket})' if ticket else ''}", actor,
                        created=now, expires=until))
                    listed += 1
        except StoreUnavailable as exc:
            log.error("revoked tokens of %s not deny-listed: %s", principal, exc)
            self._audit(system_event("containment_revocation_failed", principal=principal, actor=actor,
                                     error="store unavailable", deny_listed=listed))
        revoked, failed = await self.revoker.revoke_tokens(tokens)
        self._audit(system_event("containment_tokens_revoked", principal=principal, actor=actor, revoked=revoked,
                                 failed=failed, deny_listed=listed))
        if failed:
            self._audit(system_event("containment_revocation_failed", principal=principal, actor=actor,
                                     failed=failed))

    async def drain(self, grace_seconds: float = 10.0) -> None:
        """Wait for revocations in progress (tests, shutdown); cancel what is left."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=grace_seconds)
            for task in late:
                task.cancel()

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
