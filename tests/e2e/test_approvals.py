"""Human approval of sensitive calls, end to end: the official SDK client's call is held, a responder decides
out of band (CLI or admin API, on any replica), and the call completes or fails with a clear error."""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import mcp_types as types
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

from proxy.canonical import canonical_sha256
from proxy.testing import write_policy
from tests.e2e.conftest import AUTH, IDENTITY
from tests.support.drawbridge import ADMIN_TOKEN, Drawbridge, run_drawbridge
from tests.support.mcp_http import open_session
from tests.support.redis_server import RedisServer
from tests.support.sdk import sdk_client
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
ADMIN = {"authorization": f"Bearer {ADMIN_TOKEN}"}
NOT_GRANTED = -32055
RESPONDER = "env-token"  # the admin token's label (from DRAWBRIDGE_ADMIN_TOKEN)
POLICY = """
version: 1
settings:
  approval: {{timeout_seconds: {timeout}}}
rules:
  - id: permit-all-to-server
    effect: permit
    methods: ["*"]
  - id: permit-all-to-client
    effect: permit
    direction: to_client
    methods: ["*"]
  - id: weather-needs-a-human
    effect: permit
    methods: [tools/call]
    names: [get_weather, search_notes]
    approval: required
"""


def approval_policy(tmp: Path, timeout: float = 30) -> Path:
    return write_policy(tmp / f"policy-{timeout:g}", POLICY.format(timeout=timeout)).parent


@pytest.fixture
def proxy(demo_server: str, tmp_path: Path) -> Iterator[Drawbridge]:
    with run_drawbridge(tmp_path, {"default": demo_server}, policy=approval_policy(tmp_path),
                        extra={"identity": IDENTITY}, admin=True) as running:
        yield running


def call_weather(url: str, city: str, *, mode: str = "legacy") -> str:
    """The SDK client's get_weather (blocks while the call is held): its text, or `error <code>: <message>`."""

    async def call() -> str:
        async with sdk_client(url, mode=mode, headers=AUTH, read_timeout=60) as client:
            try:
                result = await client.call_tool("get_weather", {"city": city})
            except MCPError as exc:
                return f"error {exc.error.code}: {exc.error.message}"
        return "".join(getattr(c, "text", "") for c in result.content)

    return anyio.run(call)


def held(proxy: Drawbridge) -> list[dict[str, Any]]:
    answer = httpx.get(f"{proxy.admin_url}/v1/approvals", headers=ADMIN, timeout=5)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["approvals"])


def one_held(proxy: Drawbridge) -> dict[str, Any]:
    assert eventually(lambda: len(held(proxy)) == 1, 20), "no call was held for approval"
    return held(proxy)[0]


def decide(proxy: Drawbridge, approval_id: str, verb: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{proxy.admin_url}/v1/approvals/{approval_id}/{verb}", headers=ADMIN, timeout=5,
                      json={"reason": "checked with the user", **body})


def approval_events(proxy: Drawbridge, approval_id: str) -> list[dict[str, Any]]:
    return [e for e in proxy.events("approval") if e.get("approval_id") == approval_id]


def test_a_held_call_waits_is_approved_with_the_cli_and_completes(proxy: Drawbridge) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(call_weather, proxy.mcp_url(), "Oslo")
        request = one_held(proxy)
        assert not pending.done()  # it waits for a human
        assert (request["tool"], request["principal"], request["agent"]) == ("get_weather", "alice", "agent-a")
        assert request["arguments"] == {"city": "Oslo"}
        assert request["arguments_sha256"] == canonical_sha256({"city": "Oslo"})
        assert request["rule_id"] == "weather-needs-a-human"
        listed = proxy.cli("approvals", "list")
        assert listed.returncode == 0 and request["id"] in listed.stdout and "get_weather" in listed.stdout
        done = proxy.cli("approvals", "approve", request["id"], "--reason", "user confirmed on the phone",
                         "--arguments-sha256", request["arguments_sha256"])
        assert done.returncode == 0, done.stderr
        assert f"APPROVED {request['id']}" in done.stdout
        text = pending.result(timeout=30)
    assert "Oslo" in text and not text.startswith("error")
    steps = approval_events(proxy, request["id"])
    assert [e["action"] for e in steps] == ["requested", "approved"]
    assert steps[1]["actor"] == RESPONDER and steps[1]["reason"] == "user confirmed on the phone"
    call = next(e for e in proxy.events() if e["tool"] == "get_weather" and e["direction"] == "to_server")
    assert call["verdict"] == "allow" and call["approval"]["id"] == request["id"]
    assert call["approval"]["status"] == "approved"
    assert sorted(call["rule_ids"]) == ["permit-all-to-server", "weather-needs-a-human"]  # each named once
    assert held(proxy) == []


