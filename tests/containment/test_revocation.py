"""RFC 7009 revocation against a real loopback endpoint; tokens stay in memory only."""

from __future__ import annotations

import logging
import time

import pytest

from proxy.containment import revocation
from proxy.containment.revocation import TokenRevoker

from ..admin.servers import serve_in_thread
from .receivers import Received, revocation_app

pytestmark = pytest.mark.anyio
CLIENT_ID, CLIENT_SECRET = "drawbridge proxy", "s3cr:et&+"  # characters that need form-encoding in Basic


async def test_revokes_with_form_fields_and_basic_auth(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    received = Received()
    with serve_in_thread(revocation_app(CLIENT_ID, CLIENT_SECRET, received)) as url:
        revoker = TokenRevoker(f"{url}/oauth/revoke", CLIENT_ID, CLIENT_SECRET)
        revoker.remember("alice", "at-1")
        revoker.remember("alice", "rt-1", "refresh_token")
        revoker.remember("alice", "at-1")  # seen again: held once
        revoker.remember("bob", "at-bob")
        assert revoker.held("alice") == 2
        assert await revoker.revoke_principal("alice") == (2, 0)
        assert await revoker.revoke_principal("alice") == (0, 0)  # forgotten
    forms = sorted((r["form"]["token"], r["form"]["token_type_hint"]) for r in received.requests)
    assert forms == [(["at-1"], ["access_token"]), (["rt-1"], ["refresh_token"])]
    assert all(r["authed"] and r["content_type"] == "application/x-www-form-urlencoded" for r in received.requests)
    assert revoker.held("bob") == 1
    for token in ("at-1", "rt-1", "at-bob", CLIENT_SECRET):
        assert token not in repr(revoker) and token not in caplog.text
    assert repr(revoker) == "TokenRevoker(<1 principals, 1 tokens>)"


async def test_failures_are_counted_and_tokens_forgotten() -> None:
    received = Received(statuses=[400, 503, 503])
    with serve_in_thread(revocation_app(CLIENT_ID, CLIENT_SECRET, received)) as url:
        revoker = TokenRevoker(f"{url}/oauth/revoke", CLIENT_ID, CLIENT_SECRET)
        revoker.remember("alice", "t1")
        revoker.remember("alice", "t2")
        assert await revoker.revoke_principal("alice") == (0, 2)  # 400; then 503 twice (two attempts)
        assert revoker.held("alice") == 0
        wrong = TokenRevoker(f"{url}/oauth/revoke", CLIENT_ID, "wrong")
        wrong.remember("alice", "t3")
        assert await wrong.revoke_principal("alice") == (0, 1)
    assert len(received.requests) == 4


class _FrozenTime:
    def __init__(self, now: float) -> None:
        self.now = now

    def monotonic(self) -> float:
        return self.now


def test_bounded_per_principal_and_by_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    revoker = TokenRevoker("https://as.example/revoke", "c", "s", max_tokens_per_principal=3, ttl=60)
    for i in range(5):
        revoker.remember("alice", f"t{i}")
    assert [t for t, _ in revoker._take("alice")] == ["t2", "t3", "t4"]
    revoker.remember("alice", "old")
    later = time.monotonic() + 120
    monkeypatch.setattr(revocation, "time", _FrozenTime(later))
    assert revoker.held("alice") == 0
    assert revoker._take("alice") == []
