"""Decisions and findings as values."""

from __future__ import annotations

import pytest

from proxy.decision import ALLOW, Decision, Finding, deny
from proxy.errors import ErrorCode
from proxy.types import Severity, Verdict


def finding(severity: Severity, **kw: str) -> Finding:
    return Finding(detector="d", severity=severity, message="m", **kw)


def test_allow_does_not_block_and_has_no_severity() -> None:
    assert not ALLOW.blocks
    assert ALLOW.severity is Severity.NONE
    assert ALLOW.rule_ids == () and ALLOW.findings == ()


@pytest.mark.parametrize("verdict", [Verdict.DENY, Verdict.QUARANTINE])
def test_deny_and_quarantine_block(verdict: Verdict) -> None:
    assert Decision(verdict).blocks


def test_rewrite_does_not_block() -> None:
    assert not Decision(Verdict.REWRITE, message={"jsonrpc": "2.0", "id": 1, "result": {}}).blocks


def test_blocking_without_findings_is_sev4() -> None:
    assert deny("no").severity is Severity.SEV4


def test_severity_is_the_worst_finding() -> None:
    d = Decision(Verdict.ALLOW, findings=(finding(Severity.SEV4), finding(Severity.SEV2), finding(Severity.SEV3)))
    assert d.severity is Severity.SEV2
    assert deny("x", findings=(finding(Severity.SEV1),)).severity is Severity.SEV1


def test_deny_shorthand() -> None:
    d = deny("forbidden", rule_ids=("r1",), check="policy")
    assert d.verdict is Verdict.DENY
    assert d.reason == "forbidden"
    assert d.code is ErrorCode.POLICY_DENIED
    assert d.rule_ids == ("r1",)
    assert d.check == "policy"
    assert deny("x", code=ErrorCode.LIMIT_EXCEEDED).code is ErrorCode.LIMIT_EXCEEDED


def test_finding_as_dict_omits_unset_fields() -> None:
    assert finding(Severity.SEV3).as_dict() == {"detector": "d", "severity": "SEV-3", "message": "m"}
    full = Finding("det", Severity.SEV1, "msg", path="arguments.q", excerpt="ab***", atlas="AML.T0051")
    assert full.as_dict() == {"detector": "det", "severity": "SEV-1", "message": "msg", "path": "arguments.q",
                              "excerpt": "ab***", "atlas": "AML.T0051"}


def test_severity_labels() -> None:
    assert [s.label for s in Severity] == ["SEV-1", "SEV-2", "SEV-3", "SEV-4", "none"]


def test_decisions_are_immutable_values() -> None:
    d = deny("x")
    with pytest.raises(AttributeError):
        d.reason = "y"  # type: ignore[misc]
    assert deny("x", rule_ids=("a",)) == deny("x", rule_ids=("a",))
