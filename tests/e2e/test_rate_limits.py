"""A responder's rate limit (SEV-3's "rate-limit" response): set with the CLI on one replica, one token
bucket in the shared Redis for both, refused with a clear error and `Retry-After`, lifted at its TTL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from proxy.testing import write_policy
from tests.e2e.conftest import AUTH, IDENTITY, OTHER_KEY
from tests.support.drawbridge import ADMIN_TOKEN, Drawbridge, audit_events, run_drawbridge
from tests.support.mcp_http import call_tool, error_code, open_session, rpc
from tests.support.redis_server import RedisServer
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
RATE_LIMITED = -32054
CALLS = 3


@pytest.fixture
def replicas(demo_server: str, tmp_path: Path, own_redis: RedisServer) -> Iterator[tuple[Drawbridge, Drawbridge]]:
    extra = {"identity": IDENTITY, "store": own_redis.url}
    with run_drawbridge(tmp_path, {"default": demo_server}, extra=extra, admin=True) as a, \
            run_drawbridge(tmp_path, {"default": demo_server}, extra=extra, admin=True) as b:
        yield a, b


def limits_seen(proxy: Drawbridge) -> int:
    answer = httpx.get(f"{proxy.admin_url}/v1/rate-limits", headers={"authorization": f"Bearer {ADMIN_TOKEN}"},
                       timeout=5)
    return len(answer.json()["rate_limits"])


def test_a_rate_limit_set_with_the_cli_holds_on_both_replicas_and_lifts_at_its_ttl(
        replicas: tuple[Drawbridge, Drawbridge]) -> None:
    a, b = replicas
    done = a.cli("rate-limit", "add", "--principal", "alice", "--calls", str(CALLS), "--per", "1h",
                 "--tools", "get_*", "--ttl", "6s", "--reason", "burst of reads", "--ticket", "IR-7")
    assert done.returncode == 0, done.stderr
    assert "RATE LIMITED: 1" in done.stdout and f"{CALLS}/1h" in done.stdout
    assert eventually(lambda: limits_seen(a) == 1 and limits_seen(b) == 1, 10)

    sessions = {p.url: open_session(p.mcp_url(), AUTH) for p in (a, b)}
    answers = [call_tool(p.mcp_url(), sessions[p.url], "get_weather", {"city": f"c{n}"})
               for n, p in enumerate([a, b] * 3)]
    assert [error_code(x) for x in answers] == [None] * CALLS + [RATE_LIMITED] * 3  # one bucket for both
    refused = answers[-1]["error"]
    assert "rate limited (ticket IR-7)" in refused["message"]
    assert refused["data"]["retry_after_seconds"] > 0 and refused["data"]["rate_limit"].startswith("rl-")
    response, _ = rpc(b.mcp_url(), sessions[b.url], "tools/call", {"name": "get_weather", "arguments": {"city": "x"}})
    assert int(response.headers["retry-after"]) > 0

    assert "result" in call_tool(a.mcp_url(), sessions[a.url], "search_notes", {"query": "q"})  # not a get_* tool
    mallory = open_session(b.mcp_url(), {"x-api-key": OTHER_KEY})
    assert "result" in call_tool(b.mcp_url(), mallory, "get_weather", {"city": "y"})  # another principal

    assert eventually(lambda: error_code(call_tool(b.mcp_url(), sessions[b.url], "get_weather", {"city": "z"}))
                      is None, 15, interval=0.5)  # the TTL passed: lifted on both
    assert "result" in call_tool(a.mcp_url(), sessions[a.url], "get_weather", {"city": "z"})

    events = audit_events(a.audit_path) + audit_events(b.audit_path)
    limited = [e for e in events if e["check"] == "rate_limit"]
    assert limited and {e["replica_id"] for e in limited} == {a_id(a), a_id(b)}
    assert all(e["verdict"] == "deny" and "containment-rate-limit" in e["rule_ids"] for e in limited)
    actions = [e for e in audit_events(a.audit_path, "containment_action") if e["action"] == "rate_limit"]
    assert actions and actions[0]["calls"] == CALLS and actions[0]["ticket"] == "IR-7"


def a_id(proxy: Drawbridge) -> str:
    return str(audit_events(proxy.audit_path, "proxy_started")[0]["replica_id"])


def test_the_cli_refuses_an_ambiguous_limit(replicas: tuple[Drawbridge, Drawbridge]) -> None:
    a, _ = replicas
    done = a.cli("rate-limit", "add", "--calls", "3", "--reason", "r")
    assert done.returncode == 2
    assert "one of the arguments --principal --agent --upstream is required" in done.stderr


POLICY_LIMITS = """
settings:
  anonymous: true
  unknown_methods: policy
  rate_limits:
    - {id: weather-per-principal, per: principal, calls: 2, period_seconds: 3600, tools: ["get_*"]}
rules:
  - {id: permit-all-to-server, effect: permit, methods: ["*"]}
  - {id: permit-all-to-client, effect: permit, direction: to_client, methods: ["*"]}
"""


def test_a_policy_rate_limit_is_one_bucket_per_principal_for_every_replica(
        demo_server: str, tmp_path: Path, own_redis: RedisServer) -> None:
    policy = tmp_path / "policy"
    write_policy(policy, POLICY_LIMITS)
    extra = {"identity": IDENTITY, "store": own_redis.url}
    with run_drawbridge(tmp_path, {"default": demo_server}, policy=policy, extra=extra) as a, \
            run_drawbridge(tmp_path, {"default": demo_server}, policy=policy, extra=extra) as b:
        alice = {p.url: open_session(p.mcp_url(), AUTH) for p in (a, b)}
        codes = [error_code(call_tool(p.mcp_url(), alice[p.url], "get_weather", {"city": "x"})) for p in (a, b, a, b)]
        assert codes == [None, None, RATE_LIMITED, RATE_LIMITED]  # 2 calls an hour, wherever they land
        refused = call_tool(b.mcp_url(), alice[b.url], "get_weather", {"city": "y"})["error"]
        assert refused["data"]["rate_limit"] == "weather-per-principal"
        assert "weather-per-principal" in refused["data"]["rule_ids"]
        assert "result" in call_tool(a.mcp_url(), alice[a.url], "search_notes", {"query": "q"})  # other tools
        mallory = open_session(b.mcp_url(), {"x-api-key": OTHER_KEY})
        assert "result" in call_tool(b.mcp_url(), mallory, "get_weather", {"city": "z"})  # her own bucket
