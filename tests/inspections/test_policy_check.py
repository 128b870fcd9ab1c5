"""The policy inspection: every request and notification, both directions."""

from __future__ import annotations

from pathlib import Path

import pytest

from proxy.errors import ErrorCode
from proxy.inspections.policy_check import SHADOW_POLICY_NOTE, PolicyCheck
from proxy.policy import PolicyHolder
from proxy.testing import make_exchange, policy_holder, request_message, tool_call, write_policy
from proxy.types import Direction, Severity, Verdict

POLICY = """\
rules:
  - id: tools
    effect: permit
    methods: [tools/call]
    names: [get_weather, search_notes]
  - id: alice-notes
    effect: permit
    principals: [alice]
    methods: [resources/read]
    names: ["file:///notes/*"]
  - id: no-secret-search
    effect: forbid
    methods: [tools/call]
    names: [search_notes]
    arguments:
      - {path: query, regex: "(?i)password"}
    severity: SEV-2
  - id: server-pings
    effect: permit
    direction: to_client
    methods: [ping, "notifications/*"]
  - id: client-sampling-only-for-bot
    effect: permit
    direction: to_client
    agents: [bot]
    methods: [sampling/createMessage]
"""


@pytest.fixture
def holder(tmp_path: Path) -> PolicyHolder:
    return policy_holder(tmp_path, POLICY)


@pytest.fixture
def check(holder: PolicyHolder) -> PolicyCheck:
    return PolicyCheck(holder)


def test_permitted_call_is_allowed_with_rule_id(check: PolicyCheck) -> None:
    decision = check.inspect(tool_call("get_weather", {"city": "Rome"}))
    assert decision is not None
    assert decision.verdict is Verdict.ALLOW
    assert decision.rule_ids == ("tools",)
    assert decision.check == "policy"


def test_unlisted_tool_is_default_denied(check: PolicyCheck) -> None:
    decision = check.inspect(tool_call("delete_note", {"id": 1}))
    assert decision is not None
    assert decision.verdict is Verdict.DENY
    assert decision.code is ErrorCode.POLICY_DENIED
    assert decision.rule_ids == ("default-deny",)
    assert "tools/call delete_note is not permitted" in decision.reason


def test_forbid_on_arguments(check: PolicyCheck) -> None:
    secret = "my Password is hunter2"
    decision = check.inspect(tool_call("search_notes", {"query": secret}))
    assert decision is not None
    assert decision.verdict is Verdict.DENY
    assert decision.rule_ids == ("no-secret-search",)
    assert secret not in decision.reason and "hunter2" not in decision.reason
    allowed = check.inspect(tool_call("search_notes", {"query": "groceries"}))
    assert allowed is not None and allowed.verdict is Verdict.ALLOW


def test_resource_uri_principal_and_name(check: PolicyCheck) -> None:
    read = make_exchange("resources/read", params={"uri": "file:///notes/a.md"})
    allowed = check.inspect(read)
    assert allowed is not None and allowed.verdict is Verdict.ALLOW
    bob = check.inspect(make_exchange("resources/read", params={"uri": "file:///notes/a.md"}, principal="bob"))
    assert bob is not None and bob.verdict is Verdict.DENY
    other = check.inspect(make_exchange("resources/read", params={"uri": "file:///etc/passwd"}))
    assert other is not None and other.verdict is Verdict.DENY


def test_server_to_client_direction_uses_to_client_rules(check: PolicyCheck) -> None:
    ping = check.inspect(make_exchange("ping", direction=Direction.TO_CLIENT))
    assert ping is not None and ping.verdict is Verdict.ALLOW and ping.rule_ids == ("server-pings",)
    note = check.inspect(make_exchange("notifications/message", direction=Direction.TO_CLIENT, request_id=None))
    assert note is not None and note.verdict is Verdict.ALLOW
    client_ping = check.inspect(make_exchange("ping"))
    assert client_ping is not None and client_ping.verdict is Verdict.DENY


def test_server_request_matches_agent(check: PolicyCheck) -> None:
    ask = make_exchange("sampling/createMessage", direction=Direction.TO_CLIENT, agent="bot")
    decision = check.inspect(ask)
    assert decision is not None and decision.verdict is Verdict.ALLOW
    other = check.inspect(make_exchange("sampling/createMessage", direction=Direction.TO_CLIENT, agent="cli"))
    assert other is not None and other.verdict is Verdict.DENY


