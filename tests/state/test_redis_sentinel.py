"""Redis Sentinel: the store follows the master the Sentinels name, through a forced failover and a lost master.

Real processes: a master and a replica (redis-server with requirepass) and a Sentinel (`redis-sentinel`
from Debian's package, else `redis-server --sentinel`) with its own password, on free loopback ports.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from proxy.admin.config import SecretRef
from proxy.state.codec import StoreUnavailable
from proxy.state.factory import open_store
from proxy.state.model import Quarantine, Store
from proxy.state.redis_config import RedisConfig, RedisSentinelConfig
from tests.conftest import require_redis
from tests.state.conftest import eventually
from tests.support.redis_server import MASTER_NAME, RedisServer, SentinelSetup

pytestmark = pytest.mark.anyio
PASSWORD, SENTINEL_PASSWORD = f"data-{uuid.uuid4().hex}", f"sentinel-{uuid.uuid4().hex}"
BOUND = 10.0  # a forced failover takes about a second here; a lost master, the 1 s detection more


@pytest.fixture
def ha(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SentinelSetup]:
    require_redis()
    monkeypatch.setenv("REDIS_PASSWORD", PASSWORD)
    monkeypatch.setenv("REDIS_SENTINEL_PASSWORD", SENTINEL_PASSWORD)
    with SentinelSetup.running(tmp_path, password=PASSWORD, sentinel_password=SENTINEL_PASSWORD) as setup:
        yield setup


def settings(ha: SentinelSetup, sentinel_password: str = "REDIS_SENTINEL_PASSWORD") -> RedisConfig:
    return RedisConfig(password=SecretRef(env="REDIS_PASSWORD"), sentinel=RedisSentinelConfig(
        master=MASTER_NAME, nodes=tuple(ha.nodes), password=SecretRef(env=sentinel_password)))


async def replicas(ha: SentinelSetup, stores: list[Store], count: int = 2, wait_replicas: int = 0,
                   resync_interval: float = 0.5) -> list[Store]:
    opened = []
    for _ in range(count):
        config = settings(ha).model_copy(update={"wait_replicas": wait_replicas})
        timeout = 2.0 if wait_replicas else 0.5  # WAIT gets half: room for a loaded test machine
        store = open_store(f"redis://{MASTER_NAME}/0", redis=config, resync_interval=resync_interval,
                           command_timeout=timeout)
        stores.append(store)
        await store.start()
        opened.append(store)
    return opened


def quarantine(subject: str) -> Quarantine:
    return Quarantine(kind="principal", subject=subject, mode="block", reason="IR", actor="me", created=1.0)


def on_server(server: RedisServer, subject: str) -> bool:
    """Whether `server` itself holds the quarantine of `subject` (not just a replica's snapshot)."""
    with server.client() as client:
        return bool(client.hexists("drawbridge:quarantines", f"principal:{subject}"))


async def write_until_on(server: RedisServer, store: Store, subject: str, bound: float = BOUND) -> float:
    """Retry writing until the write lands on `server`; the seconds it took (fails after `bound`)."""
    started = time.monotonic()
    while True:
        try:
            await store.put_quarantine(quarantine(subject))
            if on_server(server, subject):
                return time.monotonic() - started
        except StoreUnavailable:
            pass  # fail closed while the master is away
        assert time.monotonic() - started < bound, f"no write reached {server.address} within {bound}s"
        await asyncio.sleep(0.05)


async def test_the_store_reaches_the_master_through_sentinel(ha: SentinelSetup, stores: list[Store]) -> None:
    a, b = await replicas(ha, stores)
    assert a.healthy and b.healthy
    await a.put_quarantine(quarantine("alice"))
    assert on_server(ha.master(), "alice")
    await eventually(lambda: b.state().quarantine_for("alice", None, None) is not None, 5, "pub/sub to b")
    assert await b.take_token("rl", 10.0, 1) == 0.0 and await a.take_token("rl", 10.0, 1) > 9


async def test_a_wrong_sentinel_password_fails_closed(ha: SentinelSetup, stores: list[Store],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WRONG_SENTINEL_PASSWORD", "not-it")
    store = open_store(f"redis://{MASTER_NAME}/0", redis=settings(ha, "WRONG_SENTINEL_PASSWORD"))
    stores.append(store)
    await store.start()
    assert not store.healthy
    with pytest.raises(StoreUnavailable, match=f"No master found for '{MASTER_NAME}'") as refused:
        await store.kv_get("pins", "x")
    assert "not-it" not in str(refused.value) and SENTINEL_PASSWORD not in str(refused.value)


async def test_after_a_forced_failover_writes_reach_the_new_master(ha: SentinelSetup, stores: list[Store]) -> None:
    a, b = await replicas(ha, stores, resync_interval=5.0)  # the default: no periodic load hides a lost change
    await a.put_quarantine(quarantine("before"))
    old = ha.master()
    replica = next(s for s in ha.servers if s is not old)
    await eventually(lambda: on_server(replica, "before"), 5, "replicated")  # replication is asynchronous
    new = ha.failover()  # the old master stays up and takes writes until the Sentinels demote it (~10 s)
    assert new is replica
    await b.release("principal", "before")  # most likely to the old master: changes the failover loses
    for n in range(5):
        await b.put_quarantine(quarantine(f"lost-{n}"))
    for store, subject in ((a, "after"), (b, "from-b")):  # each replica leaves the old master on its own
        assert await write_until_on(new, store, subject) < 3.0  # its session asks the Sentinels every second
    await a.put_quarantine(quarantine("later"))
    assert on_server(new, "later")
    await eventually(lambda: b.state().quarantine_for("later", None, None) is not None, 5, "b sees a's write")
    await eventually(lambda: a.healthy and b.healthy, 5, "both healthy")
    with new.client() as client:
        held = {key.decode().removeprefix("principal:") for key in client.hkeys("drawbridge:quarantines")}
    assert held >= {"after", "from-b", "later"}
    await eventually(lambda: {q.subject for q in a.state().quarantines} == {q.subject for q in b.state().quarantines}
                     == held, 5, "both replicas hold what the new master holds, lost changes forgotten")


async def test_when_the_master_dies_confirmed_changes_survive_and_the_store_follows_the_promoted_one(
        ha: SentinelSetup, stores: list[Store]) -> None:
    (a,) = await replicas(ha, stores, count=1, wait_replicas=1)  # containment writes confirmed by the replica
    (b,) = await replicas(ha, stores, count=1)
    for n in range(5):
        await a.put_quarantine(quarantine(f"confirmed-{n}"))
    old = ha.master()
    old.kill()
    with pytest.raises(StoreUnavailable):  # nobody is master yet: refused, never queued or guessed
        await b.put_quarantine(quarantine("during"))
    new = ha.wait_for_new_master(old, timeout=BOUND)
    assert all(on_server(new, f"confirmed-{n}") for n in range(5))  # no confirmed change was lost
    await write_until_on(new, b, "after")
    await eventually(lambda: a.state().quarantine_for("after", None, None) is not None, 5, "a sees b's write")
    await eventually(lambda: a.healthy and b.healthy, 5, "both healthy")
    with pytest.raises(StoreUnavailable, match="0 of 1 replicas confirmed"):  # no replica is left to confirm
        await a.put_quarantine(quarantine("unconfirmed"))
    assert on_server(new, "unconfirmed")  # written, and a responder was told it is not safe yet
