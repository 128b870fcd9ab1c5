"""Two Drawbridge replicas sharing one real Redis: containment reaches both; Redis down fails closed."""

from __future__ import annotations

from pathlib import Path

import anyio
import httpx
import pytest

from tests.e2e.conftest import IDENTITY
from tests.e2e.test_killswitch import QUARANTINED, ok, refused_code
from tests.support.drawbridge import Drawbridge, run_drawbridge
from tests.support.redis_server import RedisServer
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
STORE_DOWN = -32051


def code(proxy: Drawbridge) -> int | None:
    return anyio.run(refused_code, proxy, "get_weather", {"city": "Bern"})


def ready(proxy: Drawbridge) -> int:
    return httpx.get(f"{proxy.url}/readyz", timeout=5).status_code


def test_quarantine_on_one_replica_blocks_the_other(demo_server: str, tmp_path: Path, own_redis: RedisServer) -> None:
    extra = {"identity": IDENTITY, "store": own_redis.url}
    with run_drawbridge(tmp_path, {"default": demo_server}, extra=extra, admin=True) as a, \
            run_drawbridge(tmp_path, {"default": demo_server}, extra=extra) as b:
        assert code(b) is None
        ok(a.cli("quarantine", "principal", "alice", "--reason", "IR", "--ticket", "IR-42"))
        assert code(b) == QUARANTINED  # the very next request on the other replica
        ok(a.cli("release", "principal", "alice", "--reason", "done"))
        assert eventually(lambda: code(b) is None)


def test_redis_down_fails_closed_and_recovers_with_state(demo_server: str, tmp_path: Path,
                                                          own_redis: RedisServer) -> None:
    extra = {"identity": IDENTITY, "store": own_redis.url}
    with run_drawbridge(tmp_path, {"default": demo_server}, extra=extra, admin=True) as a, \
            run_drawbridge(tmp_path, {"default": demo_server}, extra=extra) as b:
        ok(a.cli("quarantine", "agent", "agent-m", "--reason", "IR", "--ticket", "IR-43"))
        own_redis.kill()
        assert eventually(lambda: ready(a) == 503 and ready(b) == 503)
        assert code(a) == STORE_DOWN and code(b) == STORE_DOWN
        own_redis.start()  # same data dir: append-only file kept the state
        assert eventually(lambda: ready(a) == 200 and ready(b) == 200)
        assert code(b) is None  # alice is not contained; service is back
        assert "agent-m" in a.cli("status").stdout  # the quarantine survived the outage
