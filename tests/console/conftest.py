"""Fixtures for the console: the admin plane's (real store, sessions, evidence, containment), stores on both
backends, the demo MCP server, and headless Chromium from Debian driven by Playwright."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.admin.conftest import (  # noqa: F401  (fixtures)
    app,
    audit,
    broadcasts,
    client,
    containment,
    deps,
    ended,
    ender,
    recorder,
    sessions,
    store,
)
from tests.e2e.conftest import demo_server  # noqa: F401  (fixture)
from tests.state.conftest import backend, make_store, stores  # noqa: F401  (fixtures: a store on either backend)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS_ENV = "DRAWBRIDGE_CONSOLE_SCREENSHOTS"  # set to docs/console to refresh the README's images


def _unavailable(why: str) -> None:
    """Skip on a developer machine without the browser; in CI (CI=true) fail: the browser tests must run."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{why}: CI must run the console's browser tests (.ci/run installs chromium)")
    pytest.skip(why)


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    """A headless Chromium (Debian's binary; Playwright never downloads one)."""
    if not (os.access(CHROMIUM, os.X_OK) or shutil.which("chromium")):
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM if os.access(CHROMIUM, os.X_OK)
                                           else shutil.which("chromium"), args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where the browser tests save their screenshots (a temporary folder unless SCREENSHOTS_ENV names one)."""
    folder = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
