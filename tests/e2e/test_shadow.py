"""Shadow mode and a candidate policy through the real `drawbridge serve`, in front of the demo server, with the
official SDK client: what the agent receives and what the audit trail says."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from tests.e2e.conftest import API_KEY, IDENTITY, OTHER_KEY
from tests.support.drawbridge import DEFAULT_POLICY, Drawbridge, audit_events, run_drawbridge
from tests.support.mcp_http import call_tool, error_code, open_session
from tests.support.sdk import sdk_client
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
ALICE = {"x-api-key": API_KEY}  # principal alice, agent agent-a: enforced
MALLORY = {"x-api-key": OTHER_KEY}  # principal mallory, agent agent-m: in shadow
CANDIDATE_RULES = """\
rules:
  - {id: alice-may-delete, effect: permit, principals: [alice], methods: [tools/call], names: [delete_note]}
"""


def call(proxy: Drawbridge, headers: dict[str, str], tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """One tool call with the SDK client: {"text": …} of the upstream's result, or {"code": …} of a refusal."""
    async def run() -> dict[str, Any]:
        try:
            async with sdk_client(proxy.mcp_url(), mode="legacy", headers=headers) as client:
                result = await client.call_tool(tool, arguments)
        except (MCPError, BaseExceptionGroup) as exc:  # the handshake itself may be refused (a quarantine)
            error = mcp_error(exc)
            if error is None:
                raise
            return {"code": error.error.code, "message": error.error.message}
        return {"text": "".join(getattr(c, "text", "") for c in result.content), "is_error": result.is_error}
    return anyio.run(run)


