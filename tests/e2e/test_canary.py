"""Canary tools and automated containment: a honeytoken call quarantines the caller, no human needed."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest

from tests.e2e.conftest import AUTH, IDENTITY
from tests.e2e.test_killswitch import QUARANTINED, refusal
from tests.support.drawbridge import run_drawbridge
from tests.support.sdk import sdk_client

pytestmark = [pytest.mark.e2e, pytest.mark.node]
POLICY = """
version: 1
settings:
  canary_tools: [get-env]
  auto_containment:
    - id: canary-quarantines-principal
      detectors: [canary.*]
      min_severity: SEV-1
      subject: principal
      mode: block
      ttl: 24h
rules:
  - {id: everything, effect: permit, methods: ["*"]}
  - {id: server-side, effect: permit, direction: to_client, methods: ["*"]}
  - {id: no-env-dump, effect: forbid, methods: [tools/call], names: [get-env]}
"""


def test_canary_call_quarantines_the_caller_automatically(tmp_path: Path) -> None:
    rig = pytest.importorskip("tests.support.rig")
    rig.ensure_rig()
    policy = tmp_path / "policy"
    policy.mkdir()
    (policy / "canary.yaml").write_text(POLICY)
    with rig.start_everything() as url, run_drawbridge(tmp_path, {"default": url}, policy=policy,
                                                         extra={"identity": IDENTITY}, admin=True) as proxy:
        async def scenario() -> tuple[set[str], object, object]:
            async with sdk_client(proxy.mcp_url(), mode="legacy", headers=AUTH) as client:
                listed = {t.name for t in (await client.list_tools()).tools}
            trap = await refusal(proxy, "get-env", {})
            deadline = time.monotonic() + 10
            after = await refusal(proxy, "echo", {"message": "hi"})
            while (after is None or after.error.code != QUARANTINED) and time.monotonic() < deadline:
                await anyio.sleep(0.2)
                after = await refusal(proxy, "echo", {"message": "hi"})
            return listed, trap, after

        listed, trap, after = anyio.run(scenario)
        assert "get-env" in listed  # the honeytoken is listed like any other tool
        assert trap is not None and trap.error.code == -32050  # type: ignore[attr-defined]
        assert "canary" not in trap.error.message.lower()  # type: ignore[attr-defined]  # the trap stays hidden
        assert after is not None and after.error.code == QUARANTINED  # type: ignore[attr-defined]
        decisions = [e for e in proxy.events() if e["tool"] == "get-env" and e["direction"] == "to_server"]
        assert decisions[-1]["severity"] == "SEV-1" and decisions[-1]["verdict"] == "quarantine"
        assert decisions[-1]["findings"][0]["detector"] == "canary.call"
        actions = [e for e in proxy.events(None) if e["event_type"] == "containment_action"]
        assert actions and actions[-1]["actor"] == "drawbridge:auto" and actions[-1]["subject"] == "alice"
        assert actions[-1]["evidence_id"]
        shown = proxy.cli("evidence", "show", actions[-1]["evidence_id"], "--exchanges")
        assert shown.returncode == 0 and "get-env" in shown.stdout
