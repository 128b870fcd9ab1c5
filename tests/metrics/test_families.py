"""Counters fed by the audit stream of a real runtime: shadow mode's waived refusals and a candidate policy's
differences, and the steps of calls held for approval, are counted as the events state them."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.admin.config import AdminConfig
from proxy.config import Config
from proxy.runtime import Runtime
from proxy.testing import tool_call, write_policy

pytestmark = pytest.mark.anyio
POLICY = """\
settings: {shadow: {principals: [bob]}}
rules:
  - {id: weather, effect: permit, methods: [tools/call], names: [get_weather]}
"""
CANDIDATE = """\
rules:
  - {id: weather, effect: permit, methods: [tools/call], names: [get_weather]}
  - {id: deletes, effect: permit, methods: [tools/call], names: [delete_note]}
"""


async def test_would_deny_and_candidate_differences_are_counted(tmp_path: Path) -> None:
    write_policy(tmp_path / "policy", POLICY)
    write_policy(tmp_path / "candidate", CANDIDATE)
    config = Config(policy=tmp_path / "policy", shadow_policy=tmp_path / "candidate", store="sqlite::memory:",
                    admin=AdminConfig(evidence_dir=tmp_path / "evidence"))
    runtime = Runtime.build(config, sinks=[])
    await runtime.store.start()
    try:
        for principal in ("bob", "bob", "alice"):
            await runtime.pipeline.run(tool_call("delete_note", {"note_id": 1}, principal=principal))
        await runtime.pipeline.run(tool_call("get_weather", {"city": "Oslo"}, principal="alice"))  # both agree
        sample = runtime.metrics.registry.get_sample_value
        assert sample("drawbridge_shadow_would_deny_total", {"check": "policy", "upstream": "other"}) == 2
        assert sample("drawbridge_shadow_policy_differences_total", {"verdict": "allow", "upstream": "other"}) == 3
        assert sample("drawbridge_decisions_total", {"verdict": "deny", "check": "policy", "upstream": "other",
                                                     "method": "tools/call", "direction": "to_server",
                                                     "origin": "agent"}) == 1
    finally:
        await runtime.aclose()
        runtime.close()


async def test_the_steps_of_a_held_call_are_counted(tmp_path: Path) -> None:
    write_policy(tmp_path / "policy", """\
settings: {approval: {timeout_seconds: 0.2}}
rules:
  - {id: weather, effect: permit, methods: [tools/call], names: [get_weather], approval: required}
""")
    config = Config(policy=tmp_path / "policy", store="sqlite::memory:",
                    admin=AdminConfig(evidence_dir=tmp_path / "evidence"))
    runtime = Runtime.build(config, sinks=[])
    await runtime.store.start()
    try:
        decision = await runtime.pipeline.run(tool_call("get_weather", {"city": "Oslo"}, principal="alice"))
        assert decision.blocks and decision.check == "approval"  # nobody decided in time
        sample = runtime.metrics.registry.get_sample_value
        assert sample("drawbridge_approvals_total", {"action": "requested"}) == 1
        assert sample("drawbridge_approvals_total", {"action": "expired"}) == 1
    finally:
        await runtime.aclose()
        runtime.close()
