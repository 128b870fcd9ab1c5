"""Fixtures shared by every test package: the anyio backend, an in-memory store and real redis-server processes."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from proxy.state.factory import open_store
from proxy.state.model import Store
from tests.support.redis_server import RedisServer

NO_REDIS = "redis-server is not installed (apt-get install redis-server; .ci/run installs it)"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """`proxy.cli.main()` configures root logging: tests that call it keep that from leaking into others."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session", autouse=True)
def no_machine_proxies() -> Iterator[None]:
    """Tests talk to loopback only: a proxy set on the machine running them (HTTPS_PROXY in a CI runner) must
    not route the proxies they start. Tests of proxy support set the variables themselves."""
    names = [n for base in ("http", "https", "all", "no") for n in (f"{base}_proxy", f"{base.upper()}_PROXY")]
    saved = {n: os.environ.pop(n) for n in names if n in os.environ}
    yield
    os.environ.update(saved)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests run on asyncio (the proxy's loop)."""
    return "asyncio"


def require_redis() -> None:
    """Skip a Redis test on a developer machine without redis-server; in CI (CI set) fail instead, so the
    replica tests can never silently not run."""
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail(f"{NO_REDIS}: CI must run the Redis tests")
        pytest.skip(NO_REDIS)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session; tests isolate themselves with a key prefix."""
    require_redis()
    with RedisServer.running() as server:
        yield server


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server for one test, free to be killed and restarted (same port, same data dir)."""
    require_redis()
    server = RedisServer(tmp_path / "redis")
    server.data_dir.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def memory_store() -> AsyncIterator[Store]:
    """A started in-memory SQLite store (no poller: every write goes through this instance)."""
    store = open_store("sqlite::memory:", poll_interval=0)
    await store.start()
    try:
        yield store
    finally:
        await store.close()
