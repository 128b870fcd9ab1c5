"""Containment through the API fires the real webhook and RFC 7009 revocation on loopback."""

from __future__ import annotations

import json
from typing import Any

import httpx
import orjson
import pytest

from proxy.admin.app import AdminDeps, build_admin_app
from proxy.containment.revocation import TokenRevoker
from proxy.containment.webhook import ContainmentNotifier

from ..containment.receivers import Received, revocation_app, webhook_app
from .conftest import AUTH, TOKEN
from .servers import serve_in_thread

pytestmark = pytest.mark.anyio
SECRET = "whsec-test-secret"
AGENT_TOKEN = "eyJhbGciOiJSUzI1NiJ9.agent-access-token.sig"


async def test_quarantine_notifies_and_revokes(deps: AdminDeps, audit: list[dict[str, Any]]) -> None:
    hook, revocations = Received(), Received()
    with serve_in_thread(webhook_app(SECRET, hook)) as hook_url, \
            serve_in_thread(revocation_app("drawbridge", "c-secret", revocations)) as as_url:
        notifier = ContainmentNotifier(f"{hook_url}/hooks/secret-path", SECRET, audit=audit.append, backoff=0.01)
        revoker = TokenRevoker(f"{as_url}/oauth/revoke", "drawbridge", "c-secret")
        revoker.remember("alice", AGENT_TOKEN)
        revoker.remember("alice", "refresh-1", "refresh_token")
        deps.containment.notifier, deps.containment.revocation.revoker = notifier, revoker
        app = build_admin_app(deps)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://a", headers=AUTH) as c:
            r = await c.post("/v1/quarantines", json={"kind": "principal", "subject": "alice", "reason": "exfil",
                                                     "ticket": "IR-2026-0142"})
            assert r.status_code == 201 and r.json()["token_revocation"] == "scheduled"
            await app.state.plane.drain()
    [delivery] = hook.requests
    assert delivery["valid"] and delivery["path"] == "/hooks/secret-path"
    body = orjson.loads(delivery["body"])
    assert body["action"] == "quarantine" and body["subject"] == "alice" and body["ticket"] == "IR-2026-0142"
    assert body["sent_at"] == delivery["headers"]["x-drawbridge-timestamp"]
    forms = sorted((r["form"]["token"][0], r["form"]["token_type_hint"][0]) for r in revocations.requests)
    assert forms == [(AGENT_TOKEN, "access_token"), ("refresh-1", "refresh_token")]
    assert all(r["authed"] for r in revocations.requests)
    [revoked] = [e for e in audit if e["event_type"] == "containment_tokens_revoked"]
    assert (revoked["revoked"], revoked["failed"]) == (2, 0)
    assert revoker.held("alice") == 0
    dumped = json.dumps(audit)
    for secret in (AGENT_TOKEN, "refresh-1", TOKEN, SECRET, "c-secret", "secret-path"):
        assert secret not in dumped and secret not in repr(revoker) and secret not in repr(notifier)


async def test_failed_side_effects_are_audited(deps: AdminDeps, audit: list[dict[str, Any]]) -> None:
    hook = Received(statuses=[503] * 10)
    with serve_in_thread(webhook_app(SECRET, hook)) as hook_url:
        notifier = ContainmentNotifier(f"{hook_url}/hooks/x", SECRET, audit=audit.append, retries=2, backoff=0.01)
        revoker = TokenRevoker("http://127.0.0.1:9/revoke", "id", "secret", timeout=1)  # nothing listens
        revoker.remember("bob", "tok-bob")
        deps.containment.notifier, deps.containment.revocation.revoker = notifier, revoker
        app = build_admin_app(deps)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://a", headers=AUTH) as c:
            r = await c.post("/v1/deny-tools", json={"principal": "bob", "tools": ["shell.*"], "reason": "r"})
            assert r.status_code == 201
            r = await c.post("/v1/quarantines", json={"kind": "principal", "subject": "bob", "reason": "r"})
            assert r.status_code == 201
            await app.state.plane.drain()
    assert len(hook.requests) == 6  # two actions, each 1 + 2 retries
    failed = [e for e in audit if e["event_type"] == "containment_webhook_failed"]
    assert sorted(e["action"] for e in failed) == ["deny_tools", "quarantine"]
    assert all(e["attempts"] == 3 and e["error"] == "HTTP 503" for e in failed)
    [revocation] = [e for e in audit if e["event_type"] == "containment_revocation_failed"]
    assert revocation["principal"] == "bob" and revocation["failed"] == 1
    assert "tok-bob" not in json.dumps(audit)


async def test_agent_quarantine_can_revoke_the_principals_behind_it(deps: AdminDeps,
                                                                     audit: list[dict[str, Any]]) -> None:
    revocations = Received()
    with serve_in_thread(revocation_app("drawbridge", "c-secret", revocations)) as as_url:
        revoker = TokenRevoker(f"{as_url}/oauth/revoke", "drawbridge", "c-secret")
        for principal in ("alice", "bob", "carol"):
            revoker.remember(principal, f"tok-{principal}")
        deps.containment.revocation.revoker = revoker
        app = build_admin_app(deps)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://a", headers=AUTH) as c:
            r = await c.post("/v1/quarantines", json={"kind": "agent", "subject": "copilot", "reason": "r",
                                                     "revoke_tokens": True, "kill_sessions": True})
            assert r.status_code == 201 and r.json()["killed_sessions"] == 2
            r = await c.post("/v1/quarantines", json={"kind": "principal", "subject": "carol", "reason": "r",
                                                     "mode": "read-only"})
            assert r.json()["token_revocation"] == "skipped"
            await app.state.plane.drain()
    assert sorted(r["form"]["token"][0] for r in revocations.requests) == ["tok-alice", "tok-bob"]
    assert revoker.held("carol") == 1
