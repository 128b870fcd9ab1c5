"""Policy hot reload through a running proxy: file change and SIGHUP; a bad file keeps the old set."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from tests.support.drawbridge import DEFAULT_POLICY, Drawbridge, run_drawbridge
from tests.support.sdk import sdk_client

pytestmark = pytest.mark.e2e
OPEN_UP = """
version: 1
rules:
  - id: temporary-delete
    effect: permit
    methods: [tools/call]
    names: [delete_note]
"""


def call_delete(proxy: Drawbridge) -> dict[str, object]:
    """Call delete_note with the SDK client; the JSON-RPC outcome as {"result": …} or {"error": …}."""
    async def call() -> dict[str, object]:
        async with sdk_client(proxy.mcp_url(), mode="legacy") as client:
            try:
                return {"result": await client.call_tool("delete_note", {"note_id": 3})}
            except MCPError as exc:
                return {"error": {"code": exc.error.code, "message": exc.error.message}}
    return anyio.run(call)


def wait_for(predicate: object, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    target = tmp_path / "policy"
    shutil.copytree(DEFAULT_POLICY, target)
    settings = target / "00-protocol.yaml"
    settings.write_text(settings.read_text().replace("anonymous: false", "anonymous: true"))
    return target


def test_file_change_reloads_and_bad_file_keeps_old_policy(demo_server: str, tmp_path: Path, policy_dir: Path) -> None:
    with run_drawbridge(tmp_path, {"default": demo_server}, policy=policy_dir) as proxy:
        assert call_delete(proxy)["error"]["code"] == -32050  # type: ignore[index]
        (policy_dir / "20-open.yaml").write_text(OPEN_UP)
        assert wait_for(lambda: "result" in call_delete(proxy))
        good = [e for e in proxy.events("policy_reload") if e["ok"]]
        assert good
        (policy_dir / "30-broken.yaml").write_text("rules: [ {id: x, effect: maybe} ]\n")
        assert wait_for(lambda: any(not e["ok"] for e in proxy.events("policy_reload")))
        assert "result" in call_delete(proxy)  # the last good set stays in force
        refused = [e for e in proxy.events("policy_reload") if not e["ok"]][-1]
        assert "30-broken.yaml" in refused["detail"] and refused["policy_version"] == good[-1]["policy_version"]


def test_sighup_reloads(demo_server: str, tmp_path: Path, policy_dir: Path) -> None:
    with run_drawbridge(tmp_path, {"default": demo_server}, policy=policy_dir,
                        extra={"policy_reload": {"watch": False}}) as proxy:
        (policy_dir / "20-open.yaml").write_text(OPEN_UP)
        time.sleep(0.5)
        assert "error" in call_delete(proxy)  # not watching: nothing changes until SIGHUP
        proxy.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "result" in call_delete(proxy))
