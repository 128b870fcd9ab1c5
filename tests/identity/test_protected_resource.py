"""Each route as an OAuth protected resource: its metadata document, its challenge, its own audience, and signing
keys found from the issuer alone (OpenID Connect / RFC 8414 discovery, over real loopback HTTP)."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from pydantic import ValidationError

from proxy.config import Config
from proxy.identity import (
    Authenticator,
    AuthFailure,
    Identity,
    IdentityConfig,
    JwksError,
    JwksSource,
    JwtConfig,
    ResourceConfig,
    RouteSpec,
    metadata_documents,
    protected_resources,
)

ISSUER = "https://idp.example.test/"
GATEWAY = "https://gw.example"
ROUTES = {"default": RouteSpec("/mcp"), "notes": RouteSpec("/notes/mcp"), "wiki": RouteSpec("/wiki/mcp", "api://wiki")}

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


@pytest.fixture
def jwks_file(tmp_path: Path, key: RSAKey) -> Path:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    return path


def token(key: RSAKey, issuer: str = ISSUER, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": issuer, "sub": "alice", "azp": "agent-7", "iat": now, "exp": now + 60, **claims}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, payload, key)


def gateway(jwks_file: Path, **resource: Any) -> IdentityConfig:
    return IdentityConfig(jwt=JwtConfig(jwks_file=jwks_file, issuer=ISSUER),
                          resource=ResourceConfig(base_url=GATEWAY, **resource))


# -- the documents and audiences ----------------------------------------------------------------------------------
def test_each_route_is_its_own_resource(jwks_file: Path) -> None:
    identity = gateway(jwks_file, scopes_supported=("notes:read",), resource_name="Acme MCP gateway",
                       documentation="https://docs.example.test/mcp")
    resources = protected_resources(identity, "0.0.0.0:8080", ROUTES)
    notes = resources["notes"]
    assert (notes.resource, notes.audience, notes.scope) == (f"{GATEWAY}/notes/mcp", f"{GATEWAY}/notes/mcp",
                                                             "notes:read")
    assert notes.metadata_url == f"{GATEWAY}/.well-known/oauth-protected-resource/notes/mcp"
    assert resources["default"].metadata_url == f"{GATEWAY}/.well-known/oauth-protected-resource/mcp"
    assert resources["wiki"].audience == "api://wiki"  # the upstream's own audience wins
    assert notes.document is not None and json.loads(notes.document) == {
        "resource": f"{GATEWAY}/notes/mcp", "authorization_servers": [ISSUER], "scopes_supported": ["notes:read"],
        "bearer_methods_supported": ["header"], "resource_name": "Acme MCP gateway",
        "resource_documentation": "https://docs.example.test/mcp"}
    documents = metadata_documents(resources)
    assert sorted(documents) == ["/.well-known/oauth-protected-resource/mcp",
                                 "/.well-known/oauth-protected-resource/notes/mcp",
                                 "/.well-known/oauth-protected-resource/wiki/mcp"]


def test_a_single_route_is_also_described_at_the_root_and_loopback_needs_no_base_url(jwks_file: Path) -> None:
    identity = IdentityConfig(jwt=JwtConfig(jwks_file=jwks_file, issuer=ISSUER),
                              resource=ResourceConfig(authorization_servers=("https://as.example.test/t1",)))
    resources = protected_resources(identity, "127.0.0.1:8080", {"default": RouteSpec("/mcp")})
    assert resources["default"].audience == "http://127.0.0.1:8080/mcp"
    documents = metadata_documents(resources)
    assert documents["/.well-known/oauth-protected-resource"] == documents["/.well-known/oauth-protected-resource/mcp"]
    assert json.loads(documents["/.well-known/oauth-protected-resource"])["authorization_servers"] == [
        "https://as.example.test/t1"]


def test_a_global_audience_still_applies_to_every_route(jwks_file: Path) -> None:
    """Existing configs: one jwt.audience, no public URL known (non-loopback listen): nothing is served."""
    identity = IdentityConfig(jwt=JwtConfig(jwks_file=jwks_file, issuer=ISSUER, audience="https://gw/mcp"))
    resources = protected_resources(identity, "0.0.0.0:8080", ROUTES)
    assert [r.audience for r in resources.values()] == ["https://gw/mcp", "https://gw/mcp", "api://wiki"]
    assert metadata_documents(resources) == {} and all(r.metadata_url is None for r in resources.values())


def config(identity: dict[str, Any], *, listen: str = "0.0.0.0:8080", **upstream: Any) -> Config:
    return Config.model_validate({"listen": listen, "identity": identity,
                                  "upstreams": [{"name": "notes", "url": "http://127.0.0.1:9/mcp", **upstream}]})


@pytest.mark.parametrize(("identity", "upstream", "message"), [
    ({"jwt": {"jwks_url": "https://idp.test/jwks", "issuer": ISSUER}}, {},
     "route 'notes' has no audience: set identity.resource.base_url"),
    ({"api_keys": []}, {"audience": "api://notes"}, "audience applies to JWT bearer tokens"),
    ({"resource": {"base_url": GATEWAY}}, {}, "configure jwt too"),
    ({"jwt": {"jwks_url": "https://idp.test/jwks", "issuer": ISSUER}, "resource": {"base_url": f"{GATEWAY}/x"}}, {},
     "base_url must be an origin"),
    ({"jwt": {"jwks_url": "https://idp.test/jwks", "issuer": ISSUER}, "resource": {"base_url": "http://gw.example"}},
     {}, "must use https"),
    ({"jwt": {"jwks_url": "https://idp.test/jwks", "issuer": ISSUER},
      "resource": {"base_url": GATEWAY, "scopes_supported": ['a"b']}}, {}, "scopes_supported"),
    ({"jwt": {"jwks_url": "https://idp.test/jwks", "issuer": "my-idp"}, "resource": {"base_url": GATEWAY}}, {},
     "resource.authorization_servers is required"),
    ({"jwt": {"issuer": "http://idp.example.test/"}}, {}, "issuer must use https"),
])
def test_config_refusals(identity: dict[str, Any], upstream: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        config(identity, **upstream)


def test_config_defaults_keep_existing_files_valid() -> None:
    loopback = config({"jwt": {"jwks_url": "https://idp.test/jwks", "issuer": ISSUER}}, listen="127.0.0.1:8080")
    assert loopback.routes()["notes"] == RouteSpec("/notes/mcp")
    legacy = config({"jwt": {"jwks_url": "https://idp.test/jwks", "issuer": "my-idp", "audience": "a"}})
    assert legacy.identity.jwt is not None and legacy.identity.jwt.audience == "a"
    assert config({"jwt": {"jwks_url": "https://idp.test/jwks", "issuer": ISSUER}}, audience="api://notes")


# -- challenges and audiences at the authenticator --------------------------------------------------------------
@pytest.fixture
async def routed(jwks_file: Path) -> AsyncIterator[Authenticator]:
    identity = gateway(jwks_file, scopes_supported=("notes:read", "notes:write"))
    auth = Authenticator(identity, protected_resources(identity, "0.0.0.0:443", ROUTES))
    yield auth
    await auth.aclose()


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


async def test_challenge_names_the_routes_metadata_and_scopes(routed: Authenticator, jwks_file: Path) -> None:
    failure = await routed.authenticate({}, "notes")
    assert isinstance(failure, AuthFailure) and failure.missing_credentials
    assert failure.www_authenticate == ('Bearer realm="drawbridge", resource_metadata="https://gw.example/.well-known/'
                                        'oauth-protected-resource/notes/mcp", scope="notes:read notes:write"')
    identity = gateway(jwks_file).model_copy(update={"resource_metadata_url": "https://meta.example.test/prm"})
    override = Authenticator(identity, protected_resources(identity, "0.0.0.0:443", ROUTES))
    assert 'resource_metadata="https://meta.example.test/prm"' in override.challenge(route="wiki")


async def test_a_token_for_one_route_is_refused_on_another(routed: Authenticator, key: RSAKey) -> None:
    for_notes = token(key, aud=f"{GATEWAY}/notes/mcp")
    assert isinstance(await routed.authenticate(bearer(for_notes), "notes"), Identity)
    for route, path in (("default", "/mcp"), ("wiki", "/wiki/mcp")):
        refused = await routed.authenticate(bearer(for_notes), route)
        assert isinstance(refused, AuthFailure) and refused.reason == "invalid token: wrong audience"
        assert 'error="invalid_token"' in refused.www_authenticate
        assert f'resource_metadata="{GATEWAY}/.well-known/oauth-protected-resource{path}"' in refused.www_authenticate
    both = token(key, aud=[f"{GATEWAY}/notes/mcp", "api://wiki"])
    assert isinstance(await routed.authenticate(bearer(both), "wiki"), Identity)
    assert isinstance(await routed.authenticate(bearer(both), "notes"), Identity)
    # no route and no global audience: nothing to check the token against, so it is refused
    nowhere = await routed.authenticate(bearer(for_notes))
    assert isinstance(nowhere, AuthFailure) and nowhere.reason == "invalid token: no audience configured"


# -- discovery ---------------------------------------------------------------------------------------------------
class Idp:
    """A loopback identity provider serving configured documents by path, recording each request."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.requests: list[str] = []
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                idp.requests.append(self.path)
                body = idp.documents.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body or b"")))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(body or b"")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def publish(self, path: str, doc: object) -> None:
        self.documents[path] = json.dumps(doc).encode()


