"""Configuration models for caller identity (API keys and JWT bearer tokens)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

__all__ = ["ALLOWED_JWT_ALGORITHMS", "ApiKeyEntry", "IdentityConfig", "JwtConfig", "ResourceConfig", "check_url"]

#: Asymmetric JWS algorithms only: "none" and HMAC (HS*) are never accepted, so a JWKS public
#: key can never be abused as a shared secret (algorithm confusion).
ALLOWED_JWT_ALGORITHMS: frozenset[str] = frozenset(
    {
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
    }
)  # fmt: skip

_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9a-z-]+$")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_NonEmpty = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
#: RFC 6749 scope-token: printable ASCII except space, double quote and backslash.
_ScopeToken = Annotated[str, StringConstraints(pattern=r"^[!#-\[\]-~]{1,128}$")]
_FROZEN = ConfigDict(frozen=True, extra="forbid")


def check_url(value: str, what: str) -> str:
    """Require an https URL (plain http only for loopback hosts); no quotes or whitespace."""
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
    except ValueError as exc:  # e.g. a malformed port or IPv6 literal
        raise ValueError(f"{what} must be an absolute http(s) URL") from exc
    if not hostname or parts.scheme not in ("https", "http"):
        raise ValueError(f"{what} must be an absolute http(s) URL")
    if parts.scheme == "http" and hostname not in _LOOPBACK_HOSTS:
        raise ValueError(f"{what} must use https (http is only allowed for loopback hosts)")
    if any(ch in value for ch in '"\\ \t\r\n'):
        raise ValueError(f"{what} must not contain quotes, backslashes or whitespace")
    return value



def _check_header_name(value: str) -> str:
    name = value.strip().lower()
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError("not a valid HTTP header name")
    return name


class ApiKeyEntry(BaseModel):
    """A static API key, stored only as the SHA-256 hex digest of the key."""

    model_config = _FROZEN

    sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    principal: _NonEmpty
    agent: _NonEmpty | None = None


class JwtConfig(BaseModel):
    """JWT bearer-token validation against a JWKS: a file, a URL, or (neither given) the URL the issuer
    publishes in its OpenID Connect / RFC 8414 metadata."""

    model_config = _FROZEN

    jwks_file: Path | None = None
    jwks_url: str | None = None
    issuer: _NonEmpty
    #: One audience for every route. Unset: each route's own resource URI (see `identity.resource`).
    audience: _NonEmpty | None = None
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    clock_skew_seconds: int = Field(default=60, ge=0, le=600)
    agent_claim: _NonEmpty = "azp"
    jwks_cache_seconds: int = Field(default=300, ge=1, le=86_400)
    jwks_timeout_seconds: float = Field(default=5.0, gt=0, le=60)

    @field_validator("algorithms")
    @classmethod
    def _check_algorithms(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one algorithm is required")
        bad = sorted(set(value) - ALLOWED_JWT_ALGORITHMS)
        if bad:
            allowed = ", ".join(sorted(ALLOWED_JWT_ALGORITHMS))
            raise ValueError(f"unsupported JWT algorithm(s) {bad}; allowed: {allowed}")
        return tuple(dict.fromkeys(value))

    @field_validator("jwks_url")
    @classmethod
    def _check_jwks_url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value, "jwks_url")

    @property
    def discovers_jwks(self) -> bool:
        """True when the JWKS location comes from the issuer's metadata (no jwks_file, no jwks_url)."""
        return self.jwks_file is None and self.jwks_url is None

    @model_validator(mode="after")
    def _one_source(self) -> JwtConfig:
        if self.jwks_file is not None and self.jwks_url is not None:
            raise ValueError("give at most one of jwks_file or jwks_url (neither: discovered from the issuer)")
        if self.discovers_jwks:
            try:
                check_url(self.issuer, "issuer")
            except ValueError as exc:
                raise ValueError(f"{exc}, to discover its JWKS (or set jwks_url or jwks_file)") from None
            if urlsplit(self.issuer).query or urlsplit(self.issuer).fragment:
                raise ValueError("issuer must not have a query or fragment, to discover its JWKS")
        return self


