"""Fixtures for the pinning tests: a started state store on each backend, tool definitions, an audit list."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from proxy.state.factory import open_store
from proxy.state.model import Store
from tests.support.audit_schema import assert_events_fit


@pytest.fixture(params=["sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """A started Store: SQLite file, and Redis when redis-server is installed (same tests, both backends)."""
    if request.param == "sqlite":
        opened = open_store(f"sqlite:{tmp_path / 's.db'}", poll_interval=0)
    else:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        server = request.getfixturevalue("pins_redis")
        opened = open_store(server.url, prefix=f"pins-{uuid.uuid4().hex[:10]}")
    await opened.start()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture(scope="session")
def pins_redis() -> Any:
    from tests.support.redis_server import RedisServer

    with RedisServer.running() as server:
        yield server


@pytest.fixture
def audit() -> Iterator[list[dict[str, Any]]]:
    """The events pinning audits; each must fit its published schema."""
    events: list[dict[str, Any]] = []
    yield events
    assert_events_fit(events, "pins audit")


def weather(description: str = "Get the current weather for a city.", **extra: Any) -> dict[str, Any]:
    return {"name": "weather", "description": description,
            "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            **extra}


def tool(name: str, description: str = "A tool.") -> dict[str, Any]:
    return {"name": name, "description": description, "inputSchema": {"type": "object", "properties": {}}}
