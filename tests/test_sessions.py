"""Conversation bindings in the store: every replica checks the same owner, unknown ids stay unknown,
ends are atomic and broadcast, idle bindings expire, stateless clients are listed by their key, and the
latest findings are shared."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from proxy.sessions import SessionDirectory, stateless_client_key
from proxy.state.factory import open_store
from proxy.state.model import Store
from proxy.types import Era
from tests.conftest import require_redis

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "redis"])
async def pair(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """Two directories (two replicas) over one shared store."""
    if request.param == "sqlite":
        urls, options = [f"sqlite:{tmp_path / 's.db'}"] * 2, {"poll_interval": 0.05}
    else:
        require_redis()
        server = request.getfixturevalue("redis_server")
        urls, options = [server.url] * 2, {"prefix": f"t-{uuid.uuid4().hex[:10]}", "resync_interval": 0.5}
    stores: list[Store] = [open_store(url, **options) for url in urls]
    for store in stores:
        await store.start()
    yield [SessionDirectory(store, 60, cache_seconds=60) for store in stores]
    for store in stores:
        await store.close()


async def test_a_binding_is_seen_by_every_replica_and_never_adopted(pair: list[SessionDirectory]) -> None:
    a, b = pair
    assert await b.owner("up", "s-unknown") is None  # after a restart or on a new replica: still unknown
    await a.bind("up", "s-1", "alice", "agent-a", Era.HANDSHAKE, "cred", "10.0.0.1:5000")
    owner = await b.owner("up", "s-1")
    assert owner is not None and (owner.principal, owner.agent, owner.era) == ("alice", "agent-a", "handshake")
    assert await b.owner("other-upstream", "s-1") is None  # per upstream


async def test_counters_are_added_up_and_flushed_once(pair: list[SessionDirectory]) -> None:
    a, b = pair
    await a.bind("up", "s-1", "alice", None, Era.HANDSHAKE, None, None)
    a.count("up", "s-1", calls=2, bytes_in=100)
    b.count("up", "s-1", calls=1, bytes_out=900)
    await a.flush()
    await b.flush()
    [row] = await a.list()
    assert (row.calls, row.bytes_in, row.bytes_out) == (3, 100, 900) and row.last_used >= row.created


async def test_the_latest_findings_of_a_conversation_are_shared_whichever_replica_decided(
        pair: list[SessionDirectory]) -> None:
    a, b = pair
    await a.bind("up", "s-1", "alice", None, Era.HANDSHAKE, None, None)
    b.note_findings("up", "s-1", [("SEV-2", "injection.override"), ("SEV-2", "injection.override"),
                                  ("SEV-3", "unicode.zero_width"), ("SEV-4", "a"), ("SEV-4", "b")])
    await b.flush()
    [row] = await a.list()
    assert row.last_findings == "SEV-2 injection.override, SEV-3 unicode.zero_width, SEV-4 a"  # at most 3
    a.count("up", "s-1", calls=1)  # a decision without findings keeps the last ones shown
    await a.flush()
    assert [r.last_findings for r in await b.list()] == ["SEV-2 injection.override, SEV-3 unicode.zero_width, SEV-4 a"]
    assert (await a.list())[0].view()["last_findings"].startswith("SEV-2")


async def test_end_is_atomic_and_evicts_every_replicas_cache(pair: list[SessionDirectory]) -> None:
    a, b = pair
    await a.bind("up", "s-1", "alice", None, Era.HANDSHAKE, None, None)
    assert await b.owner("up", "s-1") is not None  # b caches it now
    ended = await asyncio.gather(a.end("up", "s-1"), b.end("up", "s-1"))
    assert sum(e is not None for e in ended) == 1  # one replica ends it (and DELETEs it upstream)
    for _ in range(100):
        if await b.owner("up", "s-1") is None:
            break
        await asyncio.sleep(0.02)
    assert await b.owner("up", "s-1") is None  # the broadcast evicted b's cached copy
    a.count("up", "s-1", calls=1)
    await a.flush()
    assert await a.list() == []  # counters never resurrect an ended binding


async def test_idle_bindings_expire(pair: list[SessionDirectory]) -> None:
    a, _ = pair
    a.idle_seconds = 0.3
    await a.bind("up", "s-1", "alice", None, Era.HANDSHAKE, None, None)
    await asyncio.sleep(0.5)
    a._cache.clear()  # a fresh replica: only the store answers
    assert await a.owner("up", "s-1") is None


async def test_stateless_clients_are_listed_by_their_key(pair: list[SessionDirectory]) -> None:
    a, b = pair
    key = stateless_client_key("cred-hash", "alice", "agent-a", "10.0.0.1", {"name": "sdk", "version": "2"})
    assert key.startswith("ck-") and key == stateless_client_key("cred-hash", "alice", "agent-a", "10.0.0.1",
                                                                {"name": "sdk", "version": "2"})
    assert key != stateless_client_key("other", "alice", "agent-a", "10.0.0.1", {"name": "sdk", "version": "2"})
    assert key != stateless_client_key("cred-hash", "alice", "agent-a", "10.0.0.2", {"name": "sdk", "version": "2"})
    await a.stateless("up", key, "alice", "agent-a", "cred-hash", "10.0.0.1:1")
    await b.stateless("up", key, "alice", "agent-a", "cred-hash", "10.0.0.1:2")  # the same client on b
    [row] = await b.list()
    assert (row.client_key, row.session_id, row.era, row.principal) == (key, None, "modern", "alice")
    assert row.view()["session_id"] is None and row.view()["client_key"] == key
