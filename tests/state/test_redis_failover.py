"""Redis-only behaviour: replicas propagate through pub/sub, fail closed when Redis dies, and recover."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from proxy.state import codec
from proxy.state.codec import StoreUnavailable
from proxy.state.model import ContainmentState, Quarantine
from proxy.state.redis_store import RedisStore
from tests.state.conftest import eventually
from tests.support.redis_server import RedisServer

pytestmark = pytest.mark.anyio
BOUND = 5.0  # generous: these tests check behaviour, the benchmark measures speed


def quarantine(subject: str = "alice", mode: Any = "block") -> Quarantine:
    return Quarantine(kind="principal", subject=subject, mode=mode, reason="r", actor="me", created=1.0)


async def pair(server: RedisServer, stores: list[Any], **options: Any) -> tuple[RedisStore, RedisStore]:
    a, b = (RedisStore(server.url, **options) for _ in range(2))
    for store in (a, b):
        await store.start()
        stores.append(store)
    return a, b


async def test_replicas_see_each_others_writes_via_on_change(own_redis: RedisServer, stores: list[Any]) -> None:
    a, b = await pair(own_redis, stores)
    seen_by_b: list[ContainmentState] = []
    b.on_change(seen_by_b.append)
    await a.put_quarantine(quarantine())
    await eventually(lambda: any(s.quarantine_for("alice", None, None) for s in seen_by_b), BOUND, "b's on_change")
    assert b.state().quarantines == (quarantine(),)

    seen_by_a: list[ContainmentState] = []
    a.on_change(seen_by_a.append)
    assert await b.release("principal", "alice") == quarantine()
    await eventually(lambda: bool(seen_by_a) and seen_by_a[-1].quarantines == (), BOUND, "a's on_change")


async def test_broadcast_reaches_every_replica_once(own_redis: RedisServer, stores: list[Any]) -> None:
    a, b = await pair(own_redis, stores)
    got_a: list[dict[str, Any]] = []
    got_b: list[dict[str, Any]] = []
    a.on_event(got_a.append)
    b.on_event(got_b.append)
    await a.broadcast({"type": "kill-session", "session": "s-1"})
    await eventually(lambda: bool(got_a) and bool(got_b), BOUND, "event on both replicas")
    await asyncio.sleep(0.2)
    assert got_a == got_b == [{"type": "kill-session", "session": "s-1"}]


async def test_interleaved_writes_converge_in_write_order(own_redis: RedisServer, stores: list[Any]) -> None:
    a, b = await pair(own_redis, stores)
    modes: list[Any] = ["monitor", "read-only", "no-egress", "block"]
    for i in range(40):  # both replicas hammer the same key; the last write must win everywhere
        writer = a if i % 2 else b
        await writer.put_quarantine(quarantine(mode=modes[i % 4]))
    final = quarantine(mode=modes[39 % 4])
    await eventually(lambda: a.state().quarantines == b.state().quarantines == (final,), BOUND, "convergence")


async def test_periodic_resync_repairs_a_missed_change(own_redis: RedisServer, stores: list[Any]) -> None:
    a, _ = await pair(own_redis, stores, resync_interval=0.2)
    raw = Redis.from_url(own_redis.url)
    try:  # written behind the replicas' backs: no message is published
        await raw.hset("drawbridge:quarantines", "principal:eve", codec.dumps(quarantine("eve")))
    finally:
        await raw.aclose()
    await eventually(lambda: a.state().quarantine_for("eve", None, None) is not None, BOUND, "resync")


async def test_expired_records_are_pruned_from_redis(own_redis: RedisServer, stores: list[Any]) -> None:
    a, _ = await pair(own_redis, stores, resync_interval=0.1)
    short = Quarantine(kind="agent", subject="x", mode="block", reason="r", actor="me", expires=time.time() + 0.2)
    await a.put_quarantine(short)
    raw = Redis.from_url(own_redis.url)
    try:
        assert await raw.hexists("drawbridge:quarantines", "agent:x")
        deadline = time.monotonic() + BOUND
        while await raw.hexists("drawbridge:quarantines", "agent:x"):
            assert time.monotonic() < deadline, "expired quarantine still in Redis"
            await asyncio.sleep(0.05)
    finally:
        await raw.aclose()
    await eventually(lambda: a.state().quarantines == (), BOUND, "expired quarantine out of the snapshot")


async def test_redis_loss_fails_closed_then_recovers_with_state(own_redis: RedisServer, stores: list[Any]) -> None:
    a, b = await pair(own_redis, stores)
    await a.put_quarantine(quarantine())
    await a.put_deny_overlay(codec.from_fields(codec.DENY_OVERLAYS, {  # type: ignore[arg-type]
        "id": "ov", "kind": "agent", "subject": "agent-a", "tools": ["shell"], "reason": "r", "actor": "me"}))
    await eventually(lambda: len(b.state().deny_overlays) == 1, BOUND, "b in sync")
    before = b.state()

    own_redis.kill()
    await eventually(lambda: not a.healthy and not b.healthy, BOUND, "both unhealthy")
    assert b.state() == before  # the last snapshot is kept: lookups still answer, callers fail closed
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await a.put_quarantine(quarantine("bob"))
    with pytest.raises(StoreUnavailable):
        await b.incr("rl:alice", 60)
    assert time.monotonic() - started < 3.0  # a dead Redis never hangs the proxy

    own_redis.start()  # same port, same data dir: the AOF is replayed
    await eventually(lambda: a.healthy and b.healthy, BOUND + 5, "both healthy again")
    assert a.state().quarantines == b.state().quarantines == (quarantine(),)
    assert [o.id for o in b.state().deny_overlays] == ["ov"]
    await b.put_quarantine(quarantine("carol", "read-only"))
    await eventually(lambda: a.state().quarantine_for("carol", None, None) is not None, BOUND, "propagation again")


async def test_start_without_redis_is_unhealthy_until_it_appears(own_redis: RedisServer, stores: list[Any]) -> None:
    own_redis.stop()
    store = RedisStore(own_redis.url)
    stores.append(store)
    started = time.monotonic()
    await store.start()
    assert time.monotonic() - started < 4.0
    assert not store.healthy
    with pytest.raises(StoreUnavailable):
        await store.kv_get("pins", "x")
    own_redis.start()
    await eventually(lambda: store.healthy, BOUND + 5, "healthy once Redis is up")
    assert await store.kv_get("pins", "x") is None
