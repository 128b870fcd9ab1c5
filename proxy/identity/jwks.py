"""JWKS loading and caching: from a file, an https URL or the URL the issuer's metadata names; failing closed."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key, KeySet

from .config import JwtConfig
from .discovery import DiscoveryError, discover_jwks_uri
from .fetch import FetchError, fetch_bounded

__all__ = ["MAX_JWKS_BYTES", "JwksError", "JwksSource", "UnknownKeyError", "parse_jwks"]

log = logging.getLogger("drawbridge.identity.jwks")

MAX_JWKS_BYTES = 256 * 1024
#: Minimum seconds between refreshes triggered by tokens with an unknown ``kid``.
UNKNOWN_KID_REFRESH_INTERVAL = 30.0
#: After a failed load, further loads fail fast for this many seconds.
FAILURE_BACKOFF = 5.0
# Private / symmetric key members are never kept: only public verification keys are used.
_SECRET_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


class JwksError(Exception):
    """The key set could not be loaded or is unusable (message is safe to log)."""


class UnknownKeyError(JwksError):
    """No key in the key set matches the token's ``kid``."""


def parse_jwks(data: bytes) -> KeySet:
    """Parse a JWKS document into a KeySet of public signature keys.

    Symmetric (``oct``) keys, encryption keys, private members and keys joserfc cannot import
    are dropped; a set with no usable key is an error.
    """
    try:
        doc: Any = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwksError("JWKS is not valid JSON") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise JwksError("JWKS must be a JSON object with a 'keys' array")
    keys: list[Key] = []
    for item in doc["keys"]:
        if not isinstance(item, dict) or item.get("kty") == "oct" or item.get("use", "sig") != "sig":
            continue
        public = {name: value for name, value in item.items() if name not in _SECRET_MEMBERS}
        try:
            keys.append(JWKRegistry.import_key(public))
        except (JoseError, ValueError, TypeError, KeyError):
            log.debug("skipping unusable JWKS entry kid=%r", str(item.get("kid"))[:64])
    if not keys:
        raise JwksError("JWKS contains no usable signature keys")
    return KeySet(keys)


def _read_file(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_JWKS_BYTES + 1)
    except OSError as exc:
        raise JwksError(f"cannot read JWKS file: {exc.strerror or type(exc).__name__}") from exc
    if len(data) > MAX_JWKS_BYTES:
        raise JwksError("JWKS file exceeds size limit")
    return data