def test_applies_to_requests_and_notifications_not_answers(check: PolicyCheck) -> None:
    assert check.applies(tool_call("t"))
    assert check.applies(make_exchange("notifications/initialized", request_id=None))
    answer = make_exchange(None, request=request_message("tools/call", {"name": "delete_note"}),
                           direction=Direction.TO_CLIENT)
    assert not check.applies(answer)


def test_uses_the_policy_in_force_after_reload(holder: PolicyHolder, check: PolicyCheck, tmp_path: Path) -> None:
    decision = check.inspect(tool_call("delete_note"))
    assert decision is not None and decision.blocks
    (tmp_path / "policy.yaml").write_text("rules:\n  - {id: all, effect: permit, methods: ['*']}\n")
    assert holder.reload()
    decision = check.inspect(tool_call("delete_note"))
    assert decision is not None and decision.verdict is Verdict.ALLOW


def test_forbid_rule_severity_reaches_the_decision(check: PolicyCheck) -> None:
    decision = check.inspect(tool_call("search_notes", {"query": "password"}))
    assert decision is not None
    assert decision.severity is Severity.SEV2
    assert "password" not in " ".join(f.message for f in decision.findings)


def test_default_deny_has_the_blocked_severity(check: PolicyCheck) -> None:
    decision = check.inspect(tool_call("delete_note"))
    assert decision is not None
    assert decision.severity is Severity.SEV4


# -- a candidate policy evaluated beside the one in force (serve --shadow-policy) ----------------------------
CANDIDATE = """\
rules:
  - {id: tools, effect: permit, methods: [tools/call], names: [get_weather, search_notes, delete_note]}
  - {id: no-weather-for-bob, effect: forbid, principals: [bob], methods: [tools/call], names: [get_weather]}
  - {id: notes-v2, effect: permit, methods: [resources/read]}
"""


@pytest.fixture
def beside(tmp_path: Path) -> PolicyCheck:
    write_policy(tmp_path / "enforced", POLICY)
    write_policy(tmp_path / "candidate", CANDIDATE)
    return PolicyCheck(PolicyHolder(tmp_path / "enforced", candidate=tmp_path / "candidate"))


def test_a_candidate_that_would_allow_a_refused_call_is_noted(beside: PolicyCheck) -> None:
    ex = tool_call("delete_note", {"note_id": 1})
    decision = beside.inspect(ex)
    assert decision is not None and decision.verdict is Verdict.DENY  # the policy in force decides
    note = ex.notes[SHADOW_POLICY_NOTE]
    assert note == {"version": note["version"], "verdict": "allow", "rule_ids": ["tools"], "reason": None}
    assert note["version"].startswith("sha256:")


def test_a_candidate_that_would_refuse_an_allowed_call_is_noted_with_its_reason(beside: PolicyCheck) -> None:
    ex = tool_call("get_weather", {"city": "Oslo"}, principal="bob")
    decision = beside.inspect(ex)
    assert decision is not None and decision.verdict is Verdict.ALLOW
    assert ex.notes[SHADOW_POLICY_NOTE]["verdict"] == "deny"
    assert ex.notes[SHADOW_POLICY_NOTE]["rule_ids"] == ["no-weather-for-bob"]
    assert "no-weather-for-bob" in ex.notes[SHADOW_POLICY_NOTE]["reason"]


def test_agreement_leaves_no_note(beside: PolicyCheck) -> None:
    ex = tool_call("get_weather", {"city": "Oslo"}, principal="alice")
    assert beside.inspect(ex) is not None
    assert SHADOW_POLICY_NOTE not in ex.notes


def test_the_same_verdict_from_other_rules_is_a_difference(beside: PolicyCheck) -> None:
    ex = make_exchange("resources/read", params={"uri": "file:///notes/a.md"}, principal="alice")
    decision = beside.inspect(ex)
    assert decision is not None and decision.rule_ids == ("alice-notes",)
    assert ex.notes[SHADOW_POLICY_NOTE]["verdict"] == "allow"
    assert ex.notes[SHADOW_POLICY_NOTE]["rule_ids"] == ["notes-v2"]
    refused_by_both = tool_call("send_email", {"to": "x"})  # default-deny in both: agreement
    beside.inspect(refused_by_both)
    assert SHADOW_POLICY_NOTE not in refused_by_both.notes


def test_without_a_candidate_nothing_is_noted(check: PolicyCheck) -> None:
    ex = tool_call("delete_note", {"note_id": 1})
    check.inspect(ex)
    assert SHADOW_POLICY_NOTE not in ex.notes