def test_a_denied_call_fails_with_a_clear_error_and_a_replayed_decision_is_refused(proxy: Drawbridge) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(call_weather, proxy.mcp_url(), "Bergen")
        request = one_held(proxy)
        denied = decide(proxy, request["id"], "deny")
        assert denied.status_code == 200 and denied.json()["approval"]["status"] == "denied"
        text = pending.result(timeout=30)
    assert text.startswith(f"error {NOT_GRANTED}") and request["id"] in text and "denied" in text
    again = decide(proxy, request["id"], "approve")
    assert again.status_code in (404, 409)  # used: a decision cannot be replayed for another call
    call = next(e for e in proxy.events() if e["tool"] == "get_weather" and e["direction"] == "to_server")
    assert call["verdict"] == "deny" and call["check"] == "approval" and call["error_code"] == NOT_GRANTED
    assert sorted(call["rule_ids"]) == ["permit-all-to-server", "weather-needs-a-human"]


def test_an_approval_for_other_arguments_is_refused_and_audited(proxy: Drawbridge) -> None:
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(call_weather, proxy.mcp_url(), "Tromsø")
        request = one_held(proxy)
        other = canonical_sha256({"city": "Pyongyang"})
        refused = decide(proxy, request["id"], "approve", arguments_sha256=other)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "arguments_mismatch"
        assert not pending.done()  # still held: the right approver can still decide
        assert decide(proxy, request["id"], "approve",
                      arguments_sha256=request["arguments_sha256"]).status_code == 200
        assert "Tromsø" in pending.result(timeout=30)
    steps = approval_events(proxy, request["id"])
    assert [e["action"] for e in steps] == ["requested", "refused", "approved"]
    assert steps[1]["refusal"] == "arguments_mismatch" and steps[1]["offered_sha256"] == other


def test_an_undecided_call_expires_with_an_error_naming_the_approval(demo_server: str, tmp_path: Path) -> None:
    with run_drawbridge(tmp_path, {"default": demo_server}, policy=approval_policy(tmp_path, timeout=1.5),
                        extra={"identity": IDENTITY}, admin=True) as proxy:
        text = call_weather(proxy.mcp_url(), "Bodø")
        assert text.startswith(f"error {NOT_GRANTED}") and "expired" in text
        approval_id = text.split("approval ", 1)[1].split()[0]
        assert [e["action"] for e in approval_events(proxy, approval_id)] == ["requested", "expired"]
        late = decide(proxy, approval_id, "approve")
        assert late.status_code == 404  # nothing left to approve


def test_a_call_held_on_one_replica_is_approved_through_another(demo_server: str, tmp_path: Path,
                                                                own_redis: RedisServer) -> None:
    extra = {"identity": IDENTITY, "store": own_redis.url}
    policy = approval_policy(tmp_path)
    with run_drawbridge(tmp_path, {"default": demo_server}, policy=policy, extra=extra, admin=True) as a, \
            run_drawbridge(tmp_path, {"default": demo_server}, policy=policy, extra=extra, admin=True) as b, \
            concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(call_weather, a.mcp_url(), "Narvik")
        request = one_held(b)  # B sees what A holds
        done = b.cli("approvals", "approve", request["id"], "--reason", "approved from replica B")
        assert done.returncode == 0, done.stderr
        assert "Narvik" in pending.result(timeout=30)
    assert [e["action"] for e in approval_events(a, request["id"])] == ["requested"]
    assert [e["action"] for e in approval_events(b, request["id"])] == ["approved"]


def test_only_configured_approvers_may_decide(demo_server: str, tmp_path: Path) -> None:
    policy = write_policy(tmp_path / "strict", POLICY.format(timeout=6).replace(
        "approval: {timeout_seconds: 6}", "approval: {timeout_seconds: 6, approvers: [oncall-*]}")).parent
    with run_drawbridge(tmp_path, {"default": demo_server}, policy=policy, extra={"identity": IDENTITY},
                        admin=True) as proxy, concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(call_weather, proxy.mcp_url(), "Alta")
        request = one_held(proxy)
        refused = decide(proxy, request["id"], "approve")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "not_an_approver"
        assert decide(proxy, request["id"], "deny").status_code == 403
        assert [e.get("actor") for e in approval_events(proxy, request["id"])][1:] == [RESPONDER] * 2
        pending.cancel()
        assert pending.result(timeout=40).startswith(f"error {NOT_GRANTED}")  # expires undecided


