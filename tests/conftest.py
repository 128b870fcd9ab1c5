"""Fixtures shared by every test package."""

import pytest


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests run on asyncio (the proxy's loop)."""
    return "asyncio"
