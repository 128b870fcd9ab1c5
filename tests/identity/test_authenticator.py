"""Authenticator end to end: JWTs checked against a JWKS served over real loopback HTTP."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from proxy.identity import (
    ApiKeyEntry,
    Authenticator,
    AuthFailure,
    Identity,
    IdentityConfig,
    JwksError,
    JwksSource,
    JwtConfig,
    UnknownKeyError,
    hash_api_key,
)

ISSUER = "https://idp.example.test/"
AUDIENCE = "https://drawbridge.example.test/mcp"
METADATA = "https://drawbridge.example.test/.well-known/oauth-protected-resource"
CHALLENGE = re.compile(r'^Bearer [a-z_]+="[ !#-\[\]-~]*"(?:, [a-z_]+="[ !#-\[\]-~]*")*$')

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class JwksServer:
    """A loopback JWKS endpoint that counts fetches and can misbehave on demand."""

    def __init__(self) -> None:
        self.body = b'{"keys": []}'
        self.status = 200
        self.delay = 0.0
        self.send_length = True
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.fetches += 1
                time.sleep(server.delay)
                self.send_response(server.status)
                self.send_header("content-type", "application/json")
                if server.send_length:
                    self.send_header("content-length", str(len(server.body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client gave up (timeout or size limit)
                    self.wfile.write(server.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"

    def publish(self, *keys: RSAKey | ECKey) -> None:
        self.body = json.dumps({"keys": [k.as_dict(private=False) for k in keys]}).encode()


@pytest.fixture
def server() -> Iterator[JwksServer]:
    srv = JwksServer()
    thread = threading.Thread(target=srv.httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture(scope="module")
def key1() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "k1"})


@pytest.fixture(scope="module")
def key2() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "k2"})


def jwt_config(url: str, **overrides: Any) -> JwtConfig:
    return JwtConfig(jwks_url=url, issuer=ISSUER, audience=AUDIENCE, **overrides)


@pytest.fixture
async def auth(server: JwksServer, key1: RSAKey) -> AsyncIterator[Authenticator]:
    server.publish(key1)
    authenticator = Authenticator(
        IdentityConfig(
            jwt=jwt_config(server.url),
            api_keys=(ApiKeyEntry(sha256=hash_api_key("dbk_static"), principal="ops"),),
            resource_metadata_url=METADATA,
        )
    )
    yield authenticator
    await authenticator.aclose()


def token(key: RSAKey | ECKey, kid: str | None = None, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "azp": "agent-7", "iat": now, "exp": now + 60}
    payload.update(claims)
    alg = "RS256" if isinstance(key, RSAKey) else "ES256"
    return jwt.encode({"alg": alg, "kid": kid or key.kid}, {k: v for k, v in payload.items() if v}, key)


def bearer(value: str) -> dict[str, str]:
    return {"authorization": f"Bearer {value}"}


def challenge_params(header: str) -> dict[str, str]:
    assert CHALLENGE.fullmatch(header), header
    return dict(re.findall(r'([a-z_]+)="([^"]*)"', header))


async def refused(auth: Authenticator, headers: dict[str, str]) -> AuthFailure:
    result = await auth.authenticate(headers)
    assert isinstance(result, AuthFailure), result
    for secret in (headers.get("authorization", "").removeprefix("Bearer "), headers.get("x-api-key")):
        assert not secret or (secret not in repr(result) and secret not in str(result))
    params = challenge_params(result.www_authenticate)
    assert params["realm"] == "drawbridge" and params["resource_metadata"] == METADATA
    return result


async def test_valid_token_yields_identity(
    auth: Authenticator, server: JwksServer, key1: RSAKey, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tok = token(key1)
    result = await auth.authenticate(bearer(tok))
    assert isinstance(result, Identity) and result.expires_at is not None and result.expires_at > time.time()
    assert result == Identity("alice", "agent-7", "jwt", hashlib.sha256(tok.encode()).hexdigest(), result.expires_at)
    assert await auth.authenticate({"Authorization": f"bearer {tok}"}) == result  # case-insensitive
    assert server.fetches == 1  # cached
    assert tok not in repr(result) + str(result) + repr(auth) + caplog.text


async def test_agent_claim_then_client_id_then_header(auth: Authenticator, key1: RSAKey) -> None:
    agent = {"x-drawbridge-agent": "from-header"}
    by_claim = await auth.authenticate(bearer(token(key1)) | agent)
    by_client_id = await auth.authenticate(bearer(token(key1, azp=None, client_id="cid")) | agent)
    by_header = await auth.authenticate(bearer(token(key1, azp=None)) | agent)
    none = await auth.authenticate(bearer(token(key1, azp=None)))
    agents = [r.agent if isinstance(r, Identity) else r for r in (by_claim, by_client_id, by_header, none)]
    assert agents == ["agent-7", "cid", "from-header", None]


async def test_api_key_and_jwt_side_by_side(auth: Authenticator, key1: RSAKey) -> None:
    ops = await auth.authenticate(bearer("dbk_static"))
    assert isinstance(ops, Identity) and (ops.principal, ops.method) == ("ops", "api_key")
    # A JWT in the API-key header is only ever treated as an API key.
    assert (await refused(auth, {"x-api-key": token(key1)})).reason == "unknown api key"


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"exp": int(time.time()) - 86_400}, "invalid token: expired"),
        ({"nbf": int(time.time()) + 86_400}, "invalid token: not yet valid"),
        ({"iss": "https://other-idp.test/"}, "invalid token: wrong issuer"),
        ({"aud": "https://other-proxy.test/mcp"}, "invalid token: wrong audience"),
    ],
)
async def test_invalid_claims_are_refused(
    auth: Authenticator, key1: RSAKey, claims: dict[str, Any], reason: str
) -> None:
    failure = await refused(auth, bearer(token(key1, **claims)))
    assert failure.reason == reason
    params = challenge_params(failure.www_authenticate)
    assert params["error"] == "invalid_token" and params["error_description"] == reason


async def test_missing_credentials_challenge(auth: Authenticator) -> None:
    failure = await auth.authenticate({})
    assert isinstance(failure, AuthFailure) and failure.missing_credentials
    assert failure.www_authenticate == f'Bearer realm="drawbridge", resource_metadata="{METADATA}"'


async def test_oversized_token_refused_before_parsing(auth: Authenticator, server: JwksServer) -> None:
    failure = await refused(auth, bearer("e" * (16 * 1024 + 1)))
    assert failure.reason == "invalid token: too large" and server.fetches == 0


async def test_key_rotation_and_refresh_rate_limit(
    auth: Authenticator, server: JwksServer, key1: RSAKey, key2: ECKey
) -> None:
    assert isinstance(await auth.authenticate(bearer(token(key1))), Identity)
    assert server.fetches == 1
    server.publish(key1, key2)  # IdP rotates in a new key
    rotated = await auth.authenticate(bearer(token(key2, sub="bob")))
    assert isinstance(rotated, Identity) and rotated.principal == "bob"
    assert server.fetches == 2  # one refresh for the unknown kid
    for i in range(20):  # a flood of bogus kids cannot hammer the IdP
        failure = await refused(auth, bearer(token(key1, kid=f"bogus-{i}")))
        assert failure.reason == "invalid token: unknown key id"
    assert server.fetches == 2


async def test_concurrent_first_requests_share_one_fetch(auth: Authenticator, server: JwksServer, key1: RSAKey) -> None:
    results: list[Identity | AuthFailure] = []

    async def one() -> None:
        results.append(await auth.authenticate(bearer(token(key1))))

    async with anyio.create_task_group() as tg:
        for _ in range(20):
            tg.start_soon(one)
    assert all(isinstance(r, Identity) for r in results) and len(results) == 20
    assert server.fetches == 1


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/jwks.json"


@pytest.mark.parametrize(
    ("failure_mode", "logged"),
    [
        ("down", "ConnectError"),
        ("http_500", "HTTP 500"),
        ("too_big", "size limit"),
        ("too_big_unannounced", "size limit"),
        ("not_json", "not valid JSON"),
        ("slow", "timed out"),
    ],
)
async def test_jwks_failures_fail_closed(
    server: JwksServer, key1: RSAKey, failure_mode: str, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    server.publish(key1)
    url = closed_port_url() if failure_mode == "down" else server.url
    if failure_mode == "http_500":
        server.status = 500
    elif failure_mode.startswith("too_big"):
        server.send_length = failure_mode == "too_big"
        server.body = b'{"keys": [], "pad": "' + b"x" * (256 * 1024) + b'"}'
    elif failure_mode == "not_json":
        server.body = b"<html>login</html>"
    elif failure_mode == "slow":
        server.delay = 1.0
    auth = Authenticator(IdentityConfig(jwt=jwt_config(url, jwks_timeout_seconds=0.2)))
    try:
        result = await auth.authenticate(bearer(token(key1)))
    finally:
        await auth.aclose()
    assert isinstance(result, AuthFailure)
    assert result.reason == "invalid token: signing keys unavailable"
    assert challenge_params(result.www_authenticate)["error"] == "invalid_token"
    assert logged in caplog.text


async def test_source_cache_expiry_refresh_and_rate_window(server: JwksServer, key1: RSAKey, key2: ECKey) -> None:
    server.publish(key1)
    now = [0.0]
    source = JwksSource(jwt_config(server.url, jwks_cache_seconds=300), clock=lambda: now[0])
    try:
        assert (await source.get_key("k1")).kid == "k1" and server.fetches == 1
        with pytest.raises(UnknownKeyError):
            await source.get_key("k2")  # refresh allowed, key still absent
        assert server.fetches == 2
        server.publish(key1, key2)
        now[0] += 10
        with pytest.raises(UnknownKeyError, match="rate-limited"):
            await source.get_key("k2")
        assert server.fetches == 2
        now[0] += 25  # 35 s after the last unknown-kid refresh
        assert (await source.get_key("k2")).kid == "k2" and server.fetches == 3

        now[0] += 299  # cache still fresh
        await source.get_key("k1")
        assert server.fetches == 3
        now[0] += 2  # cache expired: refetch
        await source.get_key("k1")
        assert server.fetches == 4

        server.status = 503  # expired cache + IdP down: fail closed, with backoff
        now[0] += 301
        for _ in range(5):
            with pytest.raises(JwksError):
                await source.get_key("k1")
        assert server.fetches == 5
        server.status = 200
        now[0] += 6  # backoff over: recovers
        assert (await source.get_key("k1")).kid == "k1" and server.fetches == 6
    finally:
        await source.aclose()


async def test_jwt_only_config_rejects_non_jwt_bearer(server: JwksServer, key1: RSAKey) -> None:
    server.publish(key1)
    auth = Authenticator(IdentityConfig(jwt=jwt_config(server.url)))
    try:
        result = await auth.authenticate(bearer("opaque-token"))
        assert isinstance(result, AuthFailure) and result.reason == "invalid token: malformed"
        assert challenge_params(result.www_authenticate) == {
            "realm": "drawbridge",
            "error": "invalid_token",
            "error_description": "invalid token: malformed",
        }
    finally:
        await auth.aclose()


async def test_unexpected_errors_fail_closed_without_leaking(
    auth: Authenticator, key1: RSAKey, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    tok = token(key1)

    async def broken(credential: str, audience: str | None = None) -> None:
        raise RuntimeError(f"boom while handling {credential}")

    monkeypatch.setattr(auth._jwt, "verify", broken)
    failure = await refused(auth, bearer(tok))
    assert failure.reason == "authentication error"
    assert "RuntimeError" in caplog.text and tok not in caplog.text
