"""Shadow mode through the real inspection registry: a shadowed exchange's guardrail refusals are audited as
`would_deny` and the message goes through; containment, malformed messages and failures still refuse."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from proxy.audit import decision_event
from proxy.audit.schemas import validate_event
from proxy.catalog import ToolCatalog
from proxy.decision import Decision, deny
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.inspections.registry import build_registry
from proxy.pipeline import Inspection, Pipeline
from proxy.policy import PolicyHolder
from proxy.shadow import Shadow, waivable
from proxy.state.model import Quarantine, RateLimit, Store
from proxy.testing import RecordingAudit, make_exchange, policy_holder, request_message, tool_call
from proxy.types import Direction, JsonObject, Verdict

pytestmark = pytest.mark.anyio

GITHUB_TOKEN = "ghp_R8dUv3xW1qL9zT6yK2mN5pB7cF4hJ0sA1eG3"
POLICY = """\
settings:
  shadow: {principals: ["bob*"], agents: [shadow-agent], upstreams: [staging]}
  canary_tools: [export_all_credentials]
  content:
    surfaces:
      tool_arguments: {secrets: block}
      tool_result: {secrets: redact}
rules:
  - {id: weather, effect: permit, methods: [tools/call], names: [get_weather]}
  - id: no-secret-search
    effect: forbid
    methods: [tools/call]
    names: [search_notes]
    arguments: [{path: query, regex: "(?i)password"}]
    severity: SEV-3
  - {id: lifecycle, effect: permit, methods: [initialize, tools/list]}
"""
SECRET_IN_ARGUMENTS = {"city": f"Paris {GITHUB_TOKEN}"}


class Guarded:
    """The real registry and a pipeline over a started in-memory store; each run's decision event kept."""

    def __init__(self, holder: PolicyHolder, store: Store) -> None:
        self.holder = holder
        self.store = store
        self.audit = RecordingAudit()
        self.pipeline = Pipeline(build_registry(holder, store, ToolCatalog(store)), self.audit, Shadow(holder))

    async def run(self, ex: Exchange) -> tuple[Decision, JsonObject]:
        decision = await self.pipeline.run(ex)
        event = orjson.loads(orjson.dumps(decision_event(ex, decision, self.holder.policy.version)))  # as written
        assert validate_event(event) == [], event
        return decision, event


@pytest.fixture
def guarded(tmp_path: Path, memory_store: Store) -> Guarded:
    return Guarded(policy_holder(tmp_path, POLICY), memory_store)


async def test_a_shadowed_principals_refused_call_passes_and_says_what_would_have_refused_it(
        guarded: Guarded) -> None:
    decision, event = await guarded.run(tool_call("delete_note", {"note_id": 1}, principal="bob"))
    assert decision.verdict is Verdict.ALLOW and not decision.blocks
    assert event["verdict"] == "allow" and event["error_code"] is None and event["rule_ids"] == []
    assert event["would_deny"] == {"check": "policy", "rule_ids": ["default-deny"], "error_code": -32050,
                                   "reason": "tools/call delete_note is not permitted by policy (no permit rule "
                                             "matches: default-deny)"}


async def test_the_same_call_from_anyone_else_is_still_refused(guarded: Guarded) -> None:
    decision, event = await guarded.run(tool_call("delete_note", {"note_id": 1}, principal="alice"))
    assert decision.verdict is Verdict.DENY and event["rule_ids"] == ["default-deny"]
    assert "would_deny" not in event


@pytest.mark.parametrize(("who", "upstream"), [({"agent": "shadow-agent"}, "default"), ({}, "staging"),
                                               ({"principal": "bobby"}, "default")])
async def test_an_agent_an_upstream_route_or_a_principal_glob_puts_a_call_in_shadow(
        guarded: Guarded, who: dict[str, str], upstream: str) -> None:
    decision, event = await guarded.run(tool_call("delete_note", {"note_id": 1}, upstream=upstream, **who))
    assert decision.verdict is Verdict.ALLOW and event["would_deny"]["check"] == "policy"


async def test_findings_are_kept_and_a_forbid_rule_is_named(guarded: Guarded) -> None:
    decision, event = await guarded.run(tool_call("search_notes", {"query": "my password"}, principal="bob"))
    assert decision.verdict is Verdict.ALLOW
    assert event["would_deny"]["rule_ids"] == ["no-secret-search"]
    assert [f["detector"] for f in event["findings"]] == ["policy.forbid"] and event["severity"] == "SEV-3"


async def test_content_unknown_methods_and_canaries_are_guardrails_too(guarded: Guarded) -> None:
    _, secret = await guarded.run(tool_call("get_weather", SECRET_IN_ARGUMENTS, principal="bob"))
    assert secret["verdict"] == "allow" and secret["would_deny"]["check"] == "content"
    assert any(f["detector"].startswith("secrets.") for f in secret["findings"])
    _, unknown = await guarded.run(make_exchange("debug/eval", params={"code": "1"}, principal="bob"))
    assert unknown["verdict"] == "allow" and unknown["would_deny"]["error_code"] == -32601
    _, canary = await guarded.run(tool_call("export_all_credentials", principal="bob"))
    assert canary["verdict"] == "allow" and canary["would_deny"]["check"] == "canary"
    assert canary["severity"] == "SEV-1"  # the honeytoken's finding stays: automated containment still sees it


