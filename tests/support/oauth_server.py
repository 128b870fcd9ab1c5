"""A small loopback OAuth authorization server for tests: the official SDK's own handlers (dynamic client
registration, /authorize, /token with PKCE), an in-memory provider that approves at once as one user, and
RS256 JWT access tokens whose `aud` is the RFC 8707 `resource` the client asked for, verifiable with the JWKS
it publishes. Its issuer has a path (`/tenant-a`), so its RFC 8414 metadata lives at
`/.well-known/oauth-authorization-server/tenant-a` and there is no OpenID Connect document (a 404 to discover
past).

`authorize_as_user` plays the person in the loop: it follows the authorization URL the client hands to its
redirect handler and returns the code and state the redirect carries.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey
from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    IdentityAssertionParams,
    RefreshToken,
    TokenError,
    construct_redirect_uri,
)
from mcp.server.auth.routes import create_auth_routes
from mcp.server.auth.settings import ClientRegistrationOptions
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken
from pydantic import AnyHttpUrl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from tests.support.inprocess import bind_loopback, serve_asgi

TENANT = "/tenant-a"
TOKEN_SECONDS = 300


@dataclass
class Issued:
    """One access token the server minted, with the claims it signed."""

    token: str
    claims: dict[str, Any]


@dataclass
class AutoApprovingProvider:
    """The SDK's provider protocol, in memory: every authorization request is approved for `subject`."""

    issuer: str
    key: RSAKey
    subject: str
    clients: dict[str, OAuthClientInformationFull] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    issued: list[Issued] = field(default_factory=list)

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        return self.clients.get(client_id)

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        assert client_info.client_id is not None
        self.clients[client_info.client_id] = client_info

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        code = secrets.token_urlsafe(32)
        assert client.client_id is not None
        self.codes[code] = AuthorizationCode(
            code=code, scopes=params.scopes or [], expires_at=time.time() + 60, client_id=client.client_id,
            code_challenge=params.code_challenge, redirect_uri=params.redirect_uri,
            redirect_uri_provided_explicitly=params.redirect_uri_provided_explicitly, resource=params.resource,
            subject=self.subject)
        return construct_redirect_uri(str(params.redirect_uri), code=code, state=params.state)

    async def load_authorization_code(self, client: OAuthClientInformationFull, authorization_code: str
                                      ) -> AuthorizationCode | None:
        return self.codes.get(authorization_code)

    async def exchange_authorization_code(self, client: OAuthClientInformationFull,
                                          authorization_code: AuthorizationCode) -> OAuthToken:
        del self.codes[authorization_code.code]
        if authorization_code.resource is None:
            raise TokenError(error="invalid_target", error_description="a resource indicator is required")
        now = int(time.time())
        claims = {"iss": self.issuer, "sub": self.subject, "aud": authorization_code.resource,
                  "azp": authorization_code.client_id, "scope": " ".join(authorization_code.scopes),
                  "iat": now, "exp": now + TOKEN_SECONDS}
        token = jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)
        self.issued.append(Issued(token, claims))
        return OAuthToken(access_token=token, token_type="Bearer", expires_in=TOKEN_SECONDS,
                          scope=" ".join(authorization_code.scopes))

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> None:
        return None

    async def exchange_refresh_token(self, client: OAuthClientInformationFull, refresh_token: RefreshToken,
                                     scopes: list[str]) -> OAuthToken:
        raise TokenError(error="invalid_grant", error_description="no refresh tokens here")

    async def load_access_token(self, token: str) -> AccessToken | None:
        return None

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        return None

    async def exchange_identity_assertion(self, client: OAuthClientInformationFull,
                                          params: IdentityAssertionParams) -> OAuthToken:
        raise TokenError(error="unsupported_grant_type", error_description="not supported")


@dataclass
class AuthorizationServer:
    """A running server: its issuer identifier and the provider holding what it issued."""

    issuer: str
    provider: AutoApprovingProvider
    metadata_requests: list[str]


def _app(issuer: str, provider: AutoApprovingProvider, scopes: list[str], seen: list[str]) -> Starlette:
    auth_routes = create_auth_routes(provider, AnyHttpUrl(issuer), client_registration_options=
                                     ClientRegistrationOptions(enabled=True, valid_scopes=scopes))
    endpoints = [r for r in auth_routes if not r.path.startswith("/.well-known/")]  # its metadata has no jwks_uri
    metadata = {"issuer": issuer, "authorization_endpoint": f"{issuer}/authorize", "token_endpoint": f"{issuer}/token",
                "registration_endpoint": f"{issuer}/register", "jwks_uri": f"{issuer}/jwks",
                "scopes_supported": scopes, "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"], "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"]}

    async def rfc8414(request: Request) -> JSONResponse:
        seen.append(request.url.path)
        return JSONResponse(metadata)

    async def jwks(_: Request) -> JSONResponse:
        return JSONResponse({"keys": [provider.key.as_dict(private=False)]})

    return Starlette(routes=[Route(f"/.well-known/oauth-authorization-server{TENANT}", rfc8414),
                             Route(f"{TENANT}/jwks", jwks), Mount(TENANT, routes=endpoints)])


@contextlib.asynccontextmanager
async def authorization_server(subject: str, scopes: list[str]) -> AsyncIterator[AuthorizationServer]:
    """Serve the authorization server on a free loopback port, in this event loop."""
    sock = bind_loopback()
    issuer = f"http://127.0.0.1:{sock.getsockname()[1]}{TENANT}"
    provider = AutoApprovingProvider(issuer, RSAKey.generate_key(2048, parameters={"kid": "as-1"}), subject)
    seen: list[str] = []
    async with serve_asgi(_app(issuer, provider, scopes, seen), sock=sock):
        yield AuthorizationServer(issuer, provider, seen)


async def authorize_as_user(authorization_url: str) -> AuthorizationCodeResult:
    """Open the authorization URL as the user's browser would, and read the code off the redirect."""
    async with httpx.AsyncClient(timeout=10, follow_redirects=False) as browser:
        answer = await browser.get(authorization_url)
    assert answer.status_code in (302, 303, 307), (answer.status_code, answer.text)
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert "code" in query, query
    return AuthorizationCodeResult(code=query["code"][0], state=query.get("state", [None])[0],
                                   iss=query.get("iss", [None])[0])
