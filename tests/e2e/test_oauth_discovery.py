"""Drawbridge as an OAuth resource server MCP clients can discover (MCP authorization, RFC 9728): the official
SDK client meets a 401, reads the route's protected-resource metadata, registers with a loopback authorization
server, authorizes with PKCE, and calls a tool through the proxy with a JWT whose audience is that route;
Drawbridge finds the server's signing keys from its issuer alone (RFC 8414 metadata)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

from tests.support.drawbridge import DEFAULT_POLICY, Drawbridge, run_drawbridge
from tests.support.oauth_server import TENANT, authorization_server, authorize_as_user

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

USER = "alice@example.test"
SCOPE = "notes:read"
WELL_KNOWN = "/.well-known/oauth-protected-resource"


class MemoryStorage:
    """The SDK's TokenStorage, in memory: what the client registered and the tokens it holds."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def oauth_provider(server_url: str, storage: MemoryStorage) -> OAuthClientProvider:
    """The SDK's OAuth client; the user approves in a "browser" that follows the authorization URL."""
    approvals: list[AuthorizationCodeResult] = []

    async def redirect(url: str) -> None:
        approvals.append(await authorize_as_user(url))

    async def callback() -> AuthorizationCodeResult:
        return approvals.pop()

    metadata = OAuthClientMetadata(redirect_uris=[AnyUrl("http://127.0.0.1:9/callback")], client_name="e2e agent",
                                   grant_types=["authorization_code"])
    return OAuthClientProvider(server_url, metadata, storage, redirect_handler=redirect, callback_handler=callback)


def challenge(response: httpx.Response) -> dict[str, str]:
    header = response.headers["www-authenticate"]
    assert header.startswith("Bearer "), header
    return dict(part.split("=", 1) for part in header.removeprefix("Bearer ").replace('"', "").split(", "))


async def test_sdk_client_discovers_the_metadata_and_authenticates_through_the_proxy(
        demo_server: str, tmp_path: Path) -> None:
    async with authorization_server(USER, [SCOPE]) as auth_server:
        identity = {"jwt": {"issuer": auth_server.issuer, "jwks_timeout_seconds": 2},  # keys found from the issuer
                    "resource": {"scopes_supported": [SCOPE], "resource_name": "Drawbridge e2e"}}
        with run_drawbridge(tmp_path, {"notes": demo_server, "default": demo_server}, policy=DEFAULT_POLICY,
                            extra={"identity": identity}) as proxy:
            storage = MemoryStorage()
            async with httpx2.AsyncClient(auth=oauth_provider(proxy.mcp_url("notes"), storage), timeout=20) as http:
                transport = streamable_http_client(proxy.mcp_url("notes"), http_client=http)
                async with Client(transport, read_timeout_seconds=20) as client:
                    result = await client.call_tool("get_weather", {"city": "Paris"})
            assert not result.is_error and "Paris" in "".join(getattr(c, "text", "") for c in result.content)

            (issued,) = auth_server.provider.issued
            assert issued.claims["aud"] == proxy.mcp_url("notes") and issued.claims["scope"] == SCOPE
            assert storage.tokens is not None and storage.tokens.access_token == issued.token
            assert f"/.well-known/oauth-authorization-server{TENANT}" in auth_server.metadata_requests
            calls = [e for e in proxy.events() if e["tool"] == "get_weather" and e["direction"] == "to_server"]
            assert calls and calls[-1]["verdict"] == "allow" and calls[-1]["principal"] == USER
            assert calls[-1]["agent"] == issued.claims["azp"] and calls[-1]["upstream"] == "notes"
            first = [e for e in proxy.events() if e["check"] == "identity"]
            assert first and first[0]["upstream"] == "notes" and first[0]["http"]["status"] == 401

            # The same token is refused on another route: it was issued for /notes/mcp only.
            async with httpx.AsyncClient(timeout=10) as raw:
                elsewhere = await raw.post(proxy.mcp_url(), headers={"authorization": f"Bearer {issued.token}"},
                                           json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
            assert elsewhere.status_code == 401
            assert challenge(elsewhere) == {
                "realm": "drawbridge", "error": "invalid_token", "error_description": "invalid token: wrong audience",
                "resource_metadata": f"{proxy.url}{WELL_KNOWN}/mcp", "scope": SCOPE}
            assert issued.token not in proxy.audit_path.read_text() + proxy.log()


@pytest.fixture(scope="module")
def two_routes(demo_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drawbridge]:
    identity = {"jwt": {"issuer": "https://idp.example.test/", "jwks_url": "https://idp.example.test/jwks"},
                "resource": {"scopes_supported": ["mcp", "notes:read"], "documentation": "https://docs.example.test/"}}
    with run_drawbridge(tmp_path_factory.mktemp("oauth"), {"notes": demo_server, "default": demo_server},
                        policy=DEFAULT_POLICY, extra={"identity": identity}) as proxy:
        yield proxy


def test_each_route_serves_its_metadata_and_names_it_in_its_challenge(two_routes: Drawbridge) -> None:
    base = two_routes.url
    with httpx.Client(base_url=base, timeout=10) as http:
        before = len(two_routes.events())
        for path in ("/notes/mcp", "/mcp"):
            answer = http.get(f"{WELL_KNOWN}{path}")
            assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
            assert answer.headers["cache-control"] == "public, max-age=300"
            assert answer.json() == {"resource": f"{base}{path}", "authorization_servers": ["https://idp.example.test/"],
                                     "scopes_supported": ["mcp", "notes:read"], "bearer_methods_supported": ["header"],
                                     "resource_documentation": "https://docs.example.test/"}
            refused = http.post(path, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
            assert refused.status_code == 401
            assert challenge(refused) == {"realm": "drawbridge", "resource_metadata": f"{base}{WELL_KNOWN}{path}",
                                          "scope": "mcp notes:read"}
        assert http.get(f"{WELL_KNOWN}/notes/mcp/").status_code == 200
        # two routes: no document is the root's; unknown paths are 404, other methods 405
        assert http.get(WELL_KNOWN).status_code == 404
        assert http.get(f"{WELL_KNOWN}/wiki/mcp").status_code == 404
        assert http.post(f"{WELL_KNOWN}/mcp").status_code == 405
        # the Host/Origin guard answers first, as on the MCP endpoints
        assert http.get(f"{WELL_KNOWN}/mcp", headers={"host": "evil.example"}).status_code == 421
        assert http.get(f"{WELL_KNOWN}/mcp", headers={"origin": "https://evil.example"}).status_code == 403
        events = two_routes.events()[before:]
    # the two 401s are decisions; metadata reads are not MCP messages
    assert [(e["upstream"], e["check"], e["http"]["status"]) for e in events] == [
        ("notes", "identity", 401), ("default", "identity", 401)]


def test_without_jwt_there_is_no_metadata(guarded: Drawbridge) -> None:
    with httpx.Client(base_url=guarded.url, timeout=10) as http:
        assert http.get(f"{WELL_KNOWN}/mcp").status_code == 404
        refused = http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == 'Bearer realm="drawbridge"'