class ResourceConfig(BaseModel):
    """This proxy as an OAuth protected resource (RFC 9728): what its metadata documents say."""

    model_config = _FROZEN

    #: The public origin agents use (https://gw.example); each route's resource URI is this plus its path.
    #: Default: http://<listen> when the proxy listens on a loopback address.
    base_url: str | None = None
    #: Issuers whose tokens this proxy accepts (default: identity.jwt.issuer).
    authorization_servers: tuple[str, ...] = ()
    scopes_supported: tuple[_ScopeToken, ...] = ()
    resource_name: Annotated[str, StringConstraints(pattern=r"^[ -~]{1,256}$")] | None = None
    documentation: str | None = None  # a page for people about this resource

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_url(value, "base_url")
        parts = urlsplit(value)
        if parts.path not in ("", "/") or parts.query or parts.fragment:
            raise ValueError("base_url must be an origin (scheme://host[:port]), without a path, query or fragment")
        return value.rstrip("/")

    @field_validator("authorization_servers")
    @classmethod
    def _check_servers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(check_url(url, "authorization_servers") for url in value))

    @field_validator("documentation")
    @classmethod
    def _check_documentation(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value, "documentation")


class IdentityConfig(BaseModel):
    """How callers identify themselves to the proxy."""

    model_config = _FROZEN

    api_keys: tuple[ApiKeyEntry, ...] = ()
    #: API keys are read from this header, or from "Authorization: Bearer <key>".
    api_key_header: str = "x-api-key"
    jwt: JwtConfig | None = None
    #: Agent id taken from this header when the credential itself does not fix one.
    agent_header: str | None = "x-drawbridge-agent"
    #: The protected-resource metadata served at /.well-known/oauth-protected-resource/<route path>.
    resource: ResourceConfig | None = None
    #: Advertised as ``resource_metadata=`` in WWW-Authenticate on every route, in place of the route's own
    #: metadata document (RFC 9728), e.g. when it is served elsewhere.
    resource_metadata_url: str | None = None

    @field_validator("api_key_header")
    @classmethod
    def _check_api_key_header(cls, value: str) -> str:
        name = _check_header_name(value)
        if name == "authorization":
            raise ValueError("api_key_header must not be 'authorization' (Bearer keys are always accepted)")
        return name

    @field_validator("agent_header")
    @classmethod
    def _check_agent_header(cls, value: str | None) -> str | None:
        if value is None:
            return None
        name = _check_header_name(value)
        if name == "authorization":
            raise ValueError("agent_header must not be 'authorization'")
        return name

    @field_validator("resource_metadata_url")
    @classmethod
    def _check_metadata_url(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value, "resource_metadata_url")

    @field_validator("api_keys")
    @classmethod
    def _unique_keys(cls, value: tuple[ApiKeyEntry, ...]) -> tuple[ApiKeyEntry, ...]:
        hashes = [entry.sha256 for entry in value]
        if len(hashes) != len(set(hashes)):
            raise ValueError("duplicate api key hash")
        return value

    @model_validator(mode="after")
    def _distinct_headers(self) -> IdentityConfig:
        if self.agent_header is not None and self.agent_header == self.api_key_header:
            raise ValueError("agent_header and api_key_header must differ")
        return self

    @model_validator(mode="after")
    def _resource_needs_jwt(self) -> IdentityConfig:
        if self.resource is None:
            return self
        if self.jwt is None:
            raise ValueError("resource describes where OAuth tokens come from: configure jwt too")
        if not self.resource.authorization_servers:
            try:
                check_url(self.jwt.issuer, "jwt.issuer")
            except ValueError as exc:
                raise ValueError(f"resource.authorization_servers is required: {exc}") from None
        return self