# -- 2026-07-28 agents that support elicitation: asked in their own UI --------------------------------------
STATE_KEY = "k" * 48
MODERN = "2026-07-28"


@pytest.fixture
def modern_proxy(demo_server: str, tmp_path: Path) -> Iterator[Drawbridge]:
    with run_drawbridge(tmp_path, {"default": demo_server}, policy=approval_policy(tmp_path),
                        extra={"identity": IDENTITY, "approvals": {"state_key": {"env": "DRAWBRIDGE_APPROVAL_KEY"}}},
                        env={"DRAWBRIDGE_APPROVAL_KEY": STATE_KEY}, admin=True) as running:
        yield running


def test_a_modern_client_with_elicitation_is_asked_in_its_own_ui_and_completes(modern_proxy: Drawbridge) -> None:
    asked: list[str] = []

    async def user(context: Any, params: Any) -> types.ElicitResult:
        asked.append(params.message)
        return types.ElicitResult(action="accept", content={"approve": True})

    async def call() -> str:
        http = httpx2.AsyncClient(headers=AUTH, timeout=httpx2.Timeout(30))
        async with http, Client(streamable_http_client(modern_proxy.mcp_url(), http_client=http), mode=MODERN,
                                elicitation_callback=user) as client:
            result = await client.call_tool("get_weather", {"city": "Hammerfest"})
        return "".join(getattr(c, "text", "") for c in result.content)

    assert "Hammerfest" in anyio.run(call)
    assert len(asked) == 1 and "get_weather" in asked[0] and "Hammerfest" in asked[0]
    steps = modern_proxy.events("approval")
    assert [e["action"] for e in steps] == ["requested", "approved"]
    assert steps[1]["actor"] == "principal:alice" and steps[1]["channel"] == "elicitation"
    calls = [e for e in modern_proxy.events() if e["tool"] == "get_weather" and e["direction"] == "to_server"]
    assert [(e["verdict"], e["approval"]["status"]) for e in calls] == [("deny", "pending"), ("rewrite", "approved")]
    assert held(modern_proxy) == []


