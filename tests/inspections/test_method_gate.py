"""Unknown methods are refused before policy unless settings hand them to the rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.errors import ErrorCode
from proxy.inspections.method_gate import UNKNOWN_METHOD_RULE, UnknownMethodGate
from proxy.mcp_methods import KNOWN_METHODS
from proxy.pipeline import Pipeline
from proxy.testing import RecordingAudit, make_exchange, policy_holder, request_message
from proxy.testing.factories import registry_for
from proxy.types import Direction, Verdict

PERMIT_ALL = """\
rules:
  - {id: all, effect: permit, methods: ['*']}
  - {id: all-back, effect: permit, methods: ['*'], direction: to_client}
"""


def gate(tmp_path: Path, settings: str = "") -> UnknownMethodGate:
    return UnknownMethodGate(policy_holder(tmp_path, settings + PERMIT_ALL))


def test_unknown_method_is_denied_by_default(tmp_path: Path) -> None:
    decision = gate(tmp_path).inspect(make_exchange("tools/destroy"))
    assert decision is not None
    assert decision.verdict is Verdict.DENY
    assert decision.code is ErrorCode.METHOD_NOT_FOUND
    assert decision.rule_ids == (UNKNOWN_METHOD_RULE,) == ("unknown-method",)
    assert decision.check == "unknown_method"
    assert "'tools/destroy'" in decision.reason


def test_explicit_deny_setting(tmp_path: Path) -> None:
    decision = gate(tmp_path, "settings: {unknown_methods: deny}\n").inspect(make_exchange("x/y"))
    assert decision is not None and decision.blocks


def test_unknown_notification_and_server_request_are_denied(tmp_path: Path) -> None:
    g = gate(tmp_path)
    note = make_exchange("notifications/custom", request_id=None)
    back = make_exchange("custom/ask", direction=Direction.TO_CLIENT)
    assert g.applies(note) and g.applies(back)
    for ex in (note, back):
        decision = g.inspect(ex)
        assert decision is not None and decision.blocks


def test_long_method_name_is_truncated_in_the_reason(tmp_path: Path) -> None:
    decision = gate(tmp_path).inspect(make_exchange("m" * 5000))
    assert decision is not None
    assert len(decision.reason) < 200


@pytest.mark.parametrize("method", sorted(KNOWN_METHODS))
def test_known_methods_pass(tmp_path: Path, method: str) -> None:
    assert gate(tmp_path).inspect(make_exchange(method)) is None


def test_policy_setting_passes_unknown_methods_on(tmp_path: Path) -> None:
    assert gate(tmp_path, "settings: {unknown_methods: policy}\n").inspect(make_exchange("vendor/extra")) is None


def test_responses_are_not_gated(tmp_path: Path) -> None:
    answer = make_exchange(None, request=request_message("vendor/extra"), direction=Direction.TO_CLIENT)
    assert not gate(tmp_path).applies(answer)


@pytest.mark.anyio
async def test_in_the_registry_unknown_methods_then_go_to_policy(tmp_path: Path) -> None:
    """With `unknown_methods: policy` the rules decide: permitted here, and default deny elsewhere."""
    holder = policy_holder(tmp_path, "settings: {unknown_methods: policy}\n"
                                     "rules:\n  - {id: vendor, effect: permit, methods: ['vendor/*']}\n")
    pipeline = Pipeline(await registry_for(holder), RecordingAudit())
    allowed = await pipeline.run(make_exchange("vendor/extra"))
    assert allowed.verdict is Verdict.ALLOW and allowed.rule_ids == ("vendor",)
    denied = await pipeline.run(make_exchange("other/extra"))
    assert denied.verdict is Verdict.DENY and denied.rule_ids == ("default-deny",)
    assert denied.code is ErrorCode.POLICY_DENIED


@pytest.mark.anyio
async def test_in_the_registry_gate_decides_before_policy(tmp_path: Path) -> None:
    pipeline = Pipeline(await registry_for(policy_holder(tmp_path, PERMIT_ALL)), RecordingAudit())
    decision = await pipeline.run(make_exchange("vendor/extra"))
    assert decision.code is ErrorCode.METHOD_NOT_FOUND
    assert decision.rule_ids == ("unknown-method",)
