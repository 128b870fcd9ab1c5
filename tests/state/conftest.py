"""Fixtures for the state tests: stores on either backend, and real redis-server processes."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from proxy.state.factory import open_store
from proxy.state.model import Store
from tests.support.redis_server import RedisServer

MakeStore = Callable[..., Awaitable[Store]]


@pytest.fixture
async def stores() -> AsyncIterator[list[Store]]:
    """Stores a test opened; all closed at teardown."""
    opened: list[Store] = []
    yield opened
    for store in opened:
        await store.close()


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_store(backend: str, tmp_path: Path, request: pytest.FixtureRequest, stores: list[Store]) -> MakeStore:
    """Open and start another Store on the same shared state (same file / same Redis prefix)."""
    options: dict[str, Any]
    if backend == "sqlite":
        url, options = f"sqlite:{tmp_path / 'state.db'}", {"poll_interval": 0.05}
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        url, options = server.url, {"prefix": f"test-{uuid.uuid4().hex[:12]}", "resync_interval": 0.5}

    async def make(**overrides: Any) -> Store:
        store = open_store(url, **{**options, **overrides})
        await store.start()
        stores.append(store)
        return store

    return make


@pytest.fixture
async def store(make_store: MakeStore) -> Store:
    return await make_store()


async def eventually(predicate: Callable[[], bool], within: float = 5.0, what: str = "condition") -> float:
    """Wait until `predicate()` holds; return the seconds it took, fail after `within` seconds."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > within:
            pytest.fail(f"{what} not reached within {within}s")
        await asyncio.sleep(0.005)
    return time.monotonic() - start
