"""Alerts through the real data plane in process: written to the audit stream after the decision that raised
them, and able to drive automated containment (`auto_containment` rules with `detections`)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.http.test_holes import policy_with
from tests.http.test_inprocess import recording
from tests.support.inprocess import handshake

pytestmark = pytest.mark.anyio
QUARANTINED = -32053
AUTO = """\
  auto_containment:
    - {id: first-delete, detections: [sensitive_first_use], min_severity: SEV-2, subject: principal, mode: block}
"""


async def call(http: httpx.AsyncClient, url: str, live: dict[str, str], n: int, tool: str) -> dict[str, object]:
    answer = await http.post(url, headers=live, json={"jsonrpc": "2.0", "id": n, "method": "tools/call",
                                                      "params": {"name": tool, "arguments": {}}})
    result: dict[str, object] = answer.json()
    return result


async def test_an_alert_is_written_after_its_decision_and_names_it(tmp_path: Path) -> None:
    async with recording(tmp_path) as (proxy, _), httpx.AsyncClient(timeout=10) as http:
        live = await handshake(http, proxy.mcp_url())
        await call(http, proxy.mcp_url(), live, 1, "echo")
        await call(http, proxy.mcp_url(), live, 2, "delete_all")
        await proxy.runtime.detections.drain()
        rows = proxy.events(None)
    [decision] = [e for e in rows if e["event_type"] == "decision" and e["tool"] == "delete_all"
                  and e["direction"] == "to_server"]
    alerts = [e for e in rows if e["event_type"] == "alert"]
    assert [(a["detection"], a["scope"]) for a in alerts] == [
        ("sensitive_first_use", "session"), ("sensitive_first_use", "principal")]  # anonymous: no agent
    assert all(a["event_ids"] == [decision["event_id"]] and a["call_id"] == decision["call_id"] for a in alerts)
    assert rows.index(decision) < rows.index(alerts[0])


async def test_an_alert_drives_automated_containment(tmp_path: Path) -> None:
    async with recording(tmp_path, policy=policy_with(tmp_path, AUTO)) as (proxy, upstream), \
            httpx.AsyncClient(timeout=10) as http:
        live = await handshake(http, proxy.mcp_url())
        assert "result" in await call(http, proxy.mcp_url(), live, 1, "delete_all")
        await proxy.runtime.detections.drain()
        await proxy.runtime.auto.drain()
        assert proxy.runtime.store.state().quarantine_for("anonymous", None, None) is not None
        ended = await call(http, proxy.mcp_url(), live, 2, "echo")  # a blocked principal's sessions end
        again = await http.post(proxy.mcp_url(), headers={k: v for k, v in live.items() if k != "mcp-session-id"},
                                json={"jsonrpc": "2.0", "id": 3, "method": "initialize", "params": {
                                    "protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "again", "version": "1"}}})
        containment = proxy.events("containment_action")
    assert ended["error"]["message"] == "session not found", ended  # type: ignore[index]
    assert again.json()["error"]["code"] == QUARANTINED
    assert len(upstream.messages("tools/call")) == 1
    assert any(e.get("rule_id") == "first-delete" for e in containment), containment
