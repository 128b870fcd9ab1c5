"""HTTP-level guarantees: identity, Host/Origin, limits, malformed input, upstream failures."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import AUTH
from tests.support.drawbridge import Drawbridge, run_drawbridge
from tests.support.scripted_upstream import Script, scripted_upstream

pytestmark = pytest.mark.e2e
ACCEPT = {"accept": "application/json, text/event-stream", "mcp-protocol-version": "2025-11-25"}
CALL = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "echo", "arguments": {"x": 1}}}


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def proxied(script: Script, tmp_path: Path) -> Iterator[Drawbridge]:
    with scripted_upstream(script) as url, run_drawbridge(
            tmp_path, {"default": url}, extra={"upstreams": [{"name": "default", "url": url, "timeout_seconds": 1.5,
                                                               "headers": {"x-upstream-key": {"env": "UP_KEY"}}}]},
            env={"UP_KEY": "upstream-secret"}) as proxy:
        yield proxy


def post(proxy: Drawbridge, body: object = CALL, headers: dict[str, str] | None = None,
         timeout: float = 10) -> httpx.Response:
    return httpx.post(proxy.mcp_url(), json=body, headers={**ACCEPT, **(headers or {})}, timeout=timeout)


def test_unauthenticated_request_gets_401_with_challenge(guarded: Drawbridge) -> None:
    missing = post(guarded)
    wrong = post(guarded, headers={"x-api-key": "nope"})
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert wrong.json()["error"]["code"] == -32070


def test_agent_credentials_never_reach_the_upstream(proxied: Drawbridge, script: Script) -> None:
    answer = post(proxied, headers={"authorization": "Bearer agent-token", "cookie": "sid=1", "x-api-key": "k"})
    assert answer.status_code == 401  # permit-all allows anonymous, but presented bad credentials are refused
    assert post(proxied).json()["result"]["content"][0]["text"] == "ok"
    seen = script.requests[-1].headers
    assert "authorization" not in seen and "cookie" not in seen and "x-api-key" not in seen
    assert seen["x-upstream-key"] == "upstream-secret"


@pytest.mark.parametrize(("headers", "status"), [({"host": "evil.example:80"}, 421),
                                                 ({"origin": "http://evil.example"}, 403)])
def test_dns_rebinding_protection(proxied: Drawbridge, script: Script, headers: dict[str, str], status: int) -> None:
    assert post(proxied, headers=headers).status_code == status
    assert script.requests == []


def test_malformed_json_is_a_parse_error_and_never_forwarded(proxied: Drawbridge, script: Script) -> None:
    answer = httpx.post(proxied.mcp_url(), content=b"{nope", headers={**ACCEPT, "content-type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == -32700
    invalid = post(proxied, body={"jsonrpc": "1.0", "id": 1, "method": "x"})
    assert invalid.json()["error"]["code"] == -32600
    assert script.requests == []


def test_size_and_depth_limits(proxied: Drawbridge, script: Script) -> None:
    big = httpx.post(proxied.mcp_url(), content=b'{"a":"' + b"x" * (5 << 20) + b'"}',
                     headers={**ACCEPT, "content-type": "application/json"}, timeout=20)
    nested: object = 1
    for _ in range(200):
        nested = [nested]
    deep = post(proxied, body={**CALL, "params": {"name": "echo", "arguments": {"n": nested}}})
    assert big.status_code == 413 and big.json()["error"]["code"] == -32052
    assert deep.json()["error"]["code"] == -32052
    assert script.requests == []


def test_unknown_methods_pass_only_when_policy_says_so(proxied: Drawbridge, script: Script) -> None:
    # permit-all sets unknown_methods: policy, so the call reaches the upstream
    answer = post(proxied, body={"jsonrpc": "2.0", "id": 3, "method": "vendor/custom"})
    assert "result" in answer.json()
    assert script.requests[-1].json["method"] == "vendor/custom"


def test_unknown_method_is_refused_by_default(guarded: Drawbridge) -> None:
    answer = post(guarded, body={"jsonrpc": "2.0", "id": 3, "method": "vendor/custom"}, headers=AUTH)
    assert answer.json()["error"]["code"] == -32601
    assert "unknown method" in answer.json()["error"]["message"]


@pytest.mark.parametrize(("mode", "code"), [("garbage", -32060), ("html", -32060)])
def test_upstream_garbage_becomes_a_clear_error(proxied: Drawbridge, script: Script, mode: str, code: int) -> None:
    script.mode = mode
    answer = post(proxied)
    assert answer.json()["error"]["code"] == code and answer.json()["id"] == 7
    denied = [e for e in proxied.events() if e["direction"] == "to_client" and e["verdict"] == "deny"]
    assert denied and denied[-1]["check"] == "upstream"


def test_slow_upstream_times_out_with_an_error(proxied: Drawbridge, script: Script) -> None:
    script.delay = 3.0
    answer = post(proxied)
    assert answer.status_code == 504 and answer.json()["error"]["code"] == -32061


def test_sse_answers_are_relayed_event_by_event(proxied: Drawbridge, script: Script) -> None:
    script.mode = "sse"
    arrivals = []
    with httpx.stream("POST", proxied.mcp_url(), json=CALL, headers=ACCEPT, timeout=10) as answer:
        for line in answer.iter_lines():
            if line.startswith("data:"):
                arrivals.append((time.monotonic(), line))
    assert len(arrivals) == 4
    # the first progress event arrived well before the last one: nothing was buffered whole
    assert arrivals[-1][0] - arrivals[0][0] > 0.3
    assert '"result"' in arrivals[-1][1]


@pytest.mark.parametrize("mode", ["huge_event", "bad_json_event"])
def test_bad_stream_events_are_never_forwarded(proxied: Drawbridge, script: Script, mode: str) -> None:
    script.mode = mode
    with httpx.stream("POST", proxied.mcp_url(), json=CALL, headers=ACCEPT, timeout=10) as answer:
        body = b"".join(answer.iter_bytes())
    assert b"xxxx" not in body and b"oops" not in body
    assert b"-32060" in body


def test_upstream_down_after_start_gives_an_error_not_a_hang(tmp_path: Path) -> None:
    upstream = scripted_upstream(Script())
    url = upstream.__enter__()
    try:
        with run_drawbridge(tmp_path, {"default": url}) as proxy:
            assert post(proxy).status_code == 200
            upstream.__exit__(None, None, None)
            gone = post(proxy)
            assert gone.status_code == 502 and gone.json()["error"]["code"] == -32060
            assert gone.json()["id"] == 7
    finally:
        upstream.__exit__(None, None, None)


def test_agent_disconnect_cancels_the_upstream_call(proxied: Drawbridge, script: Script) -> None:
    opened = post(proxied, body={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
    session = opened.headers["mcp-session-id"]
    script.delay = 4.0
    with pytest.raises(httpx.ReadTimeout):
        post(proxied, headers={"mcp-session-id": session}, timeout=0.5)
    deadline = time.monotonic() + 5
    cancels: list[object] = []
    while time.monotonic() < deadline and not cancels:
        cancels = [r for r in script.requests if r.body and r.json.get("method") == "notifications/cancelled"]
        time.sleep(0.05)
    assert cancels, "the upstream was not told that the agent went away"
    cancel = cancels[0]
    assert cancel.json["params"]["requestId"] == 7  # type: ignore[attr-defined]
    assert cancel.headers["mcp-session-id"] == session  # type: ignore[attr-defined]