def raw_call(proxy: Drawbridge, city: str, tool: str = "get_weather", **extra: Any) -> dict[str, Any]:
    headers = {**AUTH, "accept": "application/json, text/event-stream", "mcp-protocol-version": MODERN,
               "mcp-method": "tools/call", "mcp-name": tool}
    params = {"name": tool, "arguments": {"city": city}, **extra,
              "_meta": {"io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
                        "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "1"},
                        "io.modelcontextprotocol/protocolVersion": MODERN}}
    answer = httpx.post(proxy.mcp_url(), headers=headers, timeout=15,
                        json={"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params})
    assert answer.status_code == 200, answer.text
    if answer.headers["content-type"].startswith("text/event-stream"):  # held: answered in a kept-alive stream
        return dict(json.loads(next(line[6:] for line in answer.text.splitlines() if line.startswith("data: {"))))
    return dict(answer.json())


def test_a_tampered_replayed_or_retargeted_request_state_is_refused(modern_proxy: Drawbridge) -> None:
    yes = {"drawbridge_approval": {"action": "accept", "content": {"approve": True}}}
    first = raw_call(modern_proxy, "Kirkenes")["result"]
    assert first["resultType"] == "input_required" and "drawbridge_approval" in first["inputRequests"]
    state: str = first["requestState"]
    tampered = state[:-3] + ("AAA" if not state.endswith("AAA") else "BBB")
    refused = raw_call(modern_proxy, "Kirkenes", requestState=tampered, inputResponses=yes)
    assert refused["error"]["code"] == NOT_GRANTED and "altered" in refused["error"]["message"]
    other = raw_call(modern_proxy, "Murmansk", requestState=state, inputResponses=yes)  # other arguments
    assert other["error"]["code"] == NOT_GRANTED and "other arguments" in other["error"]["message"]
    retargeted = raw_call(modern_proxy, "Kirkenes", tool="search_notes", requestState=state, inputResponses=yes)
    assert retargeted["error"]["code"] == NOT_GRANTED and "another tool" in retargeted["error"]["message"]
    done = raw_call(modern_proxy, "Kirkenes", requestState=state, inputResponses=yes)
    assert "Kirkenes" in str(done["result"]["content"])
    replay = raw_call(modern_proxy, "Kirkenes", requestState=state, inputResponses=yes)
    assert replay["error"]["code"] == NOT_GRANTED and "already used" in replay["error"]["message"]

    def refusals() -> int:
        return len([e for e in modern_proxy.events() if e["verdict"] == "deny"
                    and any(f["detector"] == "approval.invalid_state" for f in e["findings"])])

    assert eventually(lambda: refusals() == 4, 5), refusals()  # each refused retry: its own event and finding


def test_a_subject_quarantined_in_approval_mode_needs_a_human_for_every_tool_call(demo_server: str,
                                                                                    tmp_path: Path) -> None:
    with run_drawbridge(tmp_path, {"default": demo_server}, extra={"identity": IDENTITY}, admin=True) as proxy:
        assert call_weather(proxy.mcp_url(), "Oslo").startswith("Oslo:")  # no approval rule in permit-all
        contained = proxy.cli("quarantine", "principal", "alice", "--mode", "approval", "--reason", "recovering")
        assert contained.returncode == 0, contained.stderr
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(call_weather, proxy.mcp_url(), "Lillehammer")
            request = one_held(proxy)
            assert request["rule_id"] == "containment-approval"
            assert decide(proxy, request["id"], "approve").status_code == 200
            assert "Lillehammer" in pending.result(timeout=30)
        stepped = proxy.cli("release", "principal", "alice", "--to-mode", "monitor", "--reason", "earned it back")
        assert stepped.returncode == 0, stepped.stderr
        assert eventually(lambda: "Molde" in call_weather(proxy.mcp_url(), "Molde"), 10)  # no hold in monitor


def test_in_shadow_a_call_that_would_be_held_goes_through_and_is_audited_as_would_deny(
        demo_server: str, tmp_path: Path) -> None:
    policy = write_policy(tmp_path / "shadowed", POLICY.format(timeout=30).replace(
        "settings:\n", "settings:\n  shadow: {principals: [alice]}\n")).parent
    with run_drawbridge(tmp_path, {"default": demo_server}, policy=policy, extra={"identity": IDENTITY},
                        admin=True) as proxy:
        assert call_weather(proxy.mcp_url(), "Svalbard").startswith("Svalbard:")  # not held
        assert held(proxy) == [] and proxy.events("approval") == []
        call = next(e for e in proxy.events() if e["tool"] == "get_weather" and e["direction"] == "to_server")
        assert call["verdict"] == "allow" and call["would_deny"]["check"] == "approval"
        assert call["would_deny"]["rule_ids"] == ["weather-needs-a-human"]


def test_an_sse_answer_keeps_the_connection_alive_while_the_call_is_held(proxy: Drawbridge) -> None:
    session = open_session(proxy.mcp_url(), AUTH)
    call = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "get_weather",
                                                                         "arguments": {"city": "Mo i Rana"}}}
    with httpx.stream("POST", proxy.mcp_url(), json=call, headers=session, timeout=30) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")  # opened before any decision
        chunks = answer.iter_bytes()
        first = next(chunks)
        assert first.startswith(b": drawbridge: waiting for a decision")
        request = one_held(proxy)
        assert decide(proxy, request["id"], "approve").status_code == 200
        rest = b"".join(chunks).decode()
    events = [line.removeprefix("data: ") for line in rest.splitlines() if line.startswith("data: ")]
    answered = [json.loads(e) for e in events if e.startswith("{")]
    assert [m["id"] for m in answered] == [7] and "Mo i Rana" in json.dumps(answered[0]["result"])


def test_a_question_put_in_band_may_be_answered_by_a_responder_instead(modern_proxy: Drawbridge) -> None:
    first = raw_call(modern_proxy, "Vardø")["result"]
    request = one_held(modern_proxy)
    assert decide(modern_proxy, request["id"], "approve").status_code == 200
    done = raw_call(modern_proxy, "Vardø", requestState=first["requestState"], inputResponses={})
    assert "Vardø" in str(done["result"]["content"])
    call = [e for e in modern_proxy.events() if e["tool"] == "get_weather" and e["direction"] == "to_server"][-1]
    assert call["approval"] == {"id": request["id"], "status": "approved", "by": RESPONDER}


def test_a_contained_subject_is_never_asked_in_band(modern_proxy: Drawbridge) -> None:
    assert modern_proxy.cli("quarantine", "principal", "alice", "--mode", "approval", "--reason", "r").returncode == 0
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pending = pool.submit(raw_call, modern_proxy, "Oslo", "search_notes")
        request = one_held(modern_proxy)  # held for a responder, not answered input_required
        assert request["rule_id"] == "containment-approval"
        assert decide(modern_proxy, request["id"], "deny").status_code == 200
        answer = pending.result(timeout=30)
    assert answer["error"]["code"] == NOT_GRANTED and "denied" in answer["error"]["message"]