def mcp_error(exc: BaseException) -> MCPError | None:
    """The JSON-RPC error inside what the SDK client raised (a refused handshake comes in a task group's)."""
    if isinstance(exc, MCPError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        return next((e for e in map(mcp_error, exc.exceptions) if e is not None), None)
    return None


def tool_events(proxy: Drawbridge, principal: str, tool: str) -> list[dict[str, Any]]:
    return [e for e in proxy.events() if e["direction"] == "to_server" and e["principal"] == principal
            and e["tool"] == tool]


def policy_copy(target: Path, extra_settings: str = "") -> Path:
    shutil.copytree(DEFAULT_POLICY, target)
    settings = target / "00-protocol.yaml"
    settings.write_text(settings.read_text().replace("settings:\n", f"settings:\n{extra_settings}", 1))
    return target


@pytest.fixture(scope="module")
def shadowed(demo_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drawbridge]:
    """The default policy with mallory's agent in shadow; alice enforced; the admin API on."""
    tmp = tmp_path_factory.mktemp("shadow")
    policy = policy_copy(tmp / "policy", "  shadow: {agents: [agent-m]}\n")
    with run_drawbridge(tmp, {"default": demo_server}, policy=policy, admin=True,
                        extra={"identity": IDENTITY}) as proxy:
        yield proxy


def test_a_shadowed_agents_refused_call_reaches_the_server_and_is_audited_would_deny(shadowed: Drawbridge) -> None:
    outcome = call(shadowed, MALLORY, "delete_note", {"note_id": 4})
    assert outcome["text"].startswith("deleted note 4:") and not outcome["is_error"]  # the upstream's own answer
    [event] = tool_events(shadowed, "mallory", "delete_note")
    assert event["verdict"] == "allow" and event["error_code"] is None
    assert event["would_deny"] == {"check": "policy", "rule_ids": ["default-deny"], "error_code": -32050,
                                   "reason": "tools/call delete_note is not permitted by policy (no permit rule "
                                             "matches: default-deny)"}
    answer = [e for e in shadowed.events() if e["call_id"] == event["call_id"] and e["direction"] == "to_client"]
    assert [e["verdict"] for e in answer] == ["allow"]


def test_an_agent_not_in_shadow_is_still_refused(shadowed: Drawbridge) -> None:
    assert call(shadowed, ALICE, "delete_note", {"note_id": 5})["code"] == -32050
    [event] = tool_events(shadowed, "alice", "delete_note")
    assert event["verdict"] == "deny" and "would_deny" not in event


def test_content_refusals_are_waived_too_with_their_findings(shadowed: Drawbridge) -> None:
    secret = "ghp_R8dUv3xW1qL9zT6yK2mN5pB7cF4hJ0sA1eG3"
    assert "Paris" in call(shadowed, MALLORY, "get_weather", {"city": f"Paris {secret}"})["text"]
    [event] = tool_events(shadowed, "mallory", "get_weather")
    assert event["would_deny"]["check"] == "content"
    assert any(f["detector"].startswith("secrets.") for f in event["findings"])
    assert secret not in shadowed.audit_path.read_text()


def test_a_quarantine_still_holds_for_an_agent_in_shadow(shadowed: Drawbridge) -> None:
    """A read-only quarantine refuses a call that shadow lets past the policy (each test its own tool)."""
    done = shadowed.cli("quarantine", "agent", "agent-m", "--mode", "read-only", "--reason", "IR", "--ticket", "IR-7")
    assert done.returncode == 0, done.stderr
    try:
        assert eventually(lambda: call(shadowed, MALLORY, "send_email", {"to": "a@example.com", "subject": "s",
                                                                          "body": "b"}).get("code") == -32053)
        assert not call(shadowed, MALLORY, "search_notes", {"query": "offsite"})["is_error"]  # read-only tools pass
    finally:
        assert shadowed.cli("release", "agent", "agent-m", "--reason", "done").returncode == 0
    refused = tool_events(shadowed, "mallory", "send_email")[-1]
    assert refused["verdict"] == "deny" and refused["check"] == "containment" and "would_deny" not in refused


def test_a_candidate_policys_differences_are_audited_per_call(demo_server: str, tmp_path: Path) -> None:
    policy = policy_copy(tmp_path / "policy")
    candidate = policy_copy(tmp_path / "candidate")
    (candidate / "20-candidate.yaml").write_text(CANDIDATE_RULES)
    with run_drawbridge(tmp_path, {"default": demo_server}, policy=policy,
                        extra={"identity": IDENTITY, "shadow_policy": str(candidate)}) as proxy:
        assert call(proxy, ALICE, "delete_note", {"note_id": 6})["code"] == -32050  # the policy in force decides
        assert "Oslo" in call(proxy, ALICE, "get_weather", {"city": "Oslo"})["text"]
        assert call(proxy, MALLORY, "delete_note", {"note_id": 7})["code"] == -32050
        [differs] = tool_events(proxy, "alice", "delete_note")
        assert differs["verdict"] == "deny" and differs["rule_ids"] == ["default-deny"]
        assert differs["shadow_policy"] == {"version": differs["shadow_policy"]["version"], "verdict": "allow",
                                            "rule_ids": ["alice-may-delete"], "reason": None}
        assert differs["shadow_policy"]["version"] != differs["policy_version"]
        assert "shadow_policy" not in tool_events(proxy, "alice", "get_weather")[0]
        assert "shadow_policy" not in tool_events(proxy, "mallory", "delete_note")[0]

        (candidate / "20-candidate.yaml").write_text("rules: [not a rule\n")  # hot reload: refused, old one stays
        assert eventually(lambda: any(e.get("candidate") and not e["ok"] for e in proxy.events("policy_reload")))
        assert call(proxy, ALICE, "delete_note", {"note_id": 8})["code"] == -32050
        assert tool_events(proxy, "alice", "delete_note")[-1]["shadow_policy"]["verdict"] == "allow"


def test_a_bad_candidate_is_refused_at_start(demo_server: str, tmp_path: Path) -> None:
    candidate = policy_copy(tmp_path / "candidate")
    (candidate / "20-candidate.yaml").write_text("rules:\n  - {id: x, effect: allow, methods: [ping]}\n")
    with pytest.raises(RuntimeError, match=r"candidate policy: .*20-candidate\.yaml"), run_drawbridge(
            tmp_path, {"default": demo_server}, extra={"shadow_policy": str(candidate)}):
        pass


def test_every_worker_evaluates_and_reloads_the_candidate(demo_server: str, tmp_path: Path) -> None:
    """serve --workers 2: each worker holds the candidate, audits its differences and reloads it on change."""
    policy = policy_copy(tmp_path / "policy")
    candidate = policy_copy(tmp_path / "candidate")
    (candidate / "20-candidate.yaml").write_text(CANDIDATE_RULES)
    with run_drawbridge(tmp_path, {"default": demo_server}, policy=policy,
                        extra={"identity": IDENTITY, "shadow_policy": str(candidate), "workers": 2}) as proxy:
        files = [proxy.audit_path, proxy.audit_path.with_name(f"{proxy.audit_path.stem}.worker-1.jsonl")]
        url = proxy.mcp_url()
        session = open_session(url, ALICE)

        def refused_calls() -> list[dict[str, Any]]:
            return [e for path in files for e in audit_events(path) if e["tool"] == "delete_note"]

        def both_workers_refuse(after: set[str]) -> bool:
            """One more call (a new connection each); have calls since `after` landed on both workers?"""
            assert error_code(call_tool(url, session, "delete_note", {"note_id": 9})) == -32050
            return len({e["replica_id"] for e in refused_calls() if e["event_id"] not in after}) == 2

        assert eventually(lambda: both_workers_refuse(set()), 30)
        assert all(e["shadow_policy"]["verdict"] == "allow" for e in refused_calls())
        (candidate / "20-candidate.yaml").write_text(CANDIDATE_RULES.replace("alice", "nobody"))
        assert eventually(lambda: len({e["replica_id"] for path in files for e in audit_events(path, "policy_reload")
                                       if e.get("candidate") and e["ok"]}) == 2)
        before = {e["event_id"] for e in refused_calls()}
        assert eventually(lambda: both_workers_refuse(before), 30)
        assert not any("shadow_policy" in e for e in refused_calls() if e["event_id"] not in before)  # agrees now
