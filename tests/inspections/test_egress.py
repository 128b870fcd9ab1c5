"""Egress allowlist: destinations are refused before the server sees the call, and audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from proxy.audit.event import decision_event
from proxy.inspections.egress import EgressCheck
from proxy.testing import memory_store, policy_holder, tool_call
from proxy.types import Severity, Verdict

PERMIT_ALL = "rules:\n  - {id: all, effect: permit, methods: [\"*\"]}\n"


def check(tmp_path: Path, settings: str = "") -> EgressCheck:
    text = (f"settings:\n  egress:\n{settings}\n" if settings else "") + PERMIT_ALL
    return EgressCheck(policy_holder(tmp_path, text), memory_store())


def test_metadata_address_is_refused_and_listed(tmp_path: Path) -> None:
    ex = tool_call("fetch", {"url": "http://169.254.169.254/latest/meta-data/iam/"})
    decision = check(tmp_path).inspect(ex)
    assert decision is not None and decision.verdict is Verdict.DENY
    assert decision.rule_ids == ("egress-allowlist",)
    assert decision.findings[0].detector == "egress.metadata_service"
    assert decision.findings[0].severity is Severity.SEV2
    assert ex.notes["destinations"] == ["http://169.254.169.254"]
    event = decision_event(ex, decision, "v1")
    assert event["destinations"] == ["http://169.254.169.254"]


def test_decimal_spelling_of_the_metadata_address_is_refused(tmp_path: Path) -> None:
    decision = check(tmp_path).inspect(tool_call("fetch", {"url": "http://2852039166/"}))
    assert decision is not None and decision.verdict is Verdict.DENY


def test_public_destinations_of_ordinary_tools_pass_and_are_recorded(tmp_path: Path) -> None:
    ex = tool_call("search", {"query": "see https://example.com/a?token=x", "to": "alice@example.com"})
    assert check(tmp_path).inspect(ex) is None
    assert ex.notes["destinations"] == ["https://example.com", "mailto:alice@example.com"]


def test_egress_tool_outside_the_allowlist_is_refused(tmp_path: Path) -> None:
    settings = ("    egress_tools: [fetch]\n"
                "    allow:\n      - {principals: [alice], tools: [fetch], hosts: ['*.example.com']}")
    c = check(tmp_path, settings)
    assert c.inspect(tool_call("fetch", {"url": "https://api.example.com/x"})) is None
    refused = c.inspect(tool_call("fetch", {"url": "https://evil.example/x"}))
    assert refused is not None and refused.verdict is Verdict.DENY
    assert "not in the egress allowlist" in refused.reason
    other = c.inspect(tool_call("fetch", {"url": "https://api.example.com/x"}, principal="mallory"))
    assert other is not None and other.verdict is Verdict.DENY


def test_declared_destination_paths(tmp_path: Path) -> None:
    settings = ("    egress_tools: [deploy]\n"
                "    destination_arguments: [{tools: [deploy], paths: [target.addr]}]")
    decision = check(tmp_path, settings).inspect(tool_call("deploy", {"target": {"addr": "10.0.0.7"}}))
    assert decision is not None and decision.findings[0].detector == "egress.internal_address"


def test_detect_mode_allows_with_findings(tmp_path: Path) -> None:
    decision = check(tmp_path, "    action: detect").inspect(tool_call("fetch", {"url": "http://localhost:8080"}))
    assert decision is not None and decision.verdict is Verdict.ALLOW and decision.findings


def test_calls_without_destinations_are_untouched(tmp_path: Path) -> None:
    ex: Any = tool_call("add", {"a": 1, "b": 2})
    assert check(tmp_path).inspect(ex) is None and "destinations" not in ex.notes
