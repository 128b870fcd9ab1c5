"""Turn request headers into a caller Identity, or an AuthFailure (HTTP 401 + WWW-Authenticate)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .apikeys import ApiKeyStore, hash_api_key
from .config import IdentityConfig
from .jwt import MAX_TOKEN_CHARS, JwtVerifier, TokenError, looks_like_jwt
from .resource import ProtectedResource

__all__ = ["ANONYMOUS_PRINCIPAL", "MISSING_CREDENTIALS", "AuthFailure", "Authenticator", "Identity"]

log = logging.getLogger("drawbridge.identity")

MISSING_CREDENTIALS = "missing credentials"
ANONYMOUS_PRINCIPAL = "anonymous"
REALM = "drawbridge"
_MAX_AGENT_HEADER = 256

AuthMethod = Literal["api_key", "jwt", "anonymous", "static"]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is calling. ``credential_hash`` is the SHA-256 hex of the presented credential
    (for audit correlation); the credential itself is never kept."""

    principal: str
    agent: str | None
    method: AuthMethod
    credential_hash: str | None
    expires_at: float | None = None  # a token's `exp` (epoch seconds), when it has one


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """A refused request: answer HTTP 401 with ``www_authenticate`` as the WWW-Authenticate value.

    ``reason`` is short and safe to show or log; it never contains the credential.
    """

    reason: str
    www_authenticate: str

    @property
    def missing_credentials(self) -> bool:
        """True when no credential was presented (the only case anonymous access may cover)."""
        return self.reason == MISSING_CREDENTIALS


class _Refused(Exception):
    def __init__(self, reason: str, error: str | None) -> None:
        super().__init__(reason)
        self.reason, self.error = reason, error


def _quote(text: str) -> str:
    """Keep only characters RFC 6750 allows inside a quoted auth-param value."""
    return "".join(ch if " " <= ch <= "~" and ch not in '"\\' else "?" for ch in text)


class Authenticator:
    """Authenticates requests by static API key or JWT bearer token (never forwarded upstream).

    With `resources`, a JWT is checked against the audience of the route it is presented on, and each route's
    challenge points at its own metadata document (a token for one route is refused on another).
    """

    def __init__(self, config: IdentityConfig, resources: Mapping[str, ProtectedResource] | None = None) -> None:
        self._config = config
        self._resources = dict(resources or {})
        self._keys = ApiKeyStore(config.api_keys)
        self._jwt = JwtVerifier(config.jwt) if config.jwt is not None else None

    def __repr__(self) -> str:
        return f"Authenticator(api_keys={len(self._config.api_keys)}, jwt={self._jwt!r})"

    @property
    def credential_headers(self) -> frozenset[str]:
        """Lowercase names of headers that carry caller credentials."""
        return frozenset({"authorization", self._config.api_key_header})

    def strip_credentials(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Return ``headers`` without caller credentials, for forwarding upstream."""
        drop = self.credential_headers
        return {name: value for name, value in headers.items() if name.lower() not in drop}

    def anonymous(self, headers: Mapping[str, str], route: str | None = None) -> Identity | AuthFailure:
        """The identity to use when policy explicitly allows anonymous access; the agent header is
        validated exactly as on the authenticated path (a bad one is refused, never passed on)."""
        try:
            agent = self._header_agent({name.lower(): value for name, value in headers.items()})
        except _Refused as refused:
            return self._fail(refused.reason, refused.error, route)
        return Identity(ANONYMOUS_PRINCIPAL, agent, "anonymous", None)

    def challenge(self, error: str | None = None, description: str | None = None, route: str | None = None) -> str:
        """Build a ``WWW-Authenticate`` value (RFC 6750, plus RFC 9728 ``resource_metadata``): on a route, its
        own metadata URL (unless ``resource_metadata_url`` overrides it) and the scopes it asks for."""
        params = [f'realm="{REALM}"']
        if error is not None:
            params.append(f'error="{error}"')
            if description:
                params.append(f'error_description="{_quote(description)}"')
        resource = self._resources.get(route) if route is not None else None
        metadata = self._config.resource_metadata_url or (resource.metadata_url if resource else None)
        if metadata is not None:
            params.append(f'resource_metadata="{metadata}"')
        if resource is not None and resource.scope is not None:
            params.append(f'scope="{resource.scope}"')
        return "Bearer " + ", ".join(params)

    async def aclose(self) -> None:
        """Release network resources (JWKS HTTP client)."""
        if self._jwt is not None:
            await self._jwt.aclose()

    async def authenticate(self, headers: Mapping[str, str], route: str | None = None) -> Identity | AuthFailure:
        """Authenticate one request presented on `route` (an upstream name); never raises for bad input or an
        unreachable JWKS."""
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            return await self._authenticate(lowered, route)
        except _Refused as refused:
            return self._fail(refused.reason, refused.error, route)
        except TokenError as exc:
            return self._fail(exc.reason, "invalid_token", route)
        except Exception as exc:  # fail closed; log only the type, the message could embed a credential
            log.error("unexpected %s during authentication", type(exc).__name__)
            return self._fail("authentication error", "invalid_token", route)

    def _fail(self, reason: str, error: str | None, route: str | None) -> AuthFailure:
        log.debug("authentication refused: %s", reason)
        return AuthFailure(reason, self.challenge(error, None if error is None else reason, route))

    async def _authenticate(self, headers: Mapping[str, str], route: str | None) -> Identity:
        authorization = headers.get("authorization")
        api_key = headers.get(self._config.api_key_header)
        if authorization is None and api_key is None:
            raise _Refused(MISSING_CREDENTIALS, None)
        if authorization is not None and api_key is not None:
            raise _Refused("multiple credentials", "invalid_request")
        if api_key is not None:
            credential, via_bearer = api_key.strip(), False
        else:
            assert authorization is not None
            scheme, _, value = authorization.strip().partition(" ")
            if scheme.lower() != "bearer":
                raise _Refused("unsupported authorization scheme", "invalid_request")
            credential, via_bearer = value.strip(), True
        if not credential:
            raise _Refused(MISSING_CREDENTIALS, None)
        if len(credential) > MAX_TOKEN_CHARS:
            raise _Refused("invalid token: too large", "invalid_token")

        digest = hash_api_key(credential)
        entry = self._keys.lookup_hash(digest)
        if entry is not None:
            agent = entry.agent or self._header_agent(headers)
            return Identity(entry.principal, agent, "api_key", digest)
        if self._jwt is None or not via_bearer or (self._keys and not looks_like_jwt(credential)):
            raise _Refused("unknown api key", "invalid_token")
        resource = self._resources.get(route) if route is not None else None
        audience = resource.audience if resource is not None else None
        verified = await self._jwt.verify(credential, audience)  # TokenError -> AuthFailure in authenticate()
        agent = verified.agent or self._header_agent(headers)
        exp = verified.claims.get("exp")
        return Identity(verified.subject, agent, "jwt", digest,
                        float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None)

    def _header_agent(self, headers: Mapping[str, str]) -> str | None:
        name = self._config.agent_header
        raw = headers.get(name.lower()) if name is not None else None
        if raw is None:
            return None
        value = raw.strip()
        if not value:
            return None
        if len(value) > _MAX_AGENT_HEADER or not all(" " <= ch <= "~" for ch in value):
            raise _Refused("invalid agent header", "invalid_request")
        return value