class JwksSource:
    """Serves verification keys by ``kid`` from a JWKS file or URL.

    A file is read at construction (errors raise :class:`JwksError` then) and re-read when a token
    names an unknown ``kid``. A URL is fetched lazily, cached for ``jwks_cache_seconds`` and also
    refreshed on an unknown ``kid``; with neither configured, the URL is the issuer's ``jwks_uri``
    (`discovery.py`), itself looked up again once ``jwks_cache_seconds`` have passed. Unknown-kid
    refreshes happen at most once per ``unknown_kid_interval`` seconds, so floods of bogus kids
    cannot hammer the IdP. When the
    cache has expired and cannot be refreshed, lookups fail (fail closed).
    """

    def __init__(
        self,
        config: JwtConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        unknown_kid_interval: float = UNKNOWN_KID_REFRESH_INTERVAL,
        failure_backoff: float = FAILURE_BACKOFF,
    ) -> None:
        self._config = config
        self._clock = clock
        self._unknown_kid_interval = unknown_kid_interval
        self._failure_backoff = failure_backoff
        self._lock = anyio.Lock()
        self._keys: KeySet | None = None
        self._loaded_at = 0.0
        self._failed_at: float | None = None
        self._last_unknown_refresh: float | None = None
        self._client: httpx.AsyncClient | None = None
        self._jwks_uri: str | None = config.jwks_url
        self._discovered_at = 0.0
        if config.jwks_file is None:
            self._client = httpx.AsyncClient(
                timeout=config.jwks_timeout_seconds,
                follow_redirects=False,
                headers={"accept": "application/jwk-set+json, application/json"},
            )
        else:
            assert config.jwks_file is not None
            self._keys = parse_jwks(_read_file(config.jwks_file))
            self._loaded_at = clock()

    def __repr__(self) -> str:
        where = self._config.jwks_url or (f"discovered from {self._config.issuer}" if self._config.discovers_jwks
                                          else str(self._config.jwks_file))
        return f"JwksSource({where!r})"

    async def aclose(self) -> None:
        """Release the HTTP client (if any)."""
        if self._client is not None:
            await self._client.aclose()

    async def get_key(self, kid: str | None) -> Key:
        """Return the key for ``kid``; raise UnknownKeyError or JwksError (unavailable)."""
        keys = await self._current()
        key = self._select(keys, kid)
        if key is not None:
            return key
        if kid is None:
            raise UnknownKeyError("token has no key id and the key set has several keys")
        async with self._lock:
            if self._keys is not None and (key := self._select(self._keys, kid)) is not None:
                return key  # another request refreshed meanwhile
            now = self._clock()
            last = self._last_unknown_refresh
            if last is not None and now - last < self._unknown_kid_interval:
                raise UnknownKeyError("unknown key id (refresh rate-limited)")
            self._last_unknown_refresh = now
            keys = await self._reload()
        key = self._select(keys, kid)
        if key is None:
            raise UnknownKeyError("unknown key id")
        return key

    @staticmethod
    def _select(keys: KeySet, kid: str | None) -> Key | None:
        if kid is None:
            return keys.keys[0] if len(keys.keys) == 1 else None
        return next((key for key in keys if key.kid == kid), None)

    def _stale(self) -> bool:
        if self._keys is None:
            return True
        expired = self._clock() - self._loaded_at >= self._config.jwks_cache_seconds
        return self._client is not None and expired

    async def _current(self) -> KeySet:
        if not self._stale():
            assert self._keys is not None
            return self._keys
        async with self._lock:
            if not self._stale():
                assert self._keys is not None
                return self._keys
            return await self._reload()

    async def _reload(self) -> KeySet:
        """Load the key set now (caller holds the lock); raise JwksError on failure."""
        now = self._clock()
        if self._failed_at is not None and now - self._failed_at < self._failure_backoff:
            raise JwksError("JWKS unavailable (recent load failed)")
        try:
            data = await self._load_bytes()
            keys = parse_jwks(data)
        except JwksError as exc:
            self._failed_at = now
            log.warning("JWKS load failed: %s", exc)
            raise
        self._keys, self._loaded_at, self._failed_at = keys, now, None
        log.info("JWKS loaded: %d key(s)", len(keys.keys))
        return keys

    async def _load_bytes(self) -> bytes:
        if self._client is None:
            assert self._config.jwks_file is not None
            return await anyio.to_thread.run_sync(_read_file, self._config.jwks_file)
        url = await self._jwks_location(self._client)
        try:
            return await fetch_bounded(self._client, url, what="JWKS", limit=MAX_JWKS_BYTES,
                                       seconds=self._config.jwks_timeout_seconds)
        except FetchError as exc:
            raise JwksError(str(exc)) from exc

    async def _jwks_location(self, client: httpx.AsyncClient) -> str:
        """The configured jwks_url, or the issuer's `jwks_uri` (looked up again after jwks_cache_seconds)."""
        if self._config.jwks_url is not None:
            return self._config.jwks_url
        now = self._clock()
        if self._jwks_uri is not None and now - self._discovered_at < self._config.jwks_cache_seconds:
            return self._jwks_uri
        try:
            uri = await discover_jwks_uri(client, self._config.issuer, seconds=self._config.jwks_timeout_seconds)
        except DiscoveryError as exc:
            raise JwksError(f"JWKS discovery failed: {exc}") from exc
        if uri != self._jwks_uri:
            log.info("JWKS of issuer %s is at %s", self._config.issuer, uri)
        self._jwks_uri, self._discovered_at = uri, now
        return uri
