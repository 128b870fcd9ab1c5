"""Two real Drawbridge processes on Redis behind Sentinel, the password from an environment variable:
containment set through one is enforced by the other, before and after a failover.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import require_redis
from tests.e2e.conftest import AUTH, IDENTITY
from tests.e2e.test_killswitch import ok
from tests.support.drawbridge import Drawbridge, run_drawbridge
from tests.support.mcp_http import call_tool, error_code, open_session
from tests.support.redis_server import MASTER_NAME, SentinelSetup
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
QUARANTINED = -32053
PASSWORD, SENTINEL_PASSWORD = f"data-{uuid.uuid4().hex}", f"sentinel-{uuid.uuid4().hex}"
ENV = {"REDIS_PASSWORD": PASSWORD, "REDIS_SENTINEL_PASSWORD": SENTINEL_PASSWORD}


@pytest.fixture
def ha(tmp_path: Path) -> Iterator[SentinelSetup]:
    require_redis()
    with SentinelSetup.running(tmp_path / "ha", password=PASSWORD, sentinel_password=SENTINEL_PASSWORD) as setup:
        yield setup


@pytest.fixture
def replicas(demo_server: str, tmp_path: Path, ha: SentinelSetup) -> Iterator[tuple[Drawbridge, Drawbridge]]:
    """Replica A (with the admin API) and replica B; the store URL names only the master's name."""
    redis = {"password": {"env": "REDIS_PASSWORD"},
             "sentinel": {"master": MASTER_NAME, "nodes": ha.nodes, "password": {"env": "REDIS_SENTINEL_PASSWORD"}}}
    extra = {"identity": IDENTITY, "store": f"redis://{MASTER_NAME}/0", "redis": redis}
    with run_drawbridge(tmp_path, {"default": demo_server}, extra=extra, env=ENV, admin=True) as a, \
            run_drawbridge(tmp_path, {"default": demo_server}, extra=extra, env=ENV) as b:
        yield a, b


def code(proxy: Drawbridge) -> int | None:
    return error_code(call_tool(proxy.mcp_url(), open_session(proxy.mcp_url(), AUTH), "get_weather", {"city": "Oslo"}))


def released_on_the_master(a: Drawbridge, ha: SentinelSetup) -> bool:
    """Release alice through A; true once the master the Sentinels name holds no quarantine for her."""
    a.cli("release", "principal", "alice", "--reason", "all clear")  # refused while A still follows the old master
    with ha.master().client() as client:
        return not client.hexists("drawbridge:quarantines", "principal:alice")


def test_a_quarantine_through_one_replica_holds_on_the_other_across_a_failover(
        replicas: tuple[Drawbridge, Drawbridge], ha: SentinelSetup) -> None:
    a, b = replicas
    assert code(b) is None
    ok(a.cli("quarantine", "principal", "alice", "--reason", "IR", "--ticket", "IR-11"))
    assert eventually(lambda: code(b) == QUARANTINED, 5)

    ha.failover()
    assert code(b) == QUARANTINED  # replicated before the failover: still enforced
    assert eventually(lambda: released_on_the_master(a, ha), 10)
    assert eventually(lambda: code(b) is None, 5)  # B follows the new master too
    for proxy in (a, b):
        assert PASSWORD not in proxy.log_path.read_text() and SENTINEL_PASSWORD not in proxy.log_path.read_text()