async def test_the_first_refusal_is_reported_and_the_checks_after_it_still_run(guarded: Guarded) -> None:
    """A secret (content) in a call policy refuses too: content decided first, and policy's rule ids stay out."""
    _, event = await guarded.run(tool_call("delete_note", SECRET_IN_ARGUMENTS, principal="bob"))
    assert event["would_deny"]["check"] == "content" and event["rule_ids"] == []


async def test_rewrites_still_apply_in_shadow(guarded: Guarded) -> None:
    request = request_message("tools/call", {"name": "get_weather", "arguments": {"city": "Oslo"}})
    answer = make_exchange(None, request=request, direction=Direction.TO_CLIENT, principal="bob",
                           result={"content": [{"type": "text", "text": f"the key is {GITHUB_TOKEN}"}]})
    decision, event = await guarded.run(answer)
    assert decision.verdict is Verdict.REWRITE and "would_deny" not in event
    assert decision.message is not None and GITHUB_TOKEN not in str(decision.message)


async def test_a_quarantine_holds_for_a_shadowed_principal(guarded: Guarded) -> None:
    await guarded.store.put_quarantine(Quarantine("principal", "bob", "block", "incident 7", "oncall"))
    decision, event = await guarded.run(tool_call("get_weather", {"city": "Oslo"}, principal="bob"))
    assert decision.verdict is Verdict.DENY and event["error_code"] == ErrorCode.QUARANTINED
    assert "would_deny" not in event


async def test_a_responders_rate_limit_holds_after_a_waived_refusal(guarded: Guarded) -> None:
    await guarded.store.put_rate_limit(RateLimit("rl-1", "principal", "bob", 1, 3600, "incident 7", "oncall"))
    first, _ = await guarded.run(tool_call("delete_note", {"note_id": 1}, principal="bob"))
    second, event = await guarded.run(tool_call("delete_note", {"note_id": 2}, principal="bob"))
    assert first.verdict is Verdict.ALLOW
    assert second.verdict is Verdict.DENY and event["error_code"] == ErrorCode.RATE_LIMITED
    assert event["rule_ids"] == ["containment-rate-limit"]


async def test_a_malformed_call_is_refused_in_shadow(guarded: Guarded) -> None:
    decision, _ = await guarded.run(make_exchange("tools/call", params={"name": 7}, principal="bob"))
    assert decision.verdict is Verdict.DENY and decision.code is ErrorCode.INVALID_PARAMS


class Exploding(Inspection):
    name = "policy"  # a guardrail's name: its failure must still fail closed

    def inspect(self, ex: Exchange) -> Decision | None:
        raise RuntimeError("bug")


async def test_a_failing_guardrail_fails_closed_in_shadow(tmp_path: Path) -> None:
    holder = policy_holder(tmp_path, "settings: {shadow: {all: true}}\n")
    pipeline = Pipeline([Exploding()], RecordingAudit(), Shadow(holder))
    decision = await pipeline.run(tool_call("get_weather", principal="bob"))
    assert decision.verdict is Verdict.DENY and decision.code is ErrorCode.INSPECTION_FAILED


async def test_all_puts_every_exchange_in_shadow_and_the_default_puts_none(tmp_path: Path) -> None:
    refused = deny("no", rule_ids=("r",), check="policy")
    everyone = Shadow(policy_holder(tmp_path / "all", "settings: {shadow: {all: true}}\n"))
    nobody = Shadow(policy_holder(tmp_path / "none", "rules: []\n"))
    call = tool_call("x", principal="anyone", upstream="anywhere")
    assert everyone.waive(call, refused, "policy") == {"check": "policy", "reason": "no", "rule_ids": ["r"],
                                                       "error_code": -32050}
    assert nobody.waive(call, refused, "policy") is None and not nobody.covers(call)


@pytest.mark.parametrize(("check", "code", "rule", "waived"), [
    ("policy", ErrorCode.POLICY_DENIED, "default-deny", True),
    ("rate_limit", ErrorCode.RATE_LIMITED, "per-principal", True),
    ("approval", ErrorCode.POLICY_DENIED, "needs-a-human", True),
    ("containment", ErrorCode.QUARANTINED, "containment-quarantine", False),
    ("egress", ErrorCode.QUARANTINED, "containment-egress-deny", False),
    ("rate_limit", ErrorCode.RATE_LIMITED, "containment-rate-limit", False),
    ("content", ErrorCode.INSPECTION_FAILED, "", False),
    ("modern_headers", ErrorCode.HEADER_MISMATCH, "mcp-header-mismatch", False),
    ("pairing", ErrorCode.INVALID_REQUEST, "unsolicited-answer", False),
    ("audit", ErrorCode.INTERNAL_ERROR, "", False),
])
def test_which_refusals_shadow_may_waive(check: str, code: ErrorCode, rule: str, waived: bool) -> None:
    assert waivable(deny("no", code=code, rule_ids=(rule,) if rule else (), check=check), check) is waived
