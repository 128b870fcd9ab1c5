"""Revocation that lasts: a token revoked at containment is refused by every replica, also after the
quarantine is lifted, until the token expires; automated containment revokes like a responder does.
Two real Drawbridge processes on one real Redis, JWTs checked against a JWKS, a real RFC 7009 endpoint."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.admin.servers import serve_in_thread
from tests.containment.receivers import Received, revocation_app
from tests.e2e.test_killswitch import ok
from tests.support.drawbridge import Drawbridge, run_drawbridge
from tests.support.mcp_http import ACCEPT, call_tool, error_code, messages, open_session
from tests.support.redis_server import RedisServer
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
ISSUER, AUDIENCE = "https://idp.test/", "https://drawbridge.test/mcp"
CLIENT_ID, CLIENT_SECRET = "drawbridge", "revocation-client-secret"
QUARANTINED, UNAUTHENTICATED = -32053, -32070
CANARY_POLICY = """\
version: 1
settings:
  unknown_methods: policy
  canary_tools: [export_all_credentials]
  auto_containment:
    - {id: canary-blocks-principal, detectors: ["canary.*"], min_severity: SEV-1, subject: principal, mode: block}
rules:
  - {id: everything, effect: permit, methods: ["*"]}
  - {id: answers, effect: permit, direction: to_client, methods: ["*"]}
"""


@dataclass
class Setup:
    a: Drawbridge
    b: Drawbridge
    key: RSAKey
    revoked: Received

    def token(self, sub: str = "alice", lifetime: int = 600) -> str:
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "azp": "agent-j", "iat": now, "exp": now + lifetime,
                  "jti": f"{sub}-{time.monotonic_ns()}"}
        return jwt.encode({"alg": "RS256", "kid": self.key.kid}, claims, self.key)


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def weather(proxy: Drawbridge, token: str) -> int | None:
    """The JSON-RPC error code a fresh session with this token gets at its first refused step (401s
    included), or None when the call succeeds."""
    headers = {**ACCEPT, **bearer(token), "mcp-protocol-version": "2025-11-25"}
    steps = [{"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                 "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
             {"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_weather",
                                                                          "arguments": {"city": "Riga"}}}]
    for step in steps:
        response = httpx.post(proxy.mcp_url(), json=step, headers=headers, timeout=10)
        if response.status_code >= 400:
            return int(response.json()["error"]["code"])
        headers.setdefault("mcp-session-id", response.headers.get("mcp-session-id", ""))
        codes = [m["error"]["code"] for m in messages(response) if "error" in m]
        if codes:
            return int(codes[0])
    return None


@pytest.fixture
def setup(demo_server: str, tmp_path: Path, own_redis: RedisServer) -> Iterator[Setup]:
    key = RSAKey.generate_key(2048, parameters={"kid": "k-e2e"})
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "policy.yaml").write_text(CANARY_POLICY)
    revoked = Received()
    with serve_in_thread(revocation_app(CLIENT_ID, CLIENT_SECRET, revoked)) as endpoint:
        extra = {"identity": {"jwt": {"jwks_file": str(jwks), "issuer": ISSUER, "audience": AUDIENCE}},
                 "store": own_redis.url,
                 "containment": {"revocation": {"endpoint": f"{endpoint}/oauth/revoke", "client_id": CLIENT_ID,
                                                "client_secret": {"env": "REVOCATION_SECRET"}}}}
        env = {"REVOCATION_SECRET": CLIENT_SECRET}
        with run_drawbridge(tmp_path, {"default": demo_server}, policy=policy, extra=extra, admin=True,
                            env=env) as a, \
                run_drawbridge(tmp_path, {"default": demo_server}, policy=policy, extra=extra, env=env) as b:
            yield Setup(a, b, key, revoked)


def test_a_revoked_token_is_refused_everywhere_until_it_expires(setup: Setup) -> None:
    a, b = setup.a, setup.b
    stolen = setup.token()
    assert weather(b, stolen) is None  # B has seen (and holds) the token
    done = a.cli("quarantine", "principal", "alice", "--reason", "token theft", "--ticket", "IR-11")
    ok(done)
    assert "scheduled" in done.stdout
    assert eventually(lambda: weather(b, stolen) == UNAUTHENTICATED)  # deny-listed by hash, on every replica
    assert weather(a, stolen) == UNAUTHENTICATED
    ok(a.cli("release", "principal", "alice", "--reason", "eradicated"))
    assert weather(a, stolen) == UNAUTHENTICATED and weather(b, stolen) == UNAUTHENTICATED  # still revoked
    assert weather(b, setup.token()) is None  # alice's new credential works once she is released
    assert eventually(lambda: any(r["form"]["token"] == [stolen] for r in setup.revoked.requests))
    events = a.events(None) + b.events(None)
    assert stolen not in json.dumps(events)  # hashed, never written
    refusals = [e for e in events if e.get("check") == "revocation"]
    assert refusals and all(e["http"]["status"] == 401 for e in refusals)


def test_automated_containment_revokes_like_a_responder(setup: Setup) -> None:
    a, b = setup.a, setup.b
    token = setup.token()
    assert weather(a, token) is None  # A holds the token too
    answer = call_tool(b.mcp_url(), open_session(b.mcp_url(), bearer(token)), "export_all_credentials", {})
    assert error_code(answer) is not None  # the canary is refused (without revealing it is one) …
    assert eventually(lambda: weather(a, token) == UNAUTHENTICATED)  # … and its token revoked everywhere
    actions = [e for e in a.events(None) + b.events(None) if e["event_type"] == "containment_action"]
    assert [(e["actor"], e["subject"], e["mode"]) for e in actions] == [("drawbridge:auto", "alice", "block")]
    assert actions[0]["evidence_id"] is not None
    assert eventually(lambda: any(r["form"]["token"] == [token] for r in setup.revoked.requests))