@pytest.fixture
def idp(key: RSAKey) -> Iterator[Idp]:
    server = Idp()
    server.publish("/keys", {"keys": [key.as_dict(private=False)]})
    thread = threading.Thread(target=server.httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


async def verify(issuer: str, key: RSAKey, **jwt_settings: Any) -> Identity | AuthFailure:
    auth = Authenticator(IdentityConfig(jwt=JwtConfig(issuer=issuer, audience="api://a", **jwt_settings)))
    try:
        return await auth.authenticate(bearer(token(key, issuer=issuer, aud="api://a")))
    finally:
        await auth.aclose()


async def test_keys_found_by_openid_connect_discovery(idp: Idp, key: RSAKey) -> None:
    issuer = f"{idp.origin}/"
    idp.publish("/.well-known/openid-configuration", {"issuer": issuer, "jwks_uri": f"{idp.origin}/keys"})
    assert isinstance(await verify(issuer, key), Identity)
    assert idp.requests == ["/.well-known/openid-configuration", "/keys"]


async def test_keys_found_by_rfc8414_metadata_with_the_issuers_path_inserted(idp: Idp, key: RSAKey) -> None:
    issuer = f"{idp.origin}/tenants/a"
    idp.publish("/.well-known/oauth-authorization-server/tenants/a",
                {"issuer": issuer, "jwks_uri": f"{idp.origin}/keys"})
    assert isinstance(await verify(issuer, key), Identity)
    assert idp.requests == ["/tenants/a/.well-known/openid-configuration",
                            "/.well-known/oauth-authorization-server/tenants/a", "/keys"]


@pytest.mark.parametrize(("document", "logged"), [
    ({"issuer": "https://evil.example.test/", "jwks_uri": "{origin}/keys"}, "names issuer 'https://evil.example.test/'"),
    ({"issuer": "{issuer}", "jwks_uri": "http://keys.example.test/keys"}, "jwks_uri must use https"),
    ({"issuer": "{issuer}"}, "metadata has no usable jwks_uri"),
    ("not json", "not valid JSON"),
    ({"issuer": "{issuer}", "jwks_uri": "{origin}/keys", "pad": "x" * 70_000}, "issuer metadata response exceeds size"),
    (None, "openid-configuration: issuer metadata fetch failed: HTTP 404"),
])
async def test_discovery_failures_fail_closed(idp: Idp, key: RSAKey, document: object, logged: str,
                                              caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "drawbridge.identity.jwks")
    issuer = f"{idp.origin}/"
    if isinstance(document, dict):
        document = {k: v.format(origin=idp.origin, issuer=issuer) for k, v in document.items()}
    if document == "not json":
        idp.documents["/.well-known/openid-configuration"] = b"<html>sign in</html>"
    elif document is not None:
        idp.publish("/.well-known/openid-configuration", document)
    result = await verify(issuer, key)
    assert isinstance(result, AuthFailure) and result.reason == "invalid token: signing keys unavailable"
    assert 'error="invalid_token"' in result.www_authenticate
    assert "JWKS load failed: JWKS discovery failed" in caplog.text and logged in caplog.text
    assert "/keys" not in idp.requests  # no keys were taken from an unverified place


async def test_an_unreachable_issuer_fails_closed(key: RSAKey, caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        issuer = f"http://127.0.0.1:{sock.getsockname()[1]}/"
    result = await verify(issuer, key, jwks_timeout_seconds=0.5)
    assert isinstance(result, AuthFailure) and result.reason == "invalid token: signing keys unavailable"
    assert "ConnectError" in caplog.text


async def test_discovery_is_repeated_once_the_cache_expires(idp: Idp, key: RSAKey) -> None:
    issuer = f"{idp.origin}/"
    idp.publish("/.well-known/openid-configuration", {"issuer": issuer, "jwks_uri": f"{idp.origin}/keys"})
    now = [0.0]
    source = JwksSource(JwtConfig(issuer=issuer, jwks_cache_seconds=60), clock=lambda: now[0])
    try:
        assert (await source.get_key("k1")).kid == "k1"
        idp.documents["/moved"] = idp.documents.pop("/keys")
        idp.publish("/.well-known/openid-configuration", {"issuer": issuer, "jwks_uri": f"{idp.origin}/moved"})
        now[0] += 30
        await source.get_key("k1")  # cached keys, no request
        now[0] += 31
        assert (await source.get_key("k1")).kid == "k1"
        assert idp.requests == ["/.well-known/openid-configuration", "/keys",
                                "/.well-known/openid-configuration", "/moved"]
        idp.documents.clear()  # the issuer goes away: once the cache expires, nothing is accepted
        now[0] += 61
        with pytest.raises(JwksError, match="discovery failed"):
            await source.get_key("k1")
    finally:
        await source.aclose()
