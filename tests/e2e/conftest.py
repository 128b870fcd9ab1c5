"""Fixtures for end-to-end tests: real servers, the real CLI, real SDK clients."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.drawbridge import DEFAULT_POLICY, Drawbridge, run_drawbridge, run_module_server

API_KEY = "db-test-" + secrets.token_hex(16)
OTHER_KEY = "db-test-" + secrets.token_hex(16)
IDENTITY = {"api_keys": [
    {"sha256": hashlib.sha256(API_KEY.encode()).hexdigest(), "principal": "alice", "agent": "agent-a"},
    {"sha256": hashlib.sha256(OTHER_KEY.encode()).hexdigest(), "principal": "mallory", "agent": "agent-m"},
]}
AUTH = {"x-api-key": API_KEY}


@pytest.fixture(scope="module")
def demo_server() -> Iterator[str]:
    with run_module_server("proxy.demo.server") as url:
        yield url


@pytest.fixture(scope="module")
def guarded(demo_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drawbridge]:
    """Drawbridge with the default policy and API keys, in front of the demo server."""
    tmp: Path = tmp_path_factory.mktemp("guarded")
    with run_drawbridge(tmp, {"default": demo_server}, policy=DEFAULT_POLICY,
                        extra={"identity": IDENTITY}) as proxy:
        yield proxy
