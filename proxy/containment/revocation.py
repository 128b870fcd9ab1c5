"""OAuth 2.0 token revocation (RFC 7009) for a contained principal.

The data plane calls `remember(principal, token)` for tokens it has seen; they are held in memory
only (bounded count, TTL), never logged or persisted, and `repr` shows counts. On containment the
admin plane calls `revoke_principal`, which posts each token to the revocation endpoint with HTTP
Basic client authentication (RFC 6749 §2.3.1) and then forgets them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote_plus

import httpx
from cachetools import TTLCache

if TYPE_CHECKING:
    from proxy.admin.config import RevocationConfig

TokenHint = Literal["access_token", "refresh_token"]


class TokenRevoker:
    """Remembers recent tokens per principal and revokes them at an RFC 7009 endpoint."""

    def __init__(self, endpoint: str, client_id: str, client_secret: str, *, max_tokens_per_principal: int = 32,
                 ttl: float = 3600, max_principals: int = 10_000, timeout: float = 5, attempts: int = 2) -> None:
        self.endpoint, self.max_tokens_per_principal, self.ttl = endpoint, max_tokens_per_principal, ttl
        self.timeout, self.attempts = timeout, attempts
        self._auth = httpx.BasicAuth(quote_plus(client_id), quote_plus(client_secret))
        self._tokens: TTLCache[str, OrderedDict[str, tuple[TokenHint, float]]] = TTLCache(max_principals, ttl)
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

    def remember(self, principal: str, token: str, token_type_hint: TokenHint = "access_token") -> None:  # noqa: S107
        """Hold `token` for later revocation (the oldest is dropped beyond the per-principal bound)."""
        if not token:
            return
        now = time.monotonic()
        with self._lock:
            tokens = self._tokens.get(principal)
            if tokens is None:
                tokens = OrderedDict()
            tokens.pop(token, None)
            tokens[token] = (token_type_hint, now + self.ttl)
            while len(tokens) > self.max_tokens_per_principal:
                tokens.popitem(last=False)
            self._tokens[principal] = tokens  # (re)inserting refreshes the principal's TTL

    def held(self, principal: str) -> int:
        """How many live tokens are held for `principal` (for status and tests)."""
        now = time.monotonic()
        with self._lock:
            return sum(1 for _, expiry in self._tokens.get(principal, {}).values() if expiry > now)

    def _take(self, principal: str) -> list[tuple[str, TokenHint]]:
        now = time.monotonic()
        with self._lock:
            tokens = self._tokens.pop(principal, None) or OrderedDict()
        return [(token, hint) for token, (hint, expiry) in tokens.items() if expiry > now]

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
        tokens = self._take(principal)
        if not tokens:
            return 0, 0
        revoked = 0
        async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
            for token, hint in tokens:
                revoked += await self._revoke_one(client, token, hint)
        return revoked, len(tokens) - revoked
