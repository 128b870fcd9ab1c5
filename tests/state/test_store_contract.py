"""The Store contract: one suite, run against every backend (SQLite file and real Redis)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from proxy.errors import ConfigError
from proxy.state import codec
from proxy.state.factory import open_store
from proxy.state.model import (
    ContainmentState,
    DenyOverlay,
    EgressDeny,
    Quarantine,
    RateLimit,
    RevokedCredential,
    Store,
    Upsert,
)
from proxy.state.redis_store import RedisStore
from proxy.state.sqlite import SQLiteStore
from tests.state.conftest import MakeStore, eventually

pytestmark = pytest.mark.anyio


def q(kind: Any = "principal", subject: str = "alice", mode: Any = "block", **kw: Any) -> Quarantine:
    return Quarantine(kind=kind, subject=subject, mode=mode, reason="test", actor="responder", **kw)


def overlay(id: str = "ov-1", **kw: Any) -> DenyOverlay:
    fields: dict[str, Any] = {"kind": "agent", "subject": "agent-a", "tools": ("fs_*", "shell"),
                              "reason": "r", "actor": "me", "created": 1000.0, **kw}
    return DenyOverlay(id=id, **fields)


def egress(id: str = "eg-1", **kw: Any) -> EgressDeny:
    return EgressDeny(id=id, **{"host": "*.evil.example", "reason": "r", "actor": "me", "created": 1000.0, **kw})


async def test_starts_healthy_and_empty(store: Store) -> None:
    assert store.healthy
    state = store.state()
    assert (state.quarantines, state.deny_overlays, state.egress_denies) == ((), (), ())


async def test_quarantine_put_lookup_release(store: Store) -> None:
    record = q(ticket="INC-7", expires=time.time() + 3600)
    await store.put_quarantine(record)
    assert store.state().quarantine_for("alice", None, None) == record
    assert store.state().quarantine_for("bob", None, None) is None
    assert await store.release("principal", "alice") == record
    assert store.state().quarantine_for("alice", None, None) is None
    assert await store.release("principal", "alice") is None


async def test_put_replaces_the_subjects_quarantine(store: Store) -> None:
    await store.put_quarantine(q(mode="monitor"))
    await store.put_quarantine(q(mode="read-only"))
    assert [x.mode for x in store.state().quarantines] == ["read-only"]


async def test_strictest_mode_wins(store: Store) -> None:
    await store.put_quarantine(q("principal", "alice", "read-only"))
    await store.put_quarantine(q("agent", "agent-a", "block"))
    await store.put_quarantine(q("session", "s-1", "monitor"))
    state = store.state()
    assert state.quarantine_for("alice", "agent-a", "s-1").mode == "block"  # type: ignore[union-attr]
    assert state.quarantine_for("alice", "agent-b", "s-1").mode == "read-only"  # type: ignore[union-attr]
    await store.release("agent", "agent-a")
    assert store.state().quarantine_for("alice", "agent-a", "s-1").mode == "read-only"  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", ["principal", "agent", "session"])
async def test_each_subject_kind_matches_only_itself(store: Store, kind: Any) -> None:
    await store.put_quarantine(q(kind, "x", "no-egress"))
    args = {"principal": ("x", None, None), "agent": ("p", "x", None), "session": ("p", None, "x")}
    state = store.state()
    for other, (principal, agent, session) in args.items():
        hit = state.quarantine_for(principal, agent, session)
        assert (hit is not None) == (other == kind), (kind, other)
    assert await store.release(kind, "x") is not None
    assert store.state().quarantines == ()


async def test_expiry_is_honoured_at_lookup(store: Store) -> None:
    soon = time.time() + 60
    await store.put_quarantine(q(expires=soon))
    await store.put_quarantine(q("agent", "gone", expires=time.time() - 1))
    state = store.state()
    assert state.quarantine_for("alice", None, None) is not None
    assert state.quarantine_for("alice", None, None, now=soon + 1) is None
    assert state.quarantine_for("p", "gone", None) is None
    assert await store.release("agent", "gone") is None  # already expired: nothing was in force


async def test_expired_entries_leave_the_snapshot(make_store: MakeStore) -> None:
    store = await make_store()
    await store.put_quarantine(q(expires=time.time() + 0.2))
    await eventually(lambda: store.state().quarantines == (), what="expired quarantine pruned")
    assert await store.release("principal", "alice") is None


async def test_deny_overlays(store: Store) -> None:
    await store.put_deny_overlay(overlay())
    await store.put_deny_overlay(overlay("ov-2", kind="principal", subject="alice", tools=("*",)))
    assert [o.id for o in store.state().deny_overlays] == ["ov-1", "ov-2"]
    assert store.state().deny_overlays[0] == overlay()
    assert await store.remove_deny_overlay("ov-1")
    assert not await store.remove_deny_overlay("ov-1")
    assert [o.id for o in store.state().deny_overlays] == ["ov-2"]


async def test_egress_denies(store: Store) -> None:
    await store.put_egress_deny(egress(agent="agent-a", ticket="INC-1"))
    await store.put_egress_deny(egress("eg-2", host="paste.example"))
    expected = (egress(agent="agent-a", ticket="INC-1"), egress("eg-2", host="paste.example"))
    assert store.state().egress_denies == expected
    assert await store.remove_egress_deny("eg-2")
    assert not await store.remove_egress_deny("nope")
    assert [d.id for d in store.state().egress_denies] == ["eg-1"]


async def test_revoked_credentials_are_in_the_snapshot_until_they_expire(make_store: MakeStore) -> None:
    a, b = await make_store(), await make_store()
    live = RevokedCredential("a" * 64, "alice", "IR-1", "responder", expires=time.time() + 3600)
    await a.put_revoked(live)
    await a.put_revoked(RevokedCredential("b" * 64, "alice", "IR-1", "responder", expires=time.time() - 1))
    assert a.state().is_revoked("a" * 64) and not a.state().is_revoked("b" * 64)
    assert not a.state().is_revoked(None) and not a.state().is_revoked("c" * 64)
    await eventually(lambda: b.state().is_revoked("a" * 64), what="the other instance refuses it too")
    assert not a.state().is_revoked("a" * 64, now=time.time() + 7200)


async def test_expiring_records_put_get_update_take(store: Store) -> None:
    assert await store.rec_get("sessions", "up:s-1") is None
    await store.rec_put("sessions", "up:s-1", {"principal": "alice", "agent": None, "calls": 0, "t": 1.5}, 60)
    assert await store.rec_get("sessions", "up:s-1") == {"principal": "alice", "agent": None, "calls": 0, "t": 1.5}
    assert await store.rec_update("sessions", "up:s-1", 60, {"t": 2.5}, {"calls": 3})
    assert await store.rec_update("sessions", "up:s-1", 60, add={"calls": 2, "bytes": 10})
    assert await store.rec_get("sessions", "up:s-1") == {"principal": "alice", "agent": None, "calls": 5, "t": 2.5,
                                                          "bytes": 10}
    assert not await store.rec_update("sessions", "nope", 60, {"t": 1})  # an update never creates
    assert await store.rec_get("sessions", "nope") is None
    assert await store.rec_update_many("sessions", 60, [("up:s-1", {}, {"calls": 1}), ("gone", {}, {"calls": 1})]) \
        == [True, False]
    assert await store.rec_list("sessions") == {"up:s-1": {"principal": "alice", "agent": None, "calls": 6,
                                                           "t": 2.5, "bytes": 10}}
    assert await store.rec_take("sessions", "up:s-1") is not None
    assert await store.rec_take("sessions", "up:s-1") is None  # exactly one taker
    assert await store.rec_list("sessions") == {}
    await store.rec_put("sessions", "k", {}, 60)
    assert await store.rec_get("sessions", "k") == {}
    assert await store.rec_delete("sessions", "k") and not await store.rec_delete("sessions", "k")


async def test_expiring_records_expire_and_are_shared(make_store: MakeStore) -> None:
    a, b = await make_store(), await make_store()
    await a.rec_put("replicas", "r1", {"pid": 1}, 0.3)
    await a.rec_put("replicas", "r2", {"pid": 2}, 60)
    await a.rec_put("other", "r1", {"pid": 9}, 60)
    assert await b.rec_list("replicas") == {"r1": {"pid": 1}, "r2": {"pid": 2}}
    await asyncio.sleep(0.45)
    assert await b.rec_get("replicas", "r1") is None
    assert not await b.rec_update("replicas", "r1", 60, {"pid": 3})  # expired: stays gone
    assert await b.rec_take("replicas", "r1") is None
    assert await b.rec_list("replicas") == {"r2": {"pid": 2}}
    assert await a.rec_update("replicas", "r2", 0.3)
    await asyncio.sleep(0.45)
    assert await b.rec_list("replicas") == {}
    assert await b.rec_list("other") == {"r1": {"pid": 9}}


async def test_upserts_return_what_was_there_and_keep_replace_or_add(store: Store) -> None:
    first = [Upsert("det", "alice|rm", {"t": 1.0}, 60, "keep"), Upsert("det", "s1|last", {"tool": "a"}, 60),
             Upsert("det", "s1|count", {"calls": 1, "bytes": 10}, 60, "add")]
    assert await store.rec_upsert_many(first) == [None, None, None]
    again = [Upsert("det", "alice|rm", {"t": 2.0}, 60, "keep"), Upsert("det", "s1|last", {"tool": "b"}, 60),
             Upsert("det", "s1|count", {"calls": 1, "bytes": 5}, 60, "add"),
             Upsert("det", "s1|last", {"tool": "c"}, 60)]  # in order: sees the write before it
    assert await store.rec_upsert_many(again) == [{"t": 1.0}, {"tool": "a"}, {"calls": 1, "bytes": 10},
                                                  {"tool": "b"}]
    assert await store.rec_get("det", "alice|rm") == {"t": 1.0}
    assert await store.rec_get("det", "s1|count") == {"calls": 2, "bytes": 15}
    merged = [Upsert("det", "fp", {"0": "a"}, 60, "merge"), Upsert("det", "fp", {"1": "b"}, 60, "merge"),
              Upsert("det", "fp", {"0": "c"}, 60, "merge")]
    assert await store.rec_upsert_many(merged) == [None, {"0": "a"}, {"0": "a", "1": "b"}]
    assert await store.rec_get("det", "fp") == {"0": "c", "1": "b"}
    assert await store.rec_upsert_many([]) == []


async def test_upserts_are_shared_and_expire(make_store: MakeStore) -> None:
    a, b = await make_store(), await make_store()
    assert await a.rec_upsert_many([Upsert("det", "k", {"n": 1}, 0.3, "add")]) == [None]
    assert await b.rec_upsert_many([Upsert("det", "k", {"n": 1}, 0.3, "add")]) == [{"n": 1}]
    await asyncio.sleep(0.45)
    assert await b.rec_upsert_many([Upsert("det", "k", {"n": 1}, 60, "add")]) == [None]  # the window restarted
    got = await asyncio.gather(*(s.rec_upsert_many([Upsert("det", "first", {}, 60, "keep")]) for s in (a, b, a, b)))
    assert sum(g == [None] for g in got) == 1  # exactly one of many concurrent writers is first


async def test_only_one_of_many_concurrent_takers_gets_a_record(make_store: MakeStore) -> None:
    a, b = await make_store(), await make_store()
    await a.rec_put("server_requests", "s:1", {"method": "sampling/createMessage"}, 60)
    got = await asyncio.gather(*(s.rec_take("server_requests", "s:1") for s in (a, b, a, b)))
    assert sum(g is not None for g in got) == 1


async def test_kv_namespaces(store: Store) -> None:
    assert await store.kv_get("pins", "server-a") is None
    await store.kv_put("pins", "server-a", {"sha256": "ab", "tools": ["x", "y"], "n": 1})
    await store.kv_put("pins", "server-b", {"sha256": "cd"})
    await store.kv_put("approvals", "server-a", {"by": "ops"})
    assert await store.kv_get("pins", "server-a") == {"sha256": "ab", "tools": ["x", "y"], "n": 1}
    assert await store.kv_list("pins") == {"server-a": {"sha256": "ab", "tools": ["x", "y"], "n": 1},
                                           "server-b": {"sha256": "cd"}}
    assert await store.kv_list("approvals") == {"server-a": {"by": "ops"}}
    await store.kv_put("pins", "server-b", {"sha256": "ef"})
    assert await store.kv_get("pins", "server-b") == {"sha256": "ef"}
    assert await store.kv_delete("pins", "server-a")
    assert not await store.kv_delete("pins", "server-a")
    assert await store.kv_list("pins") == {"server-b": {"sha256": "ef"}}
    assert await store.kv_list("empty") == {}


async def test_incr_counts_per_key_and_restarts_after_ttl(store: Store) -> None:
    assert [await store.incr("rl:alice", 1) for _ in range(3)] == [1, 2, 3]
    assert await store.incr("rl:bob", 60) == 1
    await asyncio.sleep(1.1)
    assert await store.incr("rl:alice", 1) == 1
    assert await store.incr("rl:bob", 60) == 2


async def test_on_change_gets_each_new_state(store: Store) -> None:
    seen: list[ContainmentState] = []
    store.on_change(seen.append)
    before = store.state()
    await store.put_quarantine(q())
    await store.put_egress_deny(egress())
    await store.remove_egress_deny("eg-1")
    assert len(seen) == 3
    assert seen[-1] is store.state()
    assert [s.version for s in seen] == sorted({s.version for s in seen})
    assert seen[0].version > before.version
    assert len(seen[0].quarantines) == 1
    assert before.quarantines == ()  # snapshots are never mutated


async def test_a_failing_listener_does_not_break_the_store(store: Store) -> None:
    seen: list[int] = []

    def boom(_: ContainmentState) -> None:
        raise RuntimeError("listener bug")

    store.on_change(boom)
    store.on_change(lambda s: seen.append(s.version))
    await store.put_quarantine(q())
    assert seen == [store.state().version]


async def test_broadcast_reaches_on_event(store: Store) -> None:
    events: list[dict[str, Any]] = []
    store.on_event(events.append)
    await store.broadcast({"type": "kill-session", "session": "s-1"})
    await eventually(lambda: len(events) == 1, what="event delivered")
    await asyncio.sleep(0.1)
    assert events == [{"type": "kill-session", "session": "s-1"}]


async def test_state_is_shared_by_instances(make_store: MakeStore) -> None:
    a, b = await make_store(), await make_store()
    await a.put_quarantine(q("session", "s-9", "read-only"))
    await eventually(lambda: b.state().quarantine_for("p", None, "s-9") is not None, what="b sees a's write")
    assert await b.release("session", "s-9") is not None
    await eventually(lambda: a.state().quarantines == (), what="a sees b's release")


# -- opening stores from URLs ------------------------------------------------------------------

@pytest.mark.parametrize("url", ["sqlite::memory:", "sqlite:state.db", "sqlite:/var/lib/db.sqlite",
                                 "sqlite:///var/lib/db.sqlite"])
def test_open_store_sqlite_urls(url: str) -> None:
    store = open_store(url)
    assert isinstance(store, SQLiteStore)
    assert store.path == {"sqlite:///var/lib/db.sqlite": "/var/lib/db.sqlite"}.get(url, url.removeprefix("sqlite:"))


def test_open_store_redis_url() -> None:
    assert isinstance(open_store("redis://127.0.0.1:6379/2", resync_interval=1.0), RedisStore)


@pytest.mark.parametrize("url", ["", "postgres://x/y", "sqlite:", "sqlite://host/db", "redis://", "redis://h/0",
                                 "redis://h:notaport/0", "redis://h:6379/x", "memory:", "redis://:s3cret@h/0"])
def test_open_store_rejects_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError) as err:
        open_store(url)
    assert "s3cret" not in str(err.value)


async def test_in_memory_sqlite_is_a_complete_store() -> None:
    store = open_store("sqlite::memory:")
    await store.start()
    try:
        await store.put_quarantine(q())
        assert store.state().quarantine_for("alice", None, None) is not None
        assert await store.incr("k", 5) == 1
    finally:
        await store.close()


def test_codec_round_trip_and_forward_compatibility() -> None:
    record = overlay(ticket="T-1", expires=123.5)
    assert codec.loads(codec.DENY_OVERLAYS, codec.dumps(record)) == record
    newer = codec.loads_object(codec.dumps(record)) | {"added_in_v2": True}
    assert codec.from_fields(codec.DENY_OVERLAYS, newer) == record
    with pytest.raises(ValueError):
        codec.loads(codec.QUARANTINES, b'{"kind": "agent"}')
    with pytest.raises(ValueError):
        codec.loads(codec.QUARANTINES, b"[1]")


@pytest.mark.parametrize("ttl", [0, -1, 1.5])
async def test_incr_rejects_a_bad_window(store: Store, ttl: Any) -> None:
    with pytest.raises(ValueError):
        await store.incr("k", ttl)
    assert store.healthy


async def test_token_bucket_is_shared_and_refills(make_store: MakeStore) -> None:
    """Two replicas draw from one bucket: 3 calls per 0.6 s means 3 at once, then one every 0.2 s."""
    first, second = await make_store(), await make_store()
    waits = [await (first if n % 2 else second).take_token("rl-1", 0.2, 3) for n in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 0 < waits[3] <= 0.2
    assert await first.take_token("rl-other", 0.2, 3) == 0.0  # another bucket is untouched
    await asyncio.sleep(waits[3] + 0.05)
    assert await second.take_token("rl-1", 0.2, 3) == 0.0
    assert await first.take_token("rl-1", 0.2, 3) > 0


async def test_rate_limits_replicate_like_other_containment(make_store: MakeStore) -> None:
    first, second = await make_store(), await make_store()
    limit = RateLimit("rl-9", "principal", "alice", 5, 60.0, "burst", "ir", tools=("send_*",), expires=time.time() + 60)
    await first.put_rate_limit(limit)
    await eventually(lambda: second.state().rate_limits == (limit,), what="rate limit replicated")
    assert await second.remove_rate_limit("rl-9")
    await eventually(lambda: first.state().rate_limits == (), what="rate limit removal replicated")
