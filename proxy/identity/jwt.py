"""JWT bearer-token verification (signature via JWKS, iss/aud/exp/nbf/iat, sub)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    JoseError,
    KeyParameterError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwa import JWSAlgModel
from joserfc.jws import JWSRegistry

from .config import JwtConfig
from .jwks import JwksError, JwksSource, UnknownKeyError

__all__ = ["MAX_TOKEN_CHARS", "JwtVerifier", "TokenError", "VerifiedToken", "looks_like_jwt"]

#: Bearer tokens longer than this are refused before any parsing.
MAX_TOKEN_CHARS = 16 * 1024
_MAX_AGENT_CHARS = 1024
_CLAIM_REASONS = {
    "nbf": "not yet valid",
    "iat": "issued in the future",
    "iss": "wrong issuer",
    "aud": "wrong audience",
    "sub": "invalid subject",
    "exp": "invalid expiry",
}


class TokenError(Exception):
    """A token was rejected; ``reason`` is short and safe to show (never contains the token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """The identity-relevant parts of a verified token."""

    subject: str
    agent: str | None
    claims: Mapping[str, Any] = field(repr=False)


class _Registry(JWSRegistry):
    """JWS registry pinned to the configured algorithms; tolerant of non-registered header names."""

    max_header_length = 4096

    def get_alg(self, name: str) -> JWSAlgModel:
        """Like the base class, minus its per-call warning for "EdDSA" (an operator opt-in here)."""
        if name not in self.algorithms or not self.allowed or name not in self.allowed:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


def looks_like_jwt(token: str) -> bool:
    """Cheap shape test: three dot-separated base64url segments (JWS compact form)."""
    parts = token.split(".")
    return len(parts) == 3 and all(parts[:2]) and all(_is_b64url(p) for p in parts)


def _is_b64url(segment: str) -> bool:
    return all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in segment)


def _decode_header(segment: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        header = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise TokenError("invalid token: malformed") from exc
    if not isinstance(header, dict):
        raise TokenError("invalid token: malformed")
    return header


def _agent_from(claims: Mapping[str, Any], claim: str) -> str | None:
    for name in (claim, "client_id"):
        value = claims.get(name)
        if isinstance(value, str) and 0 < len(value) <= _MAX_AGENT_CHARS:
            return value
    return None


class JwtVerifier:
    """Verifies compact JWS JWTs against the configured JWKS, issuer and audience."""

    def __init__(self, config: JwtConfig, source: JwksSource | None = None) -> None:
        self._config = config
        self._source = source if source is not None else JwksSource(config)
        self._registries = {alg: _Registry(algorithms=[alg], strict_check_header=False) for alg in config.algorithms}

    def __repr__(self) -> str:
        return f"JwtVerifier(issuer={self._config.issuer!r}, audience={self._config.audience!r})"

    async def aclose(self) -> None:
        """Release the JWKS source."""
        await self._source.aclose()

    async def verify(self, token: str, audience: str | None = None) -> VerifiedToken:
        """Verify ``token`` and return its subject and agent; raise TokenError if invalid.

        Its ``aud`` must contain ``audience`` (a route's own), by default the configured ``audience``.
        """
        audience = audience or self._config.audience
        if audience is None:
            raise TokenError("invalid token: no audience configured")
        if len(token) > MAX_TOKEN_CHARS:
            raise TokenError("invalid token: too large")
        if not looks_like_jwt(token):
            raise TokenError("invalid token: malformed")
        header = _decode_header(token.split(".", 1)[0])
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self._registries:
            raise TokenError("invalid token: unsupported algorithm")
        if kid is not None and not isinstance(kid, str):
            raise TokenError("invalid token: malformed")

        try:
            key = await self._source.get_key(kid)
        except UnknownKeyError as exc:
            raise TokenError("invalid token: unknown key id") from exc
        except JwksError as exc:
            raise TokenError("invalid token: signing keys unavailable") from exc

        try:
            key.check_use("sig")
            key.check_alg(alg)
            decoded = jwt.decode(token, key, algorithms=[alg], registry=self._registries[alg])
        except BadSignatureError as exc:
            raise TokenError("invalid token: bad signature") from exc
        except KeyParameterError as exc:
            raise TokenError("invalid token: key not usable for algorithm") from exc
        except (JoseError, ValueError, TypeError) as exc:
            raise TokenError("invalid token: malformed") from exc

        claims = decoded.claims
        self._check_claims(claims, audience)
        return VerifiedToken(subject=claims["sub"], agent=_agent_from(claims, self._config.agent_claim), claims=claims)

    def _check_claims(self, claims: dict[str, Any], audience: str) -> None:
        registry = jwt.JWTClaimsRegistry(
            leeway=self._config.clock_skew_seconds,
            iss={"essential": True, "value": self._config.issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise TokenError("invalid token: expired") from exc
        except MissingClaimError as exc:
            raise TokenError(f"invalid token: missing claim {exc.claim}") from exc
        except ClaimError as exc:
            detail = _CLAIM_REASONS.get(exc.claim, "invalid claim")
            raise TokenError(f"invalid token: {detail}") from exc
